// RUN: llmc-opt %s --llm-observe-layers | FileCheck %s
// RUN: llmc-opt %s --llm-observe-layers --llm-optimize --llm-observe | FileCheck %s --check-prefix=FUSED
// RUN: not llmc-opt %s --llm-observe-layers --llm-observe-layers 2>&1 | FileCheck %s --check-prefix=TWICE
// RUN: llmc-opt %S/Inputs/moe-model.mlir --llm-observe-layers | FileCheck %s --check-prefix=MOE

// Mixture-of-experts layers: each llm.moe's router logits are recomputed
// next to it (an llm.linear of its input and router weight) and observed
// as `router.<layer>`, after the hidden states in the table, with top_k.
// MOE: llm.observe = [{{.*}}{features = 8 : i64, keys = ["hidden.2"], site = 2 : i64}, {features = 4 : i64, keys = ["router.0"], site = 3 : i64, top_k = 2 : i64}, {features = 4 : i64, keys = ["router.1"], site = 4 : i64, top_k = 2 : i64}]
// MOE: %[[R0:.*]] = llm.param "l0.router"
// MOE: %[[L0:.*]] = llm.linear %[[F0:.*]], %[[R0]] : tensor<?x8xf32>, tensor<4x8xf32> -> tensor<?x4xf32>
// MOE-NEXT: llm.observe %[[L0]] {keys = ["router.0"], site = 3 : i64} : tensor<?x4xf32>
// MOE-NEXT: llm.moe %[[F0]], %[[R0]]
// MOE: %[[R1:.*]] = llm.param "l1.router"
// MOE: %[[L1:.*]] = llm.linear %[[F1:.*]], %[[R1]]
// MOE-NEXT: llm.observe %[[L1]] {keys = ["router.1"], site = 4 : i64}
// MOE-NEXT: llm.moe %[[F1]], %[[R1]]

// Three layers: sites 0..2 observe each layer's input (the embedding, then
// the residual add ending the layer before; these layers are attention
// only), site 3 the last layer's output, right
// where each value is defined.
// CHECK: module attributes {llm.observe = [{features = 8 : i64, keys = ["hidden.0"], site = 0 : i64}, {features = 8 : i64, keys = ["hidden.1"], site = 1 : i64}, {features = 8 : i64, keys = ["hidden.2"], site = 2 : i64}, {features = 8 : i64, keys = ["hidden.3"], site = 3 : i64}]}
// CHECK: %[[X0:.*]] = llm.embedding
// CHECK-NEXT: llm.observe %[[X0]] {keys = ["hidden.0"], site = 0 : i64} : tensor<?x8xf32>
// CHECK: llm.attention {{.*}}layer = 0
// CHECK: %[[X1:.*]] = llm.add
// CHECK-NEXT: llm.observe %[[X1]] {keys = ["hidden.1"], site = 1 : i64}
// CHECK: llm.attention {{.*}}layer = 1
// CHECK: %[[X2:.*]] = llm.add
// CHECK-NEXT: llm.observe %[[X2]] {keys = ["hidden.2"], site = 2 : i64}
// CHECK: llm.attention {{.*}}layer = 2
// CHECK: %[[X3:.*]] = llm.add
// CHECK-NEXT: llm.observe %[[X3]] {keys = ["hidden.3"], site = 3 : i64}
// CHECK: llm.rms_norm %[[X3]]

// Fusion still folds the residual adds into the linears; the linears'
// sites (llm-observe) follow the hidden states' in the table.
// FUSED: {features = 8 : i64, keys = ["hidden.3"], site = 3 : i64}, {features = 8 : i64, keys = ["scale_columns(concat(l0.wq,l0.wk,l0.wv),l0.an)"], site = 4 : i64}
// FUSED: %[[R1:.*]] = llm.linear %{{.*}}, %{{.*}} residual(
// FUSED-NEXT: llm.observe %[[R1]] {keys = ["hidden.1"], site = 1 : i64}
// FUSED-NOT: llm.add

// TWICE: error: llm-observe-layers: the layers are already observed
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !llm.kv_cache<3x16x1x8, f32>)
    -> (tensor<?x32xf32>, !llm.kv_cache<3x16x1x8, f32>) {
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
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<3x16x1x8, f32>
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
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<3x16x1x8, f32>
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
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<3x16x1x8, f32>
  %wo2 = llm.param "l2.wo" : tensor<8x8xf32>
  %o2 = llm.linear %a2, %wo2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x3 = llm.add %x2, %o2 : tensor<?x8xf32>
  %norm = llm.param "norm" : tensor<8xf32>
  %hn = llm.rms_norm %x3, %norm {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %logits = llm.linear %hn, %emb : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>
  return %logits, %c2 : tensor<?x32xf32>, !llm.kv_cache<3x16x1x8, f32>
}
