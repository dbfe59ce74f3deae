// RUN: llmc-opt %s --llm-outline-layers --split-input-file | FileCheck %s

// Five layers; segment l runs from after attention l-1 to attention l.
// Segments 1-3 are the same code (layer l-1's output projection and
// residual, layer l's norm, projections, RoPE and attention): one function,
// called with each layer's weights, the incoming values, the cache and the
// layer index. Segment 4 ends in a sliding-window attention: left inline.
// CHECK-LABEL: func.func @forward
// CHECK: %{{.*}}, %[[C0:.*]] = llm.attention {{.*}} {causal, layer = 0 : i64
// CHECK: %[[L1:.*]] = arith.constant 1 : index
// CHECK: %[[R1:.*]]:3 = call @llm_layer_0(%{{.*}}, %[[C0]], %[[L1]])
// CHECK: %[[L2:.*]] = arith.constant 2 : index
// CHECK: %[[R2:.*]]:3 = call @llm_layer_0({{.*}}%[[R1]]#2, %[[L2]])
// CHECK: %[[L3:.*]] = arith.constant 3 : index
// CHECK: %[[R3:.*]]:3 = call @llm_layer_0({{.*}}%[[R2]]#2, %[[L3]])
// CHECK: llm.attention {{.*}}, %[[R3]]#2[%arg1] {causal, layer = 4 : i64, {{.*}}sliding_window = 4 : i64}
// CHECK-NOT: call
// CHECK: return
// The function: weights and incoming values as arguments, the attention's
// cache layer from the last argument.
// CHECK-LABEL: func.func private @llm_layer_0(
// CHECK-SAME: %[[LAYER:[a-z0-9]+]]: index) -> (tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>)
// CHECK: llm.linear
// CHECK: llm.add
// CHECK: llm.rms_norm
// CHECK: llm.rope
// CHECK: llm.attention {{.*}}[%{{.*}}] layer(%[[LAYER]]) {causal, layer = 1 : i64
// CHECK: return
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !llm.kv_cache<5x16x1x8, f32>)
    -> (tensor<?x32xf32>, !llm.kv_cache<5x16x1x8, f32>) {
  %emb = llm.param "emb" : tensor<32x8xf32>
  %x0 = llm.embedding %emb[%tokens] : tensor<32x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %an0 = llm.param "l0.an" : tensor<8xf32>
  %h0 = llm.rms_norm %x0, %an0 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq0 = llm.param "l0.wq" : tensor<8x8xf32>
  %q0 = llm.linear %h0, %wq0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk0 = llm.param "l0.wk" : tensor<8x8xf32>
  %k0 = llm.linear %h0, %wk0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv0 = llm.param "l0.wv" : tensor<8x8xf32>
  %v0 = llm.linear %h0, %wv0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr0 = llm.rope %q0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr0 = llm.rope %k0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a0, %c0 = llm.attention %qr0, %kr0, %v0, %kv[%pos] {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo0 = llm.param "l0.wo" : tensor<8x8xf32>
  %o0 = llm.linear %a0, %wo0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x1 = llm.add %x0, %o0 : tensor<?x8xf32>
  %an1 = llm.param "l1.an" : tensor<8xf32>
  %h1 = llm.rms_norm %x1, %an1 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq1 = llm.param "l1.wq" : tensor<8x8xf32>
  %q1 = llm.linear %h1, %wq1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk1 = llm.param "l1.wk" : tensor<8x8xf32>
  %k1 = llm.linear %h1, %wk1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv1 = llm.param "l1.wv" : tensor<8x8xf32>
  %v1 = llm.linear %h1, %wv1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr1 = llm.rope %q1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr1 = llm.rope %k1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a1, %c1 = llm.attention %qr1, %kr1, %v1, %c0[%pos] {layer = 1 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo1 = llm.param "l1.wo" : tensor<8x8xf32>
  %o1 = llm.linear %a1, %wo1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x2 = llm.add %x1, %o1 : tensor<?x8xf32>
  %an2 = llm.param "l2.an" : tensor<8xf32>
  %h2 = llm.rms_norm %x2, %an2 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq2 = llm.param "l2.wq" : tensor<8x8xf32>
  %q2 = llm.linear %h2, %wq2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk2 = llm.param "l2.wk" : tensor<8x8xf32>
  %k2 = llm.linear %h2, %wk2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv2 = llm.param "l2.wv" : tensor<8x8xf32>
  %v2 = llm.linear %h2, %wv2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr2 = llm.rope %q2, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr2 = llm.rope %k2, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a2, %c2 = llm.attention %qr2, %kr2, %v2, %c1[%pos] {layer = 2 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo2 = llm.param "l2.wo" : tensor<8x8xf32>
  %o2 = llm.linear %a2, %wo2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x3 = llm.add %x2, %o2 : tensor<?x8xf32>
  %an3 = llm.param "l3.an" : tensor<8xf32>
  %h3 = llm.rms_norm %x3, %an3 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq3 = llm.param "l3.wq" : tensor<8x8xf32>
  %q3 = llm.linear %h3, %wq3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk3 = llm.param "l3.wk" : tensor<8x8xf32>
  %k3 = llm.linear %h3, %wk3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv3 = llm.param "l3.wv" : tensor<8x8xf32>
  %v3 = llm.linear %h3, %wv3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr3 = llm.rope %q3, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr3 = llm.rope %k3, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a3, %c3 = llm.attention %qr3, %kr3, %v3, %c2[%pos] {layer = 3 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo3 = llm.param "l3.wo" : tensor<8x8xf32>
  %o3 = llm.linear %a3, %wo3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x4 = llm.add %x3, %o3 : tensor<?x8xf32>
  %an4 = llm.param "l4.an" : tensor<8xf32>
  %h4 = llm.rms_norm %x4, %an4 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq4 = llm.param "l4.wq" : tensor<8x8xf32>
  %q4 = llm.linear %h4, %wq4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk4 = llm.param "l4.wk" : tensor<8x8xf32>
  %k4 = llm.linear %h4, %wk4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv4 = llm.param "l4.wv" : tensor<8x8xf32>
  %v4 = llm.linear %h4, %wv4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr4 = llm.rope %q4, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr4 = llm.rope %k4, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a4, %c4 = llm.attention %qr4, %kr4, %v4, %c3[%pos] {layer = 4 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal, sliding_window = 4 : i64}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo4 = llm.param "l4.wo" : tensor<8x8xf32>
  %o4 = llm.linear %a4, %wo4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x5 = llm.add %x4, %o4 : tensor<?x8xf32>
  %norm = llm.param "norm" : tensor<8xf32>
  %hn = llm.rms_norm %x5, %norm {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %logits = llm.linear %hn, %emb : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>
  return %logits, %c4 : tensor<?x32xf32>, !llm.kv_cache<5x16x1x8, f32>
}

// -----

// Calibration observers (and early exits) keep every layer in place.
// CHECK-LABEL: func.func @forward
// CHECK-NOT: call
// CHECK: llm.observe
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !llm.kv_cache<5x16x1x8, f32>)
    -> (tensor<?x32xf32>, !llm.kv_cache<5x16x1x8, f32>) {
  %emb = llm.param "emb" : tensor<32x8xf32>
  %x0 = llm.embedding %emb[%tokens] : tensor<32x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %an0 = llm.param "l0.an" : tensor<8xf32>
  %h0 = llm.rms_norm %x0, %an0 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq0 = llm.param "l0.wq" : tensor<8x8xf32>
  %q0 = llm.linear %h0, %wq0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk0 = llm.param "l0.wk" : tensor<8x8xf32>
  %k0 = llm.linear %h0, %wk0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv0 = llm.param "l0.wv" : tensor<8x8xf32>
  %v0 = llm.linear %h0, %wv0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr0 = llm.rope %q0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr0 = llm.rope %k0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a0, %c0 = llm.attention %qr0, %kr0, %v0, %kv[%pos] {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo0 = llm.param "l0.wo" : tensor<8x8xf32>
  %o0 = llm.linear %a0, %wo0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x1 = llm.add %x0, %o0 : tensor<?x8xf32>
  %an1 = llm.param "l1.an" : tensor<8xf32>
  %h1 = llm.rms_norm %x1, %an1 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq1 = llm.param "l1.wq" : tensor<8x8xf32>
  %q1 = llm.linear %h1, %wq1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk1 = llm.param "l1.wk" : tensor<8x8xf32>
  %k1 = llm.linear %h1, %wk1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv1 = llm.param "l1.wv" : tensor<8x8xf32>
  %v1 = llm.linear %h1, %wv1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr1 = llm.rope %q1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr1 = llm.rope %k1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a1, %c1 = llm.attention %qr1, %kr1, %v1, %c0[%pos] {layer = 1 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo1 = llm.param "l1.wo" : tensor<8x8xf32>
  %o1 = llm.linear %a1, %wo1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x2 = llm.add %x1, %o1 : tensor<?x8xf32>
  %an2 = llm.param "l2.an" : tensor<8xf32>
  %h2 = llm.rms_norm %x2, %an2 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq2 = llm.param "l2.wq" : tensor<8x8xf32>
  %q2 = llm.linear %h2, %wq2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk2 = llm.param "l2.wk" : tensor<8x8xf32>
  %k2 = llm.linear %h2, %wk2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv2 = llm.param "l2.wv" : tensor<8x8xf32>
  %v2 = llm.linear %h2, %wv2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr2 = llm.rope %q2, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr2 = llm.rope %k2, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a2, %c2 = llm.attention %qr2, %kr2, %v2, %c1[%pos] {layer = 2 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo2 = llm.param "l2.wo" : tensor<8x8xf32>
  %o2 = llm.linear %a2, %wo2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x3 = llm.add %x2, %o2 : tensor<?x8xf32>
  %an3 = llm.param "l3.an" : tensor<8xf32>
  %h3 = llm.rms_norm %x3, %an3 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq3 = llm.param "l3.wq" : tensor<8x8xf32>
  %q3 = llm.linear %h3, %wq3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk3 = llm.param "l3.wk" : tensor<8x8xf32>
  %k3 = llm.linear %h3, %wk3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv3 = llm.param "l3.wv" : tensor<8x8xf32>
  %v3 = llm.linear %h3, %wv3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr3 = llm.rope %q3, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr3 = llm.rope %k3, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a3, %c3 = llm.attention %qr3, %kr3, %v3, %c2[%pos] {layer = 3 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo3 = llm.param "l3.wo" : tensor<8x8xf32>
  %o3 = llm.linear %a3, %wo3 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x4 = llm.add %x3, %o3 : tensor<?x8xf32>
  %an4 = llm.param "l4.an" : tensor<8xf32>
  %h4 = llm.rms_norm %x4, %an4 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq4 = llm.param "l4.wq" : tensor<8x8xf32>
  %q4 = llm.linear %h4, %wq4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk4 = llm.param "l4.wk" : tensor<8x8xf32>
  %k4 = llm.linear %h4, %wk4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv4 = llm.param "l4.wv" : tensor<8x8xf32>
  %v4 = llm.linear %h4, %wv4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr4 = llm.rope %q4, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr4 = llm.rope %k4, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a4, %c4 = llm.attention %qr4, %kr4, %v4, %c3[%pos] {layer = 4 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal, sliding_window = 4 : i64}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<5x16x1x8, f32>
  %wo4 = llm.param "l4.wo" : tensor<8x8xf32>
  %o4 = llm.linear %a4, %wo4 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x5 = llm.add %x4, %o4 : tensor<?x8xf32>
  llm.observe %h0 {site = 0 : i64, keys = ["l0.wq"]} : tensor<?x8xf32>
  %norm = llm.param "norm" : tensor<8xf32>
  %hn = llm.rms_norm %x5, %norm {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %logits = llm.linear %hn, %emb : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>
  return %logits, %c4 : tensor<?x32xf32>, !llm.kv_cache<5x16x1x8, f32>
}
