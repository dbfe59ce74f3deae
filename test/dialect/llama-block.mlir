// A full Llama decoder layer (stories260K shapes: dim 64, 8 heads, 4 KV
// heads, head_dim 8, hidden 172) written in the llm dialect. It must verify
// and printing must be a fixed point: llmc-opt x | llmc-opt == llmc-opt x.
// RUN: llmc-opt %s -o %t.1 && llmc-opt %t.1 -o %t.2 && diff %t.1 %t.2 && FileCheck %s --input-file %t.2
// RUN: llmc-opt %s --mlir-print-op-generic | llmc-opt | diff %t.1 - && FileCheck %s --input-file %t.1

// CHECK-LABEL: func.func @decoder_layer
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: index, %[[KV:.*]]: !llm.kv_cache<5x512x4x8, f32>)
func.func @decoder_layer(%x: tensor<?x64xf32>, %pos: index, %kv: !llm.kv_cache<5x512x4x8, f32>)
    -> (tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32>) {
  // Attention block.
  // CHECK: %[[ATTN_NORM:.*]] = llm.param "layers.2.attention_norm.weight" : tensor<64xf32>
  %attn_norm = llm.param "layers.2.attention_norm.weight" : tensor<64xf32>
  %wq = llm.param "layers.2.attention.wq.weight" : tensor<64x64xf32>
  %wk = llm.param "layers.2.attention.wk.weight" : tensor<32x64xf32>
  %wv = llm.param "layers.2.attention.wv.weight" : tensor<32x64xf32>
  %wo = llm.param "layers.2.attention.wo.weight" : tensor<64x64xf32>
  // CHECK: %[[H:.*]] = llm.rms_norm %[[X]], %[[ATTN_NORM]] {eps = 1.000000e-05 : f64}
  %h = llm.rms_norm %x, %attn_norm {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: %[[Q:.*]] = llm.linear %[[H]], %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %q = llm.linear %h, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  // CHECK: %[[K:.*]] = llm.linear %[[H]], %{{.*}} : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %k = llm.linear %h, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  // CHECK: %[[V:.*]] = llm.linear %[[H]], %{{.*}} : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %v = llm.linear %h, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  // CHECK: %[[QR:.*]] = llm.rope %[[Q]], %[[POS]] style interleaved {head_dim = 8 : i64, theta = 1.000000e+04 : f64}
  %qr = llm.rope %q, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
  // CHECK: %[[KR:.*]] = llm.rope %[[K]], %[[POS]] style interleaved
  %kr = llm.rope %k, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x32xf32>
  // CHECK: %[[O:.*]], %[[NEWKV:.*]] = llm.attention %[[QR]], %[[KR]], %[[V]], %[[KV]][%[[POS]]] {causal, layer = 2 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64}
  %o, %kv2 = llm.attention %qr, %kr, %v, %kv[%pos] {layer = 2 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal}
      : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
  // CHECK: %[[PROJ:.*]] = llm.linear %[[O]]
  %proj = llm.linear %o, %wo : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  // CHECK: %[[R1:.*]] = llm.add %[[X]], %[[PROJ]] : tensor<?x64xf32>
  %r1 = llm.add %x, %proj : tensor<?x64xf32>

  // Feed-forward block: w2(silu(w1 x) * w3 x).
  %ffn_norm = llm.param "layers.2.ffn_norm.weight" : tensor<64xf32>
  %w1 = llm.param "layers.2.feed_forward.w1.weight" : tensor<172x64xf32>
  %w2 = llm.param "layers.2.feed_forward.w2.weight" : tensor<64x172xf32>
  %w3 = llm.param "layers.2.feed_forward.w3.weight" : tensor<172x64xf32>
  // CHECK: %[[H2:.*]] = llm.rms_norm %[[R1]]
  %h2 = llm.rms_norm %r1, %ffn_norm {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  // CHECK: %[[GATE:.*]] = llm.linear %[[H2]], %{{.*}} : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %gate = llm.linear %h2, %w1 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: %[[UP:.*]] = llm.linear %[[H2]]
  %up = llm.linear %h2, %w3 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  // CHECK: %[[ACT:.*]] = llm.swiglu %[[GATE]], %[[UP]] : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
  %act = llm.swiglu %gate, %up : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
  // CHECK: %[[DOWN:.*]] = llm.linear %[[ACT]], %{{.*}} : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
  %down = llm.linear %act, %w2 : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
  // CHECK: %[[OUT:.*]] = llm.add %[[R1]], %[[DOWN]]
  %out = llm.add %r1, %down : tensor<?x64xf32>
  // CHECK: return %[[OUT]], %[[NEWKV]]
  return %out, %kv2 : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32>
}
