// One case per verifier and parser rule of the llm dialect.
// RUN: llmc-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// !llm.kv_cache
//===----------------------------------------------------------------------===//

// expected-error @+1 {{expected 4 dimensions (layers x max_seq x kv_heads x head_dim), got 3}}
func.func @kv_rank(%a: !llm.kv_cache<5x512x4, f32>)

// -----

// expected-error @+1 {{kv_cache dimensions must be positive, got 5x0x4x8}}
func.func @kv_zero(%a: !llm.kv_cache<5x0x4x8, f32>)

// -----

// expected-error @+1 {{kv_cache element type must be a float type or i8, got 'i32'}}
func.func @kv_elt(%a: !llm.kv_cache<5x512x4x8, i32>)

// -----

// expected-error @+1 {{expected static shape}}
func.func @kv_dynamic(%a: !llm.kv_cache<5x?x4x8, f32>)

// -----

// expected-error @+1 {{a shared (latent) kv_cache has no pending state}}
func.func @kv_shared_pending(%a: !llm.kv_cache<5x512x1x40, f32, pending = 64, shared>)

// -----

//===----------------------------------------------------------------------===//
// #llm.quant
//===----------------------------------------------------------------------===//

// expected-error @+1 {{quant bits must be in [2, 8], got 16}}
%0 = llm.param "w" {quant = #llm.quant<bits = 16, group = 0, scheme = symmetric, granularity = channel>} : tensor<4x4xi16>

// -----

// expected-error @+1 {{quant group must be non-negative, got -2}}
%0 = llm.param "w" {quant = #llm.quant<bits = 4, group = -2, scheme = symmetric, granularity = group>} : tensor<4x4xi4>

// -----

// expected-error @+1 {{quant granularity 'block' goes with the GGUF block schemes only (scheme symmetric, granularity block)}}
%0 = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = block>} : tensor<4x32xi4>

// -----

// expected-error @+1 {{quant granularity 'block' goes with the GGUF block schemes only (scheme gguf_q4_0, granularity group)}}
%0 = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = group>} : tensor<4x32xi4>

// -----

