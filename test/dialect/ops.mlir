// Round-trip of every llm op, type and attribute: custom syntax, and the
// generic form read back.
// RUN: llmc-opt %s | llmc-opt | FileCheck %s
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | FileCheck %s

// CHECK-LABEL: func.func @params
func.func @params() -> (tensor<64x64xf32>, tensor<64x64xi4>, tensor<32x64xi8>, tensor<64xbf16>) {
  // CHECK: llm.param "layers.0.attention.wq" : tensor<64x64xf32>
  %0 = llm.param "layers.0.attention.wq" : tensor<64x64xf32>
  // CHECK: llm.param "blk.0.attn_q.weight" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<64x64xi4>
  %1 = llm.param "blk.0.attn_q.weight" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<64x64xi4>
  // CHECK: llm.param "blk.0.attn_k.weight" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<32x64xi8>
  %2 = llm.param "blk.0.attn_k.weight" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<32x64xi8>
  // CHECK: llm.param "norm.weight" : tensor<64xbf16>
  %3 = llm.param "norm.weight" : tensor<64xbf16>
  return %0, %1, %2, %3 : tensor<64x64xf32>, tensor<64x64xi4>, tensor<32x64xi8>, tensor<64xbf16>
}

// CHECK-LABEL: func.func @embedding_and_norms
func.func @embedding_and_norms(%tokens: tensor<?xi32>, %table: tensor<512x64xf32>, %w: tensor<64xf32>, %b: tensor<64xf32>, %t64: tensor<2x3xi64>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<2x3x64xf32>) {
  // CHECK: llm.embedding %{{.*}}[%{{.*}}] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %x = llm.embedding %table[%tokens] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: llm.embedding %{{.*}}[%{{.*}}] : tensor<512x64xf32>, tensor<2x3xi64> -> tensor<2x3x64xf32>
  %x2 = llm.embedding %table[%t64] : tensor<512x64xf32>, tensor<2x3xi64> -> tensor<2x3x64xf32>
  // CHECK: llm.rms_norm %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %n = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: llm.rms_norm %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>{{$}}
  %nu = llm.rms_norm %x {eps = 1.0e-05 : f64} : tensor<?x64xf32>
  // CHECK: llm.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %s1, %n1 = llm.add_rms_norm %x, %nu, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: llm.add_rms_norm %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>{{$}}
  %s2, %n2 = llm.add_rms_norm %s1, %n1 {eps = 1.0e-05 : f64} : tensor<?x64xf32>
  // CHECK: llm.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>
  %l = llm.layer_norm %x, %w, %b {eps = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>
  // CHECK: llm.layer_norm %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64} : tensor<?x64xf32>, tensor<64xf32>{{$}}
  %l2 = llm.layer_norm %x, %w {eps = 1.0e-06 : f64} : tensor<?x64xf32>, tensor<64xf32>
  return %n2, %l, %l2, %x2 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, tensor<2x3x64xf32>
}

// The newer families: Gemma's scaled embeddings, (1 + w) norms and logit
// soft caps; per-head q/k norms (Qwen3, Gemma 3) on [seq, heads, head_dim].
// CHECK-LABEL: func.func @gemma_and_qwen3_forms
func.func @gemma_and_qwen3_forms(%tokens: tensor<?xi32>, %table: tensor<512x64xf32>, %w: tensor<64xf32>, %hw: tensor<16xf32>, %q: tensor<?x4x16xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x4x16xf32>) {
  // CHECK: llm.embedding %{{.*}}[%{{.*}}] {scale = 8.000000e+00 : f64} : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %x = llm.embedding %table[%tokens] {scale = 8.0 : f64} : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  // CHECK: llm.rms_norm %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64, weight_offset = 1.000000e+00 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %n = llm.rms_norm %x, %w {eps = 1.0e-06 : f64, weight_offset = 1.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: llm.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64, weight_offset = 1.000000e+00 : f64}
  %s, %n2 = llm.add_rms_norm %x, %n, %w {eps = 1.0e-06 : f64, weight_offset = 1.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: llm.rms_norm %{{.*}}, %{{.*}} {eps = 9.9999999999999995E-7 : f64} : tensor<?x4x16xf32>, tensor<16xf32>
  %qn = llm.rms_norm %q, %hw {eps = 1.0e-06 : f64} : tensor<?x4x16xf32>, tensor<16xf32>
  // CHECK: llm.transpose %{{.*}} : tensor<512x64xf32> -> tensor<64x512xf32>
  %tt = llm.transpose %table : tensor<512x64xf32> -> tensor<64x512xf32>
  // CHECK: llm.softcap %{{.*}} {cap = 3.000000e+01 : f64} : tensor<?x64xf32>
  %c = llm.softcap %n2 {cap = 30.0 : f64} : tensor<?x64xf32>
  return %s, %c, %qn : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x4x16xf32>
}

// CHECK-LABEL: func.func @linears
func.func @linears(%x: tensor<?x64xf32>, %w: tensor<172x64xf32>, %wh: tensor<172x64xf16>, %b: tensor<172xf32>,
                   %q4: tensor<172x64xi4>, %s: tensor<172x2xf32>, %z: tensor<172x2xi4>, %q8: tensor<172x64xi8>) -> tensor<?x172xf32> {
  // CHECK: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %0 = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<172xf32>) : tensor<?x64xf32>, tensor<172x64xf16> -> tensor<?x172xf32>
  %1 = llm.linear %x, %wh bias(%b : tensor<172xf32>) : tensor<?x64xf32>, tensor<172x64xf16> -> tensor<?x172xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<172xf32>) residual(%{{.*}} : tensor<?x172xf32>) activation gelu_tanh : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %e1 = llm.linear %x, %w bias(%b : tensor<172xf32>) residual(%1 : tensor<?x172xf32>) activation gelu_tanh : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} activation silu : tensor<?x64xf32>
  %e2 = llm.linear %x, %w activation silu : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: llm.linear %{{.*}}, %{{.*}} activation gelu : tensor<?x64xf32>
  %e3 = llm.linear %x, %w activation gelu : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: llm.qlinear %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<172x2xf32>) residual(%{{.*}} : tensor<?x172xf32>) activation silu {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>}
  %e4 = llm.qlinear %x, %q4 scales(%s : tensor<172x2xf32>) residual(%e1 : tensor<?x172xf32>) activation silu {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  // CHECK: llm.qlinear %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<172x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  %2 = llm.qlinear %x, %q4 scales(%s : tensor<172x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  // CHECK: llm.qlinear %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<172x2xf32>) zeros(%{{.*}} : tensor<172x2xi4>) bias(%{{.*}} : tensor<172xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>}
  %3 = llm.qlinear %x, %q4 scales(%s : tensor<172x2xf32>) zeros(%z : tensor<172x2xi4>) bias(%b : tensor<172xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  // CHECK: llm.qlinear %{{.*}}, %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_1, granularity = block>}
  %4 = llm.qlinear %x, %q4 {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_1, granularity = block>} : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
  %5 = llm.add %0, %1 : tensor<?x172xf32>
  %6 = llm.add %2, %3 : tensor<?x172xf32>
  %7 = llm.add %5, %6 : tensor<?x172xf32>
  return %7 : tensor<?x172xf32>
}

// CHECK-LABEL: func.func @rope_attention
func.func @rope_attention(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %pos: index,
                          %kv: !llm.kv_cache<5x512x4x8, f32>) -> (tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32>) {
  // CHECK: llm.rope %{{.*}}, %{{.*}} style interleaved {head_dim = 8 : i64, theta = 1.000000e+04 : f64} : tensor<?x64xf32>
  %qr = llm.rope %q, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
  // CHECK: llm.rope %{{.*}}, %{{.*}} style half {head_dim = 8 : i64, scaling = #llm.rope_scaling<linear, factor = 4.000000e+00>, theta = 5.000000e+05 : f64} : tensor<?x32xf32>
  %kr = llm.rope %k, %pos style half {head_dim = 8 : i64, theta = 5.0e+05 : f64, scaling = #llm.rope_scaling<linear, factor = 4.0>} : tensor<?x32xf32>
  // CHECK: scaling = #llm.rope_scaling<llama3, factor = 8.000000e+00, low_freq_factor = 1.000000e+00, high_freq_factor = 4.000000e+00, original_max_positions = 8192>
  %kr2 = llm.rope %kr, %pos style half {head_dim = 8 : i64, theta = 5.0e+05 : f64, scaling = #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0, high_freq_factor = 4.0, original_max_positions = 8192>} : tensor<?x32xf32>
  // CHECK: %{{.*}}, %[[KV:.*]] = llm.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}[%{{.*}}] {causal, layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  %o, %kv1 = llm.attention %qr, %kr2, %v, %kv[%pos] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  // CHECK: llm.attention {{.*}}, %[[KV]][%{{.*}}] {causal, layer = 4 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 2.500000e-01 : f64, sliding_window = 128 : i64}
  %o2, %kv2 = llm.attention %o, %kr2, %v, %kv1[%pos] {layer = 4 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, scale = 0.25 : f64, sliding_window = 128 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  // CHECK: scaling = #llm.rope_scaling<longrope, factor = 4.000000e+00, original_max_positions = 16, attention_factor = 1.250000e+00, short_factor = [1.000000e+00, 1.500000e+00, 2.000000e+00, 3.000000e+00], long_factor = [1.000000e+00, 4.000000e+00, 8.000000e+00, 1.600000e+01]>
  %kr3 = llm.rope %k, %pos style half {head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = #llm.rope_scaling<longrope, factor = 4.0, original_max_positions = 16, attention_factor = 1.25, short_factor = [1.0, 1.5, 2.0, 3.0], long_factor = [1.0, 4.0, 8.0, 16.0]>} : tensor<?x32xf32>
  // CHECK: llm.rope %{{.*}}, %{{.*}} style half {head_dim = 8 : i64, rotary_dim = 4 : i64, theta = 1.000000e+04 : f64} : tensor<?x32xf32>
  %kr4 = llm.rope %k, %pos style half {head_dim = 8 : i64, theta = 1.0e+04 : f64, rotary_dim = 4 : i64} : tensor<?x32xf32>
  // CHECK: llm.attention {{.*}} {causal, layer = 1 : i64, logit_softcap = 5.000000e+01 : f64, num_heads = 8 : i64, num_kv_heads = 4 : i64}
  %o3, %kv3 = llm.attention %o2, %kr3, %v, %kv2[%pos] {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, logit_softcap = 50.0 : f64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  return %o3, %kv3 : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32>
}

// Multi-head latent attention (DeepSeek-V2), absorbed: per-head linears
// into and out of the latent, one shared cache vector per position (keys
// are the values), YaRN RoPE, group-limited routing with a routed scale.
// CHECK-LABEL: func.func @latent_attention
func.func @latent_attention(%qn: tensor<?x64xf32>, %qpe: tensor<?x32xf32>, %key: tensor<?x40xf32>,
                            %wk: tensor<4x16x32xf32>, %pos: index,
                            %kv: !llm.kv_cache<2x64x1x40, f32, shared>) -> (tensor<?x48xf32>, !llm.kv_cache<2x64x1x40, f32, shared>) {
  // CHECK: llm.head_linear %{{.*}}, %{{.*}} transposed : tensor<?x64xf32>, tensor<4x16x32xf32> -> tensor<?x128xf32>
  %qa = llm.head_linear %qn, %wk transposed : tensor<?x64xf32>, tensor<4x16x32xf32> -> tensor<?x128xf32>
  // CHECK: scaling = #llm.rope_scaling<yarn, factor = 4.000000e+00, original_max_positions = 16, attention_factor = 1.000000e+00, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00>
  %qr = llm.rope %qpe, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = #llm.rope_scaling<yarn, factor = 4.0, original_max_positions = 16, attention_factor = 1.0, beta_fast = 32.0, beta_slow = 1.0>} : tensor<?x32xf32>
  %q = llm.concat %qa, %qr {axis = 1 : i64} : tensor<?x128xf32>, tensor<?x32xf32> -> tensor<?x160xf32>
  // CHECK: llm.attention {{.*}} : tensor<?x160xf32>, tensor<?x40xf32>, !llm.kv_cache<2x64x1x40, f32, shared>
  %o, %kv1 = llm.attention %q, %key, %key, %kv[%pos] {layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, causal} : tensor<?x160xf32>, tensor<?x40xf32>, !llm.kv_cache<2x64x1x40, f32, shared>
  // CHECK: llm.head_linear %{{.*}}, %{{.*}} : tensor<?x160xf32>, tensor<4x12x40xf32> -> tensor<?x48xf32>
  %wv = llm.param "kv_b" : tensor<4x12x40xf32>
  %v = llm.head_linear %o, %wv : tensor<?x160xf32>, tensor<4x12x40xf32> -> tensor<?x48xf32>
  return %v, %kv1 : tensor<?x48xf32>, !llm.kv_cache<2x64x1x40, f32, shared>
}

// CHECK-LABEL: func.func @grouped_moe
func.func @grouped_moe(%x: tensor<?x64xf32>, %router: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) -> tensor<?x64xf32> {
  // CHECK: llm.moe {{.*}} routing softmax_topk {expert_groups = 4 : i64, routed_scale = 1.500000e+00 : f64, top_groups = 2 : i64, top_k = 3 : i64}
  %0 = llm.moe %x, %router, %wg, %wg, %wd routing softmax_topk {top_k = 3 : i64, expert_groups = 4 : i64, top_groups = 2 : i64, routed_scale = 1.5 : f64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return %0 : tensor<?x64xf32>
}

// CHECK-LABEL: func.func @kv_cache_types
// CHECK-SAME: !llm.kv_cache<1x4096x8x128, bf16>
// CHECK-SAME: !llm.kv_cache<22x2048x4x64, i8>
// CHECK-SAME: !llm.kv_cache<2x16x1x64, f16>
// CHECK-SAME: !llm.kv_cache<27x4096x1x576, i8, shared>
func.func @kv_cache_types(%a: !llm.kv_cache<1x4096x8x128, bf16>, %b: !llm.kv_cache<22x2048x4x64, i8>, %c: !llm.kv_cache<2x16x1x64, f16>, %d: !llm.kv_cache<27x4096x1x576, i8, shared>) {
  return
}

// CHECK-LABEL: func.func @activations
func.func @activations(%x: tensor<?x172xf32>, %y: tensor<?x172xf32>, %gu: tensor<?x344xf32>) -> (tensor<?x172xf32>, tensor<?x172xf32>) {
  // CHECK: llm.silu %{{.*}} : tensor<?x172xf32>
  %0 = llm.silu %x : tensor<?x172xf32>
  // CHECK: llm.gelu %{{.*}} : tensor<?x172xf32>
  %1 = llm.gelu %0 : tensor<?x172xf32>
  // CHECK: llm.gelu %{{.*}} approximate tanh : tensor<?x172xf32>
  %2 = llm.gelu %1 approximate tanh : tensor<?x172xf32>
  // CHECK: llm.swiglu %{{.*}}, %{{.*}} : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
  %3 = llm.swiglu %2, %y : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
  // CHECK: llm.swiglu %{{.*}} : tensor<?x344xf32> -> tensor<?x172xf32>
  %4 = llm.swiglu %gu : tensor<?x344xf32> -> tensor<?x172xf32>
  // CHECK: llm.mul %{{.*}}, %{{.*}} : tensor<?x172xf32>
  %5 = llm.mul %3, %4 : tensor<?x172xf32>
  // CHECK: llm.add %{{.*}}, %{{.*}} : tensor<?x172xf32>
  %6 = llm.add %5, %x : tensor<?x172xf32>
  // CHECK: llm.softmax %{{.*}} : tensor<?x172xf32>
  %7 = llm.softmax %6 : tensor<?x172xf32>
  // CHECK: llm.softmax %{{.*}} {axis = 0 : i64} : tensor<?x172xf32>
  %8 = llm.softmax %6 {axis = 0 : i64} : tensor<?x172xf32>
  return %7, %8 : tensor<?x172xf32>, tensor<?x172xf32>
}

// CHECK-LABEL: func.func @moe
func.func @moe(%x: tensor<?x64xf32>, %router: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wu: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: llm.moe %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  %0 = llm.moe %x, %router, %wg, %wu, %wd routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  // CHECK: routing softmax_topk {placement = #llm.placement<[device, device, host, host, host, storage, storage, storage]>, top_k = 2 : i64}
  %1 = llm.moe %x, %router, %wg, %wu, %wd routing softmax_topk {top_k = 2 : i64, placement = #llm.placement<[device, device, host, host, host, storage, storage, storage]>} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  // CHECK: routing softmax_topk_norm {top_k = 8 : i64}
  %2 = llm.moe %x, %router, %wg, %wu, %wd routing softmax_topk_norm {top_k = 8 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  return %0, %1, %2 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// Qwen2-MoE: a shared expert scaled by sigmoid(w · x); GGUF q4_0 experts.
// CHECK-LABEL: func.func @moe_shared_quant
func.func @moe_shared_quant(%x: tensor<?x64xf32>, %router: tensor<8x64xf32>, %wg: tensor<8x172x64xf32>, %wu: tensor<8x172x64xf32>, %wd: tensor<8x64x172xf32>,
                            %sg: tensor<128x64xf32>, %sd: tensor<64x128xf32>, %ss: tensor<1x64xf32>,
                            %qg: tensor<8x96x64xi4>, %qd: tensor<8x64x96xi4>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  // CHECK: llm.moe %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} routing softmax_topk shared(%{{.*}}, %{{.*}}, %{{.*}} : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) shared_scale(%{{.*}} : tensor<1x64xf32>) {top_k = 4 : i64}
  %0 = llm.moe %x, %router, %wg, %wu, %wd routing softmax_topk
      shared(%sg, %sg, %sd : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>)
      shared_scale(%ss : tensor<1x64xf32>) {top_k = 4 : i64}
      : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  // CHECK: routing softmax_topk_norm shared(%{{.*}}, %{{.*}}, %{{.*}} : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) {top_k = 2 : i64}
  %1 = llm.moe %x, %router, %wg, %wu, %wd routing softmax_topk_norm
      shared(%sg, %sg, %sd : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>) {top_k = 2 : i64}
      : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
  // CHECK: routing topk_softmax {expert_quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>, top_k = 2 : i64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x96x64xi4>, tensor<8x64x96xi4>
  %2 = llm.moe %x, %router, %qg, %qg, %qd routing topk_softmax {top_k = 2 : i64, expert_quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>}
      : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x96x64xi4>, tensor<8x64x96xi4>
  return %0, %1, %2 : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// CHECK-LABEL: func.func @early_exit
func.func @early_exit(%h: tensor<?x64xf32>, %norm: tensor<64xf32>, %cls: tensor<512x64xf32>) -> (tensor<?x512xf32>, tensor<?xi1>, tensor<?xi1>, tensor<?xi1>) {
  // CHECK: llm.exit %{{.*}}, %{{.*}}, %{{.*}} metric max_prob {eps = 1.000000e-05 : f64, threshold = 9.000000e-01 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  %logits, %done = llm.exit %h, %norm, %cls metric max_prob {threshold = 0.9 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  // CHECK: metric entropy {eps = 1.000000e-05 : f64, threshold = 2.500000e+00 : f64}
  %l2, %d2 = llm.exit %h, %norm, %cls metric entropy {threshold = 2.5 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  // CHECK: metric margin {eps = 1.000000e-05 : f64, threshold = 5.000000e-01 : f64}
  %l3, %d3 = llm.exit %h, %norm, %cls metric margin {threshold = 0.5 : f64, eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
  return %logits, %done, %d2, %d3 : tensor<?x512xf32>, tensor<?xi1>, tensor<?xi1>, tensor<?xi1>
}

// CHECK-LABEL: func.func @pending_state
// CHECK-SAME: !llm.kv_cache<5x512x4x8, f32, pending = 64>
func.func @pending_state(%x: tensor<?x64xf32>, %kv: !llm.kv_cache<5x512x4x8, f32, pending = 64>, %pos: index, %end: index) -> (tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64>) {
  // CHECK: %[[F:.*]] = llm.cache_filled %{{.*}}[%{{.*}}] {layer = 3 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
  %f = llm.cache_filled %kv[%pos] {layer = 3 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
  // CHECK: llm.cache_pending %{{.*}}, %{{.*}}[%[[F]], %{{.*}}] : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64> -> tensor<?x64xf32>
  %b = llm.cache_pending %x, %kv[%f, %pos] : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64> -> tensor<?x64xf32>
  // CHECK: llm.cache_stash %{{.*}}, %{{.*}}[%[[F]]] : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64>
  %kv1 = llm.cache_stash %b, %kv[%f] : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64>
  // CHECK: llm.cache_mark %{{.*}}[%{{.*}}, %{{.*}}] {layer = 1 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
  %kv2 = llm.cache_mark %kv1[%pos, %end] {layer = 1 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
  return %b, %kv2 : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64>
}

// CHECK-LABEL: func.func @observe
func.func @observe(%x: tensor<?x64xf32>) {
  // CHECK: llm.observe %{{.*}} {keys = ["concat(wq,wk,wv)"], site = 0 : i64} : tensor<?x64xf32>
  llm.observe %x {site = 0 : i64, keys = ["concat(wq,wk,wv)"]} : tensor<?x64xf32>
  return
}

// CHECK-LABEL: func.func @weight_transforms
func.func @weight_transforms(%wq: tensor<64x64xf32>, %wk: tensor<32x64xf32>, %wv: tensor<32x64xf32>) -> (tensor<128x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xi4>) {
  // CHECK: llm.concat %{{.*}}, %{{.*}}, %{{.*}} {axis = 0 : i64} : tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32> -> tensor<128x64xf32>
  %qkv0 = llm.concat %wq, %wk, %wv {axis = 0 : i64} : tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32> -> tensor<128x64xf32>
  // CHECK: llm.scale_columns %{{.*}}, %{{.*}} : tensor<128x64xf32>, tensor<64xf32>
  %g = tensor.empty() : tensor<64xf32>
  %qkv = llm.scale_columns %qkv0, %g : tensor<128x64xf32>, tensor<64xf32>
  // CHECK: llm.quantize %{{.*}} {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<64x1xf32>
  %q8, %s8 = llm.quantize %wq {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<64x1xf32>
  // CHECK: llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<64x64xf32> -> tensor<64x64xi4>, tensor<64x2xf16>, tensor<64x2xi4>
  %q4, %s4, %z4 = llm.quantize %wq {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<64x64xf32> -> tensor<64x64xi4>, tensor<64x2xf16>, tensor<64x2xi4>
  // CHECK: llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<64x64xf32> -> tensor<64x64xi4>, tensor<64xf32>
  %qd, %md = llm.quantize %wq {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<64x64xf32> -> tensor<64x64xi4>, tensor<64xf32>
  // CHECK: llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<64x64xf32> -> tensor<64x64xi4>
  %qb = llm.quantize %wq {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<64x64xf32> -> tensor<64x64xi4>
  // CHECK: llm.quantize %{{.*}} {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = tensor>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<1x1xf32>
  %qt, %st = llm.quantize %wq {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = tensor>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<1x1xf32>
  // CHECK: llm.dequantize %{{.*}} scales(%{{.*}} : tensor<64x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xi8> -> tensor<64x64xf32>
  %d8 = llm.dequantize %q8 scales(%s8 : tensor<64x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xi8> -> tensor<64x64xf32>
  // CHECK: llm.dequantize %{{.*}} scales(%{{.*}} : tensor<64x2xf16>) zeros(%{{.*}} : tensor<64x2xi4>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<64x64xi4> -> tensor<64x64xf32>
  %d4 = llm.dequantize %q4 scales(%s4 : tensor<64x2xf16>) zeros(%z4 : tensor<64x2xi4>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<64x64xi4> -> tensor<64x64xf32>
  return %qkv, %d8, %d4, %qb : tensor<128x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xi4>
}
