// A two-layer mixture-of-experts decoder (each layer: attention, then a
// top-2-of-4 llm.moe with stacked expert weights), shared by the MoE pass
// tests.
module attributes {llm.model = {arch = "mixtral", dim = 8 : i64, n_layers = 2 : i64, n_experts = 4 : i64, experts_per_token = 2 : i64}} {
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !llm.kv_cache<2x16x1x8, f32>)
    -> (tensor<?x32xf32>, !llm.kv_cache<2x16x1x8, f32>) {
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
  %a0, %c0 = llm.attention %q0, %k0, %v0, %kv[%pos] {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<2x16x1x8, f32>
  %wo0 = llm.param "l0.wo" : tensor<8x8xf32>
  %o0 = llm.linear %a0, %wo0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %r0 = llm.add %x0, %o0 : tensor<?x8xf32>
  %fn0 = llm.param "l0.fn" : tensor<8xf32>
  %f0 = llm.rms_norm %r0, %fn0 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %router0 = llm.param "l0.router" : tensor<4x8xf32>
  %g0 = llm.param "l0.gate_exps" : tensor<4x16x8xf32>
  %u0 = llm.param "l0.up_exps" : tensor<4x16x8xf32>
  %d0 = llm.param "l0.down_exps" : tensor<4x8x16xf32>
  %m0 = llm.moe %f0, %router0, %g0, %u0, %d0 routing topk_softmax {top_k = 2 : i64}
      : tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>
  %x1 = llm.add %r0, %m0 : tensor<?x8xf32>
  %an1 = llm.param "l1.an" : tensor<8xf32>
  %h1 = llm.rms_norm %x1, %an1 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq1 = llm.param "l1.wq" : tensor<8x8xf32>
  %q1 = llm.linear %h1, %wq1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk1 = llm.param "l1.wk" : tensor<8x8xf32>
  %k1 = llm.linear %h1, %wk1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv1 = llm.param "l1.wv" : tensor<8x8xf32>
  %v1 = llm.linear %h1, %wv1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %a1, %c1 = llm.attention %q1, %k1, %v1, %c0[%pos] {layer = 1 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<2x16x1x8, f32>
  %wo1 = llm.param "l1.wo" : tensor<8x8xf32>
  %o1 = llm.linear %a1, %wo1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %r1 = llm.add %x1, %o1 : tensor<?x8xf32>
  %fn1 = llm.param "l1.fn" : tensor<8xf32>
  %f1 = llm.rms_norm %r1, %fn1 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %router1 = llm.param "l1.router" : tensor<4x8xf32>
  %g1 = llm.param "l1.gate_exps" : tensor<4x16x8xf32>
  %u1 = llm.param "l1.up_exps" : tensor<4x16x8xf32>
  %d1 = llm.param "l1.down_exps" : tensor<4x8x16xf32>
  %m1 = llm.moe %f1, %router1, %g1, %u1, %d1 routing topk_softmax {top_k = 2 : i64}
      : tensor<?x8xf32>, tensor<4x8xf32>, tensor<4x16x8xf32>, tensor<4x8x16xf32>
  %x2 = llm.add %r1, %m1 : tensor<?x8xf32>
  %norm = llm.param "norm" : tensor<8xf32>
  %hn = llm.rms_norm %x2, %norm {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %logits = llm.linear %hn, %emb : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>
  return %logits, %c1 : tensor<?x32xf32>, !llm.kv_cache<2x16x1x8, f32>
}
}