// expected-error @+1 {{scheme gguf_q8_0 requires bits = 8 and group = 32, got bits = 8 and group = 64}}
%0 = llm.param "w" {quant = #llm.quant<bits = 8, group = 64, scheme = gguf_q8_0, granularity = block>} : tensor<4x64xi8>

// -----

// expected-error @+1 {{quant granularity 'group' requires group >= 2, got 0}}
%0 = llm.param "w" {quant = #llm.quant<bits = 4, group = 0, scheme = asymmetric, granularity = group>} : tensor<4x32xi4>

// -----

// expected-error @+1 {{quant granularity 'channel' requires group = 0, got 32}}
%0 = llm.param "w" {quant = #llm.quant<bits = 8, group = 32, scheme = symmetric, granularity = channel>} : tensor<4x32xi8>

// -----

// expected-error @+2 {{expected ::mlir::llm::QuantScheme to be one of: symmetric, asymmetric, gguf_q8_0, gguf_q4_0, gguf_q4_1}}
// expected-error @+1 {{failed to parse LLM_QuantAttr parameter 'scheme'}}
%0 = llm.param "w" {quant = #llm.quant<bits = 8, group = 0, scheme = nf4, granularity = channel>} : tensor<4x32xi8>

// -----

//===----------------------------------------------------------------------===//
// #llm.placement
//===----------------------------------------------------------------------===//

// expected-error @+1 {{placement needs one tier per expert, got none}}
func.func @placement_empty() attributes {p = #llm.placement<[]>}

// -----

// expected-error @+1 {{unknown placement tier 'disk' (expected device, host or storage)}}
func.func @placement_tier() attributes {p = #llm.placement<[device, disk]>}

// -----

//===----------------------------------------------------------------------===//
// #llm.rope_scaling
//===----------------------------------------------------------------------===//

// expected-error @+1 {{unknown rope scaling 'dynamic' (expected linear, llama3, longrope or yarn)}}
func.func @rope_kind() attributes {s = #llm.rope_scaling<dynamic, factor = 4.0>}

// -----

// expected-error @+1 {{rope scaling factor must be positive, got 0}}
func.func @rope_factor() attributes {s = #llm.rope_scaling<linear, factor = 0.0>}

// -----

// expected-error @+1 {{linear rope scaling takes only 'factor'}}
func.func @rope_linear_extra() attributes {s = #llm.rope_scaling<linear, factor = 2.0, low_freq_factor = 1.0>}

// -----

// expected-error @+1 {{llama3 rope scaling requires 0 < low_freq_factor < high_freq_factor, got 4 and 1}}
func.func @rope_llama3_band() attributes {s = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 4.0, high_freq_factor = 1.0, original_max_positions = 8192>}

// -----

// expected-error @+1 {{llama3 rope scaling requires original_max_positions > 0, got 0}}
func.func @rope_llama3_orig() attributes {s = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0>}

// -----

// expected-error @+1 {{unknown rope scaling parameter 'beta'}}
func.func @rope_param() attributes {s = #llm.rope_scaling<linear, beta = 2.0>}

// -----

// expected-error @+1 {{duplicate rope scaling parameter 'factor'}}
func.func @rope_dup() attributes {s = #llm.rope_scaling<linear, factor = 2.0, factor = 3.0>}

// -----

//===----------------------------------------------------------------------===//
// llm.param
//===----------------------------------------------------------------------===//

// expected-error @+1 {{weight name must not be empty}}
%0 = llm.param "" : tensor<4xf32>

// -----

// expected-error @+1 {{weight 'w' must have a static shape, got 'tensor<?x4xf32>'}}
%0 = llm.param "w" : tensor<?x4xf32>

// -----

// expected-error @+1 {{quantized weight 'w' ('tensor<4x32xi8>') must have element type i4}}
%0 = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x32xi8>

// -----

// expected-error @+1 {{quantized weight 'w' ('tensor<4x48xi4>') last dimension must be a multiple of the group size 32}}
%0 = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x48xi4>

// -----

// expected-error @+1 {{invalid kind of type specified: expected builtin.tensor, but found 'tensor<*xf32>'}}
%0 = llm.param "w" : tensor<*xf32>

// -----

//===----------------------------------------------------------------------===//
// llm.embedding
//===----------------------------------------------------------------------===//

func.func @embedding_table(%t: tensor<512xf32>, %tok: tensor<?xi32>) {
  // expected-error @+1 {{'table' must be [vocab, dim], got 'tensor<512xf32>'}}
  %0 = llm.embedding %t[%tok] : tensor<512xf32>, tensor<?xi32> -> tensor<?xf32>
  return
}

// -----

func.func @embedding_result(%t: tensor<512x64xf32>, %tok: tensor<?xi32>) {
  // expected-error @+1 {{result ('tensor<?x32xf32>') must be the 'tokens' shape ('tensor<?xi32>') followed by the 'table' row size ('tensor<512x64xf32>')}}
  %0 = llm.embedding %t[%tok] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x32xf32>
  return
}

// -----

func.func @embedding_tokens(%t: tensor<512x64xf32>, %tok: tensor<?xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = llm.embedding %t[%tok] : tensor<512x64xf32>, tensor<?xf32> -> tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

func.func @rms_rank(%x: tensor<f32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'input' must have rank >= 1, got 'tensor<f32>'}}
  %0 = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<f32>, tensor<64xf32>
  return
}

// -----

func.func @rms_eps(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be positive and finite, got 0}}
  %0 = llm.rms_norm %x, %w {eps = 0.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

func.func @rms_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'weight' ('tensor<32xf32>') must be a vector of size 64 to match 'input' ('tensor<?x64xf32>')}}
  %0 = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @rms_offset_without_weight(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{weight_offset needs a weight and a finite value}}
  %0 = llm.rms_norm %x {eps = 1.0e-05 : f64, weight_offset = 1.0 : f64} : tensor<?x64xf32>
  return
}

// -----

func.func @transpose_shape(%w: tensor<64x32xf32>) {
  // expected-error @+1 {{result ('tensor<64x32xf32>') must be the 2-D input ('tensor<64x32xf32>') with its dimensions swapped}}
  %0 = llm.transpose %w : tensor<64x32xf32> -> tensor<64x32xf32>
  return
}

// -----

func.func @longrope_factors(%x: tensor<?x64xf32>, %p: index) {
  // expected-error @+1 {{longrope scaling has 2 factors, 8 rotary dims need 4}}
  %0 = llm.rope %x, %p style half {head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = #llm.rope_scaling<longrope, factor = 4.0, original_max_positions = 16, attention_factor = 1.2, short_factor = [1.0, 2.0], long_factor = [1.0, 3.0]>} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_rotary_dim(%x: tensor<?x64xf32>, %p: index) {
  // expected-error @+1 {{rotary_dim must be positive, even and at most head_dim 8, got 5}}
  %0 = llm.rope %x, %p style half {head_dim = 8 : i64, theta = 1.0e+04 : f64, rotary_dim = 5 : i64} : tensor<?x64xf32>
  return
}

// -----

func.func @softcap_zero(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{cap must be positive and finite, got 0}}
  %0 = llm.softcap %x {cap = 0.0 : f64} : tensor<?x64xf32>
  return
}

// -----

func.func @embedding_scale(%t: tensor<512x64xf32>, %ids: tensor<?xi32>) {
  // expected-error @+1 {{scale must be positive and finite, got -1}}
  %0 = llm.embedding %t[%ids] {scale = -1.0 : f64} : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return
}

// -----

func.func @add_rms_weight(%x: tensor<?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'weight' ('tensor<32xf32>') must be a vector of size 64 to match 'input' ('tensor<?x64xf32>')}}
  %0, %1 = llm.add_rms_norm %x, %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<32xf32>
  return
}

// -----

func.func @linear_residual(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>, %r: tensor<?x64xf32>) {
  // expected-error @+1 {{'residual' ('tensor<?x64xf32>') must have the result's type ('tensor<?x172xf32>')}}
  %0 = llm.linear %x, %w residual(%r : tensor<?x64xf32>) : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  return
}

// -----

func.func @scale_columns_size(%w: tensor<172x64xf32>, %g: tensor<172xf32>) {
  // expected-error @+1 {{'scale' ('tensor<172xf32>') must be a vector of the weight's 64 columns}}
  %0 = llm.scale_columns %w, %g : tensor<172x64xf32>, tensor<172xf32>
  return
}

// -----

func.func @layer_norm_bias(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %b: tensor<64x1xf32>) {
  // expected-error @+1 {{'bias' ('tensor<64x1xf32>') must be a vector of size 64 to match 'input' ('tensor<?x64xf32>')}}
  %0 = llm.layer_norm %x, %w, %b {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64x1xf32>
  return
}

// -----

func.func @rms_missing_eps(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{requires attribute 'eps'}}
  %0 = llm.rms_norm %x, %w : tensor<?x64xf32>, tensor<64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.linear / llm.qlinear
//===----------------------------------------------------------------------===//

func.func @linear_weight_rank(%x: tensor<?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'weight' must be [out, in], got 'tensor<64xf32>'}}
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<64xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_in(%x: tensor<?x64xf32>, %w: tensor<172x32xf32>) {
  // expected-error @+1 {{'weight' ('tensor<172x32xf32>') in-features 32 do not match the last dimension of 'input' ('tensor<?x64xf32>')}}
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x32xf32> -> tensor<?x172xf32>
  return
}

// -----

func.func @linear_bias(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'bias' ('tensor<64xf32>') must be a vector of size 172 to match 'weight' ('tensor<172x64xf32>')}}
  %0 = llm.linear %x, %w bias(%b : tensor<64xf32>) : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  return
}

// -----

func.func @linear_result(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>) {
  // expected-error @+1 {{result ('tensor<?x64xf32>') must have the input's leading dimensions and element type and last dimension 172 (input 'tensor<?x64xf32>')}}
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @linear_result_elt(%x: tensor<?x64xf32>, %w: tensor<172x64xf16>) {
  // expected-error @+1 {{result ('tensor<?x172xf16>') must have the input's leading dimensions and element type}}
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf16> -> tensor<?x172xf16>
  return
}

// -----

func.func @qlinear_elt(%x: tensor<?x64xf32>, %w: tensor<172x64xi8>, %s: tensor<172x2xf32>) {
  // expected-error @+1 {{'weight' ('tensor<172x64xi8>') must have element type i4 for #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi8> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_block_scales(%x: tensor<?x64xf32>, %w: tensor<172x64xi4>, %s: tensor<172x2xf32>) {
  // expected-error @+1 {{block scheme gguf_q4_0 stores scales inside the blocks: 'scales'/'zeros' operands are not allowed}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_block_size(%x: tensor<?x48xf32>, %w: tensor<172x48xi4>) {
  // expected-error @+1 {{'weight' ('tensor<172x48xi4>') last dimension must be a multiple of the block size 32}}
  %0 = llm.qlinear %x, %w {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x48xf32>, tensor<172x48xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_no_scales(%x: tensor<?x64xf32>, %w: tensor<172x64xi4>) {
  // expected-error @+1 {{scheme symmetric requires a 'scales' operand}}
  %0 = llm.qlinear %x, %w {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_scales_shape(%x: tensor<?x64xf32>, %w: tensor<172x64xi4>, %s: tensor<172x4xf32>) {
  // expected-error @+1 {{'scales' ('tensor<172x4xf32>') must have shape [172, 2] for 'weight' ('tensor<172x64xi4>') and #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x4xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_group(%x: tensor<?x48xf32>, %w: tensor<172x48xi4>, %s: tensor<172x2xf32>) {
  // expected-error @+1 {{'weight' ('tensor<172x48xi4>') last dimension must be a multiple of the group size 32}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x48xf32>, tensor<172x48xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_need_zeros(%x: tensor<?x64xf32>, %w: tensor<172x64xi4>, %s: tensor<172x2xf32>) {
  // expected-error @+1 {{scheme asymmetric requires a 'zeros' operand}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_no_zeros(%x: tensor<?x64xf32>, %w: tensor<172x64xi4>, %s: tensor<172x2xf32>, %z: tensor<172x2xi4>) {
  // expected-error @+1 {{scheme symmetric takes no 'zeros' operand}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x2xf32>) zeros(%z : tensor<172x2xi4>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  return
}

// -----

func.func @qlinear_zeros_shape(%x: tensor<?x64xf32>, %w: tensor<172x64xi4>, %s: tensor<172x2xf32>, %z: tensor<172x1xi4>) {
  // expected-error @+1 {{'zeros' ('tensor<172x1xi4>') must have the shape of 'scales' ('tensor<172x2xf32>')}}
  %0 = llm.qlinear %x, %w scales(%s : tensor<172x2xf32>) zeros(%z : tensor<172x1xi4>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.rope
//===----------------------------------------------------------------------===//

func.func @rope_rank(%x: tensor<?x8x8xf32>, %p: index) {
  // expected-error @+1 {{'input' must be [seq, heads * head_dim], got 'tensor<?x8x8xf32>'}}
  %0 = llm.rope %x, %p style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8x8xf32>
  return
}

// -----

func.func @rope_head_dim(%x: tensor<?x63xf32>, %p: index) {
  // expected-error @+1 {{head_dim must be positive and even, got 7}}
  %0 = llm.rope %x, %p style interleaved {head_dim = 7 : i64, theta = 1.0e+04 : f64} : tensor<?x63xf32>
  return
}

// -----

func.func @rope_features(%x: tensor<?x60xf32>, %p: index) {
  // expected-error @+1 {{'input' ('tensor<?x60xf32>') feature dimension must be a static multiple of head_dim 8}}
  %0 = llm.rope %x, %p style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x60xf32>
  return
}

// -----

func.func @rope_theta(%x: tensor<?x64xf32>, %p: index) {
  // expected-error @+1 {{theta must be finite and > 1, got 1}}
  %0 = llm.rope %x, %p style interleaved {head_dim = 8 : i64, theta = 1.0 : f64} : tensor<?x64xf32>
  return
}

// -----

func.func @rope_style(%x: tensor<?x64xf32>, %p: index) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'style' [interleaved, half]}}
  %0 = llm.rope %x, %p style neox {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.attention
//===----------------------------------------------------------------------===//

func.func @attn_rank(%q: tensor<?x8x8xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{'query' and 'key' must be [seq, heads * head_dim], got 'tensor<?x8x8xf32>' and 'tensor<?x32xf32>'}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x8x8xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_heads(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{num_heads and num_kv_heads must be positive, got 0 and 4}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 0 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_gqa(%q: tensor<?x48xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{num_heads (6) must be a multiple of num_kv_heads (4)}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 6 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x48xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_softcap(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{logit_softcap must be positive and finite, got -2}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, logit_softcap = -2.0 : f64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_cache_heads(%q: tensor<?x64xf32>, %k: tensor<?x16xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{num_kv_heads (2) does not match the cache ('!llm.kv_cache<5x512x4x8, f32>')}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 2 : i64, causal} : tensor<?x64xf32>, tensor<?x16xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_q_features(%q: tensor<?x128xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{'query' ('tensor<?x128xf32>') must have num_heads * head_dim = 8 * 8 features (head_dim from the cache '!llm.kv_cache<5x512x4x8, f32>')}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x128xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_k_features(%q: tensor<?x64xf32>, %k: tensor<?x64xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{'key' ('tensor<?x64xf32>') must have num_kv_heads * head_dim = 4 * 8 features}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_seq(%q: tensor<3x64xf32>, %k: tensor<2x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{'query' ('tensor<3x64xf32>') and 'key' ('tensor<2x32xf32>') must have the same number of tokens}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<3x64xf32>, tensor<2x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_overflow(%q: tensor<600x64xf32>, %k: tensor<600x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{'query' ('tensor<600x64xf32>') has more tokens than the cache holds ('!llm.kv_cache<5x512x4x8, f32>')}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<600x64xf32>, tensor<600x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_elt(%q: tensor<?x64xf32>, %k: tensor<?x32xf16>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{'query' ('tensor<?x64xf32>') and 'key' ('tensor<?x32xf16>') must have the same element type}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf16>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_cache_elt(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f16>) {
  // expected-error @+1 {{float cache ('!llm.kv_cache<5x512x4x8, f16>') must have the element type of 'query' ('tensor<?x64xf32>')}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f16>
  return
}

// -----

func.func @attn_layer(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{layer 5 is out of range for the cache ('!llm.kv_cache<5x512x4x8, f32>')}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 5 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_scale(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{scale must be positive, got -1}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, scale = -1.0 : f64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_window(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{sliding_window must be positive, got 0}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, sliding_window = 0 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_window_causal(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{sliding_window requires causal attention}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, sliding_window = 64 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @attn_kv_types(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<4x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{failed to verify that all of {key, value} have same type}}
  %o, %c = "llm.attention"(%q, %k, %v, %kv, %p) {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : (tensor<?x64xf32>, tensor<?x32xf32>, tensor<4x32xf32>, !llm.kv_cache<5x512x4x8, f32>, index) -> (tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32>)
  return
}

// -----

func.func @attn_missing_layer(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %p: index, %kv: !llm.kv_cache<5x512x4x8, f32>) {
  // expected-error @+1 {{requires attribute 'layer'}}
  %o, %c = llm.attention %q, %k, %k, %kv[%p] {num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Activations and elementwise
//===----------------------------------------------------------------------===//

func.func @swiglu_types(%g: tensor<?x172xf32>, %u: tensor<?x64xf32>) {
  // expected-error @+1 {{'gate' ('tensor<?x172xf32>'), 'up' ('tensor<?x64xf32>') and result ('tensor<?x172xf32>') must have the same type}}
  %0 = llm.swiglu %g, %u : tensor<?x172xf32>, tensor<?x64xf32> -> tensor<?x172xf32>
  return
}

// -----

func.func @swiglu_odd(%g: tensor<?x171xf32>) {
  // expected-error @+1 {{fused gate/up input ('tensor<?x171xf32>') must have a static, even last dimension}}
  %0 = llm.swiglu %g : tensor<?x171xf32> -> tensor<?x85xf32>
  return
}

// -----

func.func @swiglu_fused_result(%g: tensor<?x344xf32>) {
  // expected-error @+1 {{result ('tensor<?x344xf32>') must have half the last dimension of the fused input ('tensor<?x344xf32>')}}
  %0 = llm.swiglu %g : tensor<?x344xf32> -> tensor<?x344xf32>
  return
}

// -----

func.func @softmax_axis(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{axis 2 is out of range for 'tensor<?x64xf32>'}}
  %0 = llm.softmax %x {axis = 2 : i64} : tensor<?x64xf32>
  return
}

// -----

func.func @add_int(%x: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %0 = llm.add %x, %x : tensor<4xi32>
  return
}

// -----

func.func @gelu_approx(%x: tensor<4xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'approximate' [none, tanh]}}
  %0 = llm.gelu %x approximate sigmoid : tensor<4xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.moe
//===----------------------------------------------------------------------===//

func.func @moe_static(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{'router' must have a static shape, got 'tensor<?x64xf32>'}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<?x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_router(%x: tensor<?x64xf32>, %r: tensor<8x32xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{'router' ('tensor<8x32xf32>') must be [experts, 64] for 'input' ('tensor<?x64xf32>')}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x32xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_gate(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<4x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{'gate_weights' ('tensor<4x172x64xf32>') must be [8, hidden, 64] to match 'router' ('tensor<8x64xf32>')}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<4x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_down(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x172x64xf32>) {
  // expected-error @+1 {{'down_weights' ('tensor<8x172x64xf32>') must be [8, 64, 172] to match 'gate_weights' ('tensor<8x172x64xf32>')}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x172x64xf32>
  return
}

// -----

func.func @moe_topk(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{top_k must be in [1, 8], got 9}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 9 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_placement(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{placement has 2 tiers for 8 experts}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64, placement = #llm.placement<[device, host]>} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_shared_shape(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>, %sg: tensor<128x64xf32>, %sd: tensor<64x96xf32>) {
  // expected-error @+1 {{shared expert down weights ('tensor<64x96xf32>') must be [64, 128]}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk shared(%sg, %sg, %sd : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x96xf32>) {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_shared_up(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>, %sg: tensor<128x64xf32>, %su: tensor<96x64xf32>, %sd: tensor<64x128xf32>) {
  // expected-error @+1 {{shared expert gate/up weights must both be [shared_hidden, 64], got 'tensor<128x64xf32>' and 'tensor<96x64xf32>'}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk shared(%sg, %su, %sd : tensor<128x64xf32>, tensor<96x64xf32>, tensor<64x128xf32>) {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_shared_scale(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>, %sg: tensor<128x64xf32>, %sd: tensor<64x128xf32>, %ss: tensor<2x64xf32>) {
  // expected-error @+1 {{'shared_scale' ('tensor<2x64xf32>') must be [1, 64]}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk shared(%sg, %sg, %sd : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) shared_scale(%ss : tensor<2x64xf32>) {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_scale_alone(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>, %ss: tensor<1x64xf32>) {
  // expected-error @+1 {{'shared_scale' needs a shared expert}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk shared_scale(%ss : tensor<1x64xf32>) {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_int_experts(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x96x64xi4>, %wd: tensor<8x64x96xi4>) {
  // expected-error @+1 {{integer expert weights need expert_quant}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x96x64xi4>, tensor<8x64x96xi4>
  return
}

// -----

func.func @moe_quant_bits(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x96x64xi8>, %wd: tensor<8x64x96xi8>) {
  // expected-error @+1 {{quantized gate experts must be i4 with rows of whole 32-element blocks, got 'tensor<8x96x64xi8>'}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64, expert_quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x96x64xi8>, tensor<8x64x96xi8>
  return
}

// -----

func.func @moe_quant_scheme(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x96x64xi4>, %wd: tensor<8x64x96xi4>) {
  // expected-error @+1 {{gate experts' format must be a GGUF block scheme (q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_k .. q6_k)}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64, expert_quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x96x64xi4>, tensor<8x64x96xi4>
  return
}

// -----

// down_quant is the down projection's format: Q6_K's 6-bit elements in
// super-blocks of 256, which a 96-wide row does not hold.
func.func @moe_down_quant(%x: tensor<?x256xf32>, %r: tensor<8x256xf32>, %wg: tensor<8x96x256xi4>, %wd: tensor<8x256x96xi6>) {
  // expected-error @+1 {{quantized down experts must be i6 with rows of whole 256-element blocks, got 'tensor<8x256x96xi6>'}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64, expert_quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>, down_quant = #llm.quant<bits = 6, group = 256, scheme = gguf_q6_k, granularity = block>} : tensor<?x256xf32>, tensor<8x256xf32>, tensor<8x96x256xi4>, tensor<8x256x96xi6>
  return
}

// -----

func.func @moe_down_quant_alone(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x96x64xf32>, %wd: tensor<8x64x96xf32>) {
  // expected-error @+1 {{down_quant needs expert_quant}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing topk_softmax {top_k = 2 : i64, down_quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x96x64xf32>, tensor<8x64x96xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// Pending state (early exit's recompute policy)
//===----------------------------------------------------------------------===//

// expected-error @+1 {{a kv_cache with a pending state must be f32, got 'i8'}}
func.func @pending_i8(%a: !llm.kv_cache<5x512x4x8, i8, pending = 64>)

// -----

// expected-error @+1 {{a kv_cache with a pending state needs max_seq >= layers (one counter per layer), got 4 < 5}}
func.func @pending_short(%a: !llm.kv_cache<5x4x4x8, f32, pending = 64>)

// -----

// expected-error @+1 {{kv_cache pending state width must be >= 0, got -1}}
func.func @pending_negative(%a: !llm.kv_cache<5x512x4x8, f32, pending = -1>)

// -----

func.func @filled_no_state(%kv: !llm.kv_cache<5x512x4x8, f32>, %pos: index) {
  // expected-error @+1 {{needs a cache with a pending state, got '!llm.kv_cache<5x512x4x8, f32>'}}
  %f = llm.cache_filled %kv[%pos] {layer = 3 : i64} : !llm.kv_cache<5x512x4x8, f32>
  return
}

// -----

func.func @filled_layer(%kv: !llm.kv_cache<5x512x4x8, f32, pending = 64>, %pos: index) {
  // expected-error @+1 {{layer 5 is out of range [0, 5)}}
  %f = llm.cache_filled %kv[%pos] {layer = 5 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
  return
}

// -----

func.func @stash_width(%x: tensor<?x32xf32>, %kv: !llm.kv_cache<5x512x4x8, f32, pending = 64>, %pos: index) {
  // expected-error @+1 {{rows must be f32 [tokens, 64], got 'tensor<?x32xf32>'}}
  %kv1 = llm.cache_stash %x, %kv[%pos] : tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64>
  return
}

// -----

func.func @pending_result(%x: tensor<1x64xf32>, %kv: !llm.kv_cache<5x512x4x8, f32, pending = 64>, %pos: index) {
  // expected-error @+1 {{result must be f32 [?, 64], got 'tensor<1x64xf32>'}}
  %b = llm.cache_pending %x, %kv[%pos, %pos] : tensor<1x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64> -> tensor<1x64xf32>
  return
}

// -----

func.func @mark_layer(%kv: !llm.kv_cache<5x512x4x8, f32, pending = 64>, %pos: index) {
  // expected-error @+1 {{layer -1 is out of range [0, 5)}}
  %kv1 = llm.cache_mark %kv[%pos, %pos] {layer = -1 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.exit
//===----------------------------------------------------------------------===//

func.func @exit_classifier(%h: tensor<?x64xf32>, %n: tensor<64xf32>, %c: tensor<512x32xf32>) {
  // expected-error @+1 {{'weight' ('tensor<512x32xf32>') in-features 32 do not match the last dimension of 'input' ('tensor<?x64xf32>')}}
  %l, %e = llm.exit %h, %n, %c metric max_prob {threshold = 0.9 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x32xf32> -> tensor<?x512xf32>, tensor<?xi1>
  return
}

// -----

func.func @exit_flags(%h: tensor<?x64xf32>, %n: tensor<64xf32>, %c: tensor<512x64xf32>) {
  // expected-error @+1 {{'exit' ('tensor<?x1xi1>') must have one flag per token of 'hidden' ('tensor<?x64xf32>')}}
  %l, %e = llm.exit %h, %n, %c metric max_prob {threshold = 0.9 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?x1xi1>
  return
}

// -----

func.func @exit_threshold(%h: tensor<?x64xf32>, %n: tensor<64xf32>, %c: tensor<512x64xf32>) {
  // expected-error @+1 {{threshold 1.5 is out of range for metric max_prob ([0, 1])}}
  %l, %e = llm.exit %h, %n, %c metric max_prob {threshold = 1.5 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  return
}

// -----

func.func @exit_entropy(%h: tensor<?x64xf32>, %n: tensor<64xf32>, %c: tensor<512x64xf32>) {
  // expected-error @+1 {{threshold -1 is out of range for metric entropy (>= 0)}}
  %l, %e = llm.exit %h, %n, %c metric entropy {threshold = -1.0 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  return
}

// -----

func.func @exit_norm(%h: tensor<?x64xf32>, %n: tensor<32xf32>, %c: tensor<512x64xf32>) {
  // expected-error @+1 {{'norm_weight' ('tensor<32xf32>') must be a vector of size 64 to match 'hidden' ('tensor<?x64xf32>')}}
  %l, %e = llm.exit %h, %n, %c metric max_prob {threshold = 0.9 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<32xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  return
}

// -----

//===----------------------------------------------------------------------===//
// llm.dequantize / llm.quantize / llm.concat
//===----------------------------------------------------------------------===//

func.func @dequant_shape(%q: tensor<64x64xi8>, %s: tensor<64x1xf32>) {
  // expected-error @+1 {{result ('tensor<64x32xf32>') must have the shape of 'input' ('tensor<64x64xi8>')}}
  %0 = llm.dequantize %q scales(%s : tensor<64x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xi8> -> tensor<64x32xf32>
  return
}

// -----

func.func @quant_count(%w: tensor<64x64xf32>) {
  // expected-error @+1 {{scheme asymmetric produces 3 results, got 2}}
  %q, %s = llm.quantize %w {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<64x64xf32> -> tensor<64x64xi4>, tensor<64x2xf32>
  return
}

// -----

func.func @quant_shape(%w: tensor<64x64xf32>) {
  // expected-error @+1 {{quantized result ('tensor<32x64xi8>') must have the shape of 'input' ('tensor<64x64xf32>')}}
  %q, %s = llm.quantize %w {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xf32> -> tensor<32x64xi8>, tensor<64x1xf32>
  return
}

// -----

func.func @quant_scales_elt(%w: tensor<64x64xf32>) {
  // expected-error @+1 {{scales result ('tensor<64x1xi8>') must have a float element type}}
  %q, %s = llm.quantize %w {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<64x1xi8>
  return
}

// -----

func.func @quant_result_elt(%w: tensor<64x64xf32>) {
  // expected-error @+1 {{'quantized result' ('tensor<64x64xi8>') must have element type i4}}
  %q, %s = llm.quantize %w {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<64x2xf32>
  return
}

// -----

func.func @concat_empty() {
  // expected-error @+1 {{requires at least one input}}
  %0 = "llm.concat"() {axis = 0 : i64} : () -> tensor<4xf32>
  return
}

// -----

func.func @concat_axis(%a: tensor<4x4xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = llm.concat %a, %a {axis = 2 : i64} : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x8xf32>
  return
}

// -----

func.func @concat_inputs(%a: tensor<4x4xf32>, %b: tensor<4x8xf32>) {
  // expected-error @+1 {{input #1 ('tensor<4x8xf32>') must match input #0 ('tensor<4x4xf32>') in element type and every dimension but 0}}
  %0 = llm.concat %a, %b {axis = 0 : i64} : tensor<4x4xf32>, tensor<4x8xf32> -> tensor<8x4xf32>
  return
}

// -----

func.func @concat_result(%a: tensor<4x4xf32>) {
  // expected-error @+1 {{result ('tensor<9x4xf32>') must have dimension 0 equal to the sum of the inputs' (8) and their other dimensions}}
  %0 = llm.concat %a, %a {axis = 0 : i64} : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<9x4xf32>
  return
}

// -----

func.func @observe_rank(%x: tensor<4xf32>) {
  // expected-error @+1 {{observes [tokens, features] f32 tensors, not 'tensor<4xf32>'}}
  llm.observe %x {site = 0 : i64, keys = []} : tensor<4xf32>
  return
}

// -----

func.func @dgq_group(%w: tensor<4x64xf32>) {
  // expected-error @+1 {{scheme dgq_a8w4 requires bits = 4 and a group that is a multiple of 32, got bits = 4 and group = 48}}
  %q, %m = llm.quantize %w {quant = #llm.quant<bits = 4, group = 48, scheme = dgq_a8w4, granularity = block>} : tensor<4x64xf32> -> tensor<4x64xi4>, tensor<64xf32>
  return
}

// -----

func.func @dgq_scales(%w: tensor<4x64xf32>) {
  // expected-error @+1 {{'scales' ('tensor<32xf32>') must be a vector of the 64 input features}}
  %q, %m = llm.quantize %w {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<4x64xf32> -> tensor<4x64xi4>, tensor<32xf32>
  return
}

// -----

func.func @attn_shared_value(%q: tensor<?x160xf32>, %k: tensor<?x40xf32>, %v: tensor<?x40xf32>, %p: index, %kv: !llm.kv_cache<2x64x1x40, f32, shared>) {
  // expected-error @+1 {{stores one vector per position used as key and value: 'value' must be 'key'}}
  %o, %c = llm.attention %q, %k, %v, %kv[%p] {layer = 0 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, causal} : tensor<?x160xf32>, tensor<?x40xf32>, !llm.kv_cache<2x64x1x40, f32, shared>
  return
}

// -----

func.func @head_linear_in(%x: tensor<?x60xf32>, %w: tensor<4x16x32xf32>) {
  // expected-error @+1 {{input ('tensor<?x60xf32>') must have heads * in = 4 * 16 features for weight 'tensor<4x16x32xf32>' (transposed)}}
  %y = llm.head_linear %x, %w transposed : tensor<?x60xf32>, tensor<4x16x32xf32> -> tensor<?x128xf32>
  return
}

// -----

func.func @head_linear_out(%x: tensor<?x128xf32>, %w: tensor<4x16x32xf32>) {
  // expected-error @+1 {{result ('tensor<?x60xf32>') must have heads * out = 4 * 16 features}}
  %y = llm.head_linear %x, %w : tensor<?x128xf32>, tensor<4x16x32xf32> -> tensor<?x60xf32>
  return
}

// -----

func.func @head_linear_rank(%x: tensor<?x128xf32>, %w: tensor<16x32xf32>) {
  // expected-error @+1 {{expects a [seq, heads * in] input, a [heads, out, in]}}
  %y = llm.head_linear %x, %w : tensor<?x128xf32>, tensor<16x32xf32> -> tensor<?x64xf32>
  return
}

// -----

func.func @moe_groups(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{expert_groups (3) must divide the 8 experts}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk {top_k = 2 : i64, expert_groups = 3 : i64, top_groups = 1 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_top_groups(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{its groups must hold top_k = 3 experts, got 1}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk {top_k = 3 : i64, expert_groups = 4 : i64, top_groups = 1 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_groups_alone(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{expert_groups and top_groups go together}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk {top_k = 2 : i64, expert_groups = 4 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @moe_scale(%x: tensor<?x64xf32>, %r: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) {
  // expected-error @+1 {{routed_scale must be positive, got 0}}
  %0 = llm.moe %x, %r, %wg, %wg, %wd routing softmax_topk {top_k = 2 : i64, routed_scale = 0.0 : f64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return
}

// -----

func.func @yarn_betas(%x: tensor<?x32xf32>, %p: index) {
  // expected-error @+1 {{yarn rope scaling requires beta_fast > beta_slow > 0, got 1 and 32}}
  %y = llm.rope %x, %p style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = #llm.rope_scaling<yarn, factor = 4.0, original_max_positions = 16, beta_fast = 1.0, beta_slow = 32.0>} : tensor<?x32xf32>
  return
}
