// RUN: llmc-opt %s -split-input-file -llm-roofline="hardware=nvidia-a100-40gb phase=decode" | FileCheck %s --check-prefix=DECODE
// RUN: llmc-opt %s -split-input-file -llm-roofline="hardware=nvidia-a100-40gb phase=prefill seq=2048" | FileCheck %s --check-prefix=PREFILL
// RUN: llmc-opt %s -split-input-file -llm-roofline="hardware=nvidia-a100-40gb phase=decode batch=4 kv-len=1000" | FileCheck %s --check-prefix=KV
// RUN: not llmc-opt %s -split-input-file -llm-roofline="hardware=tpu-v9" 2>&1 | FileCheck %s --check-prefix=BADHW
// RUN: not llmc-opt %s -split-input-file -llm-roofline="phase=training" 2>&1 | FileCheck %s --check-prefix=BADPHASE

// Llama-2-7B q_proj (f16, hidden 4096). Decode at batch 1: 2*4096*4096
// FLOPs and 4096*4096*2 bytes of weights; memory-bound on an A100 (ridge
// 312e12 / 1555e9 = 200 FLOP/byte). Prefill at 2048 tokens: compute-bound.
// DECODE-LABEL: func.func @q_proj
// DECODE: llm.linear {{.*}}llm.roofline = {act_load_bytes = 8192 : i64, act_store_bytes = 8192 : i64, attainable_flops = {{.*}}, bound = "memory", flops = 33554432 : i64, intensity = 0.9995{{[0-9]*}} : f64, kv_load_bytes = 0 : i64, kv_store_bytes = 0 : i64, time_s = 2.15{{[0-9]*}}E-5 : f64, weight_bytes = 33554432 : i64}
// PREFILL-LABEL: func.func @q_proj
// PREFILL: llm.linear {{.*}}llm.roofline = {act_load_bytes = 16777216 : i64, act_store_bytes = 16777216 : i64, attainable_flops = 3.120000e+14 : f64, bound = "compute", flops = 68719476736 : i64, intensity = 1.024000e+03 : f64, {{.*}}weight_bytes = 33554432 : i64}
func.func @q_proj(%x: tensor<?x4096xf16>) -> tensor<?x4096xf16> {
  %w = llm.param "model.layers.0.self_attn.q_proj.weight" : tensor<4096x4096xf16>
  %y = llm.linear %x, %w : tensor<?x4096xf16>, tensor<4096x4096xf16> -> tensor<?x4096xf16>
  return %y : tensor<?x4096xf16>
}

// -----

