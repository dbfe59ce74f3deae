// A Mixtral-style decoder layer: GQA attention with sliding window, then a
// top-2-of-8 mixture of SwiGLU experts instead of the dense MLP. It must
// verify and printing must be a fixed point.
// RUN: llmc-opt %s -o %t.1 && llmc-opt %t.1 -o %t.2 && diff %t.1 %t.2 && FileCheck %s --input-file %t.2
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | diff %t.1 - && FileCheck %s --input-file %t.1

// CHECK-LABEL: func.func @mixtral_layer
func.func @mixtral_layer(%x: tensor<?x128xf32>, %pos: index, %kv: !llm.kv_cache<4x4096x2x32, f32>)
    -> (tensor<?x128xf32>, !llm.kv_cache<4x4096x2x32, f32>) {
  %attn_norm = llm.param "model.layers.1.input_layernorm.weight" : tensor<128xf32>
  %wq = llm.param "model.layers.1.self_attn.q_proj.weight" : tensor<128x128xf32>
  %wk = llm.param "model.layers.1.self_attn.k_proj.weight" : tensor<64x128xf32>
  %wv = llm.param "model.layers.1.self_attn.v_proj.weight" : tensor<64x128xf32>
  %wo = llm.param "model.layers.1.self_attn.o_proj.weight" : tensor<128x128xf32>
  %h = llm.rms_norm %x, %attn_norm {eps = 1.0e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
  %q = llm.linear %h, %wq : tensor<?x128xf32>, tensor<128x128xf32> -> tensor<?x128xf32>
  %k = llm.linear %h, %wk : tensor<?x128xf32>, tensor<64x128xf32> -> tensor<?x64xf32>
  %v = llm.linear %h, %wv : tensor<?x128xf32>, tensor<64x128xf32> -> tensor<?x64xf32>
  // Hugging Face checkpoints rotate halves, not interleaved pairs.
  // CHECK: llm.rope %{{.*}}, %{{.*}} style half {head_dim = 32 : i64, theta = 1.000000e+06 : f64}
  %qr = llm.rope %q, %pos style half {head_dim = 32 : i64, theta = 1.0e+06 : f64} : tensor<?x128xf32>
  %kr = llm.rope %k, %pos style half {head_dim = 32 : i64, theta = 1.0e+06 : f64} : tensor<?x64xf32>
  // CHECK: llm.attention {{.*}} {causal, layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, sliding_window = 4096 : i64}
  %o, %kv2 = llm.attention %qr, %kr, %v, %kv[%pos] {layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 2 : i64, causal, sliding_window = 4096 : i64}
      : tensor<?x128xf32>, tensor<?x64xf32>, !llm.kv_cache<4x4096x2x32, f32>
  %proj = llm.linear %o, %wo : tensor<?x128xf32>, tensor<128x128xf32> -> tensor<?x128xf32>
  %r1 = llm.add %x, %proj : tensor<?x128xf32>

  %moe_norm = llm.param "model.layers.1.post_attention_layernorm.weight" : tensor<128xf32>
  // CHECK: %[[ROUTER:.*]] = llm.param "model.layers.1.block_sparse_moe.gate.weight" : tensor<8x128xf32>
  %router = llm.param "model.layers.1.block_sparse_moe.gate.weight" : tensor<8x128xf32>
  // Experts' w1/w3/w2 stacked along a leading expert dimension.
  %w1 = llm.param "model.layers.1.block_sparse_moe.experts.w1" : tensor<8x256x128xf32>
  %w3 = llm.param "model.layers.1.block_sparse_moe.experts.w3" : tensor<8x256x128xf32>
  %w2 = llm.param "model.layers.1.block_sparse_moe.experts.w2" : tensor<8x128x256xf32>
  %h2 = llm.rms_norm %r1, %moe_norm {eps = 1.0e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
  // CHECK: %[[MOE:.*]] = llm.moe %{{.*}}, %[[ROUTER]], %{{.*}}, %{{.*}}, %{{.*}} routing topk_softmax {placement = #llm.placement<[device, device, device, device, host, host, host, storage]>, top_k = 2 : i64} : tensor<?x128xf32>, tensor<8x128xf32>, tensor<8x256x128xf32>, tensor<8x128x256xf32>
  %moe = llm.moe %h2, %router, %w1, %w3, %w2 routing topk_softmax
      {top_k = 2 : i64, placement = #llm.placement<[device, device, device, device, host, host, host, storage]>}
      : tensor<?x128xf32>, tensor<8x128xf32>, tensor<8x256x128xf32>, tensor<8x128x256xf32>
  // CHECK: %[[OUT:.*]] = llm.add %{{.*}}, %[[MOE]]
  %out = llm.add %r1, %moe : tensor<?x128xf32>
  // CHECK: return %[[OUT]]
  return %out, %kv2 : tensor<?x128xf32>, !llm.kv_cache<4x4096x2x32, f32>
}
