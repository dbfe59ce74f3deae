// A tiny Llama (stories260K shapes, 2 layers) in the llm dialect: the example
// README command (1) runs llmc-opt over. Weights are referenced by name only.
module attributes {llm.model = "tiny-llama"} {
  func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !llm.kv_cache<2x512x4x8, f32>)
      -> (tensor<?x512xf32>, !llm.kv_cache<2x512x4x8, f32>) {
    %emb = llm.param "tok_embeddings.weight" : tensor<512x64xf32>
    %x0 = llm.embedding %emb[%tokens] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    // Layer 0
    %an0 = llm.param "layers.0.attention_norm.weight" : tensor<64xf32>
    %h0 = llm.rms_norm %x0, %an0 {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %wq0 = llm.param "layers.0.attention.wq.weight" : tensor<64x64xf32>
    %q0 = llm.linear %h0, %wq0 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %wk0 = llm.param "layers.0.attention.wk.weight" : tensor<32x64xf32>
    %k0 = llm.linear %h0, %wk0 : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %wv0 = llm.param "layers.0.attention.wv.weight" : tensor<32x64xf32>
    %v0 = llm.linear %h0, %wv0 : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %qr0 = llm.rope %q0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
    %kr0 = llm.rope %k0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x32xf32>
    %att0, %kv0 = llm.attention %qr0, %kr0, %v0, %kv[%pos] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal}
        : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x512x4x8, f32>
    %wo0 = llm.param "layers.0.attention.wo.weight" : tensor<64x64xf32>
    %o0 = llm.linear %att0, %wo0 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %r0 = llm.add %x0, %o0 : tensor<?x64xf32>
    %fn0 = llm.param "layers.0.ffn_norm.weight" : tensor<64xf32>
    %f0 = llm.rms_norm %r0, %fn0 {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %w1_0 = llm.param "layers.0.feed_forward.w1.weight" : tensor<172x64xf32>
    %w3_0 = llm.param "layers.0.feed_forward.w3.weight" : tensor<172x64xf32>
    %w2_0 = llm.param "layers.0.feed_forward.w2.weight" : tensor<64x172xf32>
    %g0 = llm.linear %f0, %w1_0 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %u0 = llm.linear %f0, %w3_0 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %s0 = llm.swiglu %g0, %u0 : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
    %d0 = llm.linear %s0, %w2_0 : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
    %x1 = llm.add %r0, %d0 : tensor<?x64xf32>
    // Layer 1
    %an1 = llm.param "layers.1.attention_norm.weight" : tensor<64xf32>
    %h1 = llm.rms_norm %x1, %an1 {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %wq1 = llm.param "layers.1.attention.wq.weight" : tensor<64x64xf32>
    %q1 = llm.linear %h1, %wq1 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %wk1 = llm.param "layers.1.attention.wk.weight" : tensor<32x64xf32>
    %k1 = llm.linear %h1, %wk1 : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %wv1 = llm.param "layers.1.attention.wv.weight" : tensor<32x64xf32>
    %v1 = llm.linear %h1, %wv1 : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %qr1 = llm.rope %q1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
    %kr1 = llm.rope %k1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x32xf32>
    %att1, %kv1 = llm.attention %qr1, %kr1, %v1, %kv0[%pos] {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal}
        : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x512x4x8, f32>
    %wo1 = llm.param "layers.1.attention.wo.weight" : tensor<64x64xf32>
    %o1 = llm.linear %att1, %wo1 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %r1 = llm.add %x1, %o1 : tensor<?x64xf32>
    %fn1 = llm.param "layers.1.ffn_norm.weight" : tensor<64xf32>
    %f1 = llm.rms_norm %r1, %fn1 {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %w1_1 = llm.param "layers.1.feed_forward.w1.weight" : tensor<172x64xf32>
    %w3_1 = llm.param "layers.1.feed_forward.w3.weight" : tensor<172x64xf32>
    %w2_1 = llm.param "layers.1.feed_forward.w2.weight" : tensor<64x172xf32>
    %g1 = llm.linear %f1, %w1_1 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %u1 = llm.linear %f1, %w3_1 : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %s1 = llm.swiglu %g1, %u1 : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
    %d1 = llm.linear %s1, %w2_1 : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
    %x2 = llm.add %r1, %d1 : tensor<?x64xf32>
    %norm = llm.param "norm.weight" : tensor<64xf32>
    %hn = llm.rms_norm %x2, %norm {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %cls = llm.param "tok_embeddings.weight" : tensor<512x64xf32>
    %logits = llm.linear %hn, %cls : tensor<?x64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>
    return %logits, %kv1 : tensor<?x512xf32>, !llm.kv_cache<2x512x4x8, f32>
  }
}