// Quantized weights: GGUF Q4_0 stores 4.5 bits per weight (4-bit values and
// an f16 scale per 32), 3.56x fewer weight bytes than f16: 4096*4096*4.5/8.
// Symmetric int4 with group 128 and f16 scales: 4 + 16/128 bits.
// DECODE-LABEL: func.func @quantized
// DECODE: llm.qlinear {{.*}}flops = 33554432 : i64{{.*}}weight_bytes = 9437184 : i64
// DECODE: llm.qlinear {{.*}}flops = 33554432 : i64{{.*}}weight_bytes = 8650752 : i64
func.func @quantized(%x: tensor<?x4096xf16>, %s: tensor<4096x32xf16>) -> (tensor<?x4096xf16>, tensor<?x4096xf16>) {
  %q = llm.param "blk.0.attn_q.weight" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4096x4096xi4>
  %y = llm.qlinear %x, %q {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x4096xf16>, tensor<4096x4096xi4> -> tensor<?x4096xf16>
  %g = llm.param "w4g128" {quant = #llm.quant<bits = 4, group = 128, scheme = symmetric, granularity = group>} : tensor<4096x4096xi4>
  %z = llm.qlinear %x, %g scales(%s : tensor<4096x32xf16>) {quant = #llm.quant<bits = 4, group = 128, scheme = symmetric, granularity = group>} : tensor<?x4096xf16>, tensor<4096x4096xi4> -> tensor<?x4096xf16>
  return %y, %z : tensor<?x4096xf16>, tensor<?x4096xf16>
}

// -----

// Attention with the flash kernel (llm.flash) is one fused op: only Q/K/V
// in, the output out and the cache move; the [heads, seq, ctx] scores stay
// in registers. Decode with 1000 cached tokens, batch 4: reads
// 4*1000*8*128*2 (K and V) * 2 bytes of cache, writes one new position per
// sequence. The reference kernel (no llm.flash) also writes its scores
// (4*32*1001 f16 = 256256 bytes) 4 times and reads them 5 times. A
// separate softmax stores and reloads its whole input.
// KV-LABEL: func.func @attention
// KV: llm.attention {{.*}}llm.roofline = {act_load_bytes = 49152 : i64, act_store_bytes = 32768 : i64, {{.*}}bound = "memory", {{.*}}kv_load_bytes = 16384000 : i64, kv_store_bytes = 16384 : i64
// KV: llm.attention {{.*}}llm.roofline = {act_load_bytes = 1330432 : i64, act_store_bytes = 1057792 : i64, {{.*}}kv_load_bytes = 16384000 : i64, kv_store_bytes = 16384 : i64
// KV: llm.softmax {{.*}}act_load_bytes = 258048 : i64, act_store_bytes = 258048 : i64
func.func @attention(%q: tensor<?x4096xf16>, %k: tensor<?x1024xf16>, %v: tensor<?x1024xf16>, %pos: index,
                     %kv: !llm.kv_cache<32x4096x8x128, f16>, %scores: tensor<32x?x1008xf16>) -> (tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<32x?x1008xf16>) {
  %o, %kv2 = llm.attention %q, %k, %v, %kv[%pos] {layer = 0 : i64, num_heads = 32 : i64, num_kv_heads = 8 : i64, causal, llm.flash = {decode_splits = 2 : i64, softmax = "unified", unified_max = 0.0 : f64}}
      : tensor<?x4096xf16>, tensor<?x1024xf16>, !llm.kv_cache<32x4096x8x128, f16>
  %o2, %kv3 = llm.attention %q, %k, %v, %kv2[%pos] {layer = 1 : i64, num_heads = 32 : i64, num_kv_heads = 8 : i64, causal}
      : tensor<?x4096xf16>, tensor<?x1024xf16>, !llm.kv_cache<32x4096x8x128, f16>
  %p = llm.softmax %scores : tensor<32x?x1008xf16>
  return %o, %o2, %p : tensor<?x4096xf16>, tensor<?x4096xf16>, tensor<32x?x1008xf16>
}

// -----

// Weight transforms on params happen at pack time: no annotation. The
// embedding gathers one row per token, not the table.
// The module carries the totals.
// DECODE: module attributes {llm.roofline.total = {{.*}}hardware = "nvidia-a100-40gb", {{.*}}phase = "decode"
// DECODE-LABEL: func.func @pack_time
// DECODE: llm.concat
// DECODE-NOT: llm.roofline
// DECODE-SAME: -> tensor<128x64xf32>
// DECODE: llm.embedding {{.*}}weight_bytes = 256 : i64
func.func @pack_time(%t: tensor<?xi32>, %x: tensor<?x64xf32>) -> (tensor<?x128xf32>, tensor<?x64xf32>) {
  %a = llm.param "a" : tensor<64x64xf32>
  %b = llm.param "b" : tensor<64x64xf32>
  %ab = llm.concat %a, %b {axis = 0 : i64} : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<128x64xf32>
  %y = llm.linear %x, %ab : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
  %e = llm.param "emb" : tensor<32000x64xf32>
  %h = llm.embedding %e[%t] : tensor<32000x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return %y, %h : tensor<?x128xf32>, tensor<?x64xf32>
}

// BADHW: error: unknown hardware 'tpu-v9'; presets in '{{.*}}hardware.json': amd-mi300x apple-m2-max intel-13900k nvidia-a100-40gb nvidia-a100-80gb
// BADPHASE: error: phase must be prefill or decode, got 'training'
