module attributes {llm.model = {arch = "llama", dim = 128 : i64, format = "llama2c", head_dim = 16 : i64, hidden_dim = 96 : i64, max_seq_len = 320 : i64, n_heads = 8 : i64, n_kv_heads = 2 : i64, n_layers = 2 : i64, path = "tiny-llama.bin", tied_embeddings = false, vocab_size = 64 : i64}} {
  func.func @forward(%arg0: tensor<?xi32>, %arg1: index, %arg2: !llm.kv_cache<2x320x2x16, f32>, %arg3: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x320x2x16, f32>) {
    %0 = llm.param "tok_embeddings.weight" : tensor<64x128xf32>
    %1 = llm.param "layers.0.attention_norm.weight" : tensor<128xf32>
    %2 = llm.param "layers.0.attention.wq.weight" : tensor<128x128xf32>
    %3 = llm.param "layers.0.attention.wk.weight" : tensor<32x128xf32>
    %4 = llm.param "layers.0.attention.wv.weight" : tensor<32x128xf32>
    %5 = llm.param "layers.0.attention.wo.weight" : tensor<128x128xf32>
    %6 = llm.param "layers.0.ffn_norm.weight" : tensor<128xf32>
    %7 = llm.param "layers.0.feed_forward.w1.weight" : tensor<96x128xf32>
    %8 = llm.param "layers.0.feed_forward.w3.weight" : tensor<96x128xf32>
    %9 = llm.param "layers.0.feed_forward.w2.weight" : tensor<128x96xf32>
    %10 = llm.param "layers.1.attention_norm.weight" : tensor<128xf32>
    %11 = llm.param "layers.1.attention.wq.weight" : tensor<128x128xf32>
    %12 = llm.param "layers.1.attention.wk.weight" : tensor<32x128xf32>
    %13 = llm.param "layers.1.attention.wv.weight" : tensor<32x128xf32>
    %14 = llm.param "layers.1.attention.wo.weight" : tensor<128x128xf32>
    %15 = llm.param "layers.1.ffn_norm.weight" : tensor<128xf32>
    %16 = llm.param "layers.1.feed_forward.w1.weight" : tensor<96x128xf32>
    %17 = llm.param "layers.1.feed_forward.w3.weight" : tensor<96x128xf32>
    %18 = llm.param "layers.1.feed_forward.w2.weight" : tensor<128x96xf32>
    %19 = llm.param "norm.weight" : tensor<128xf32>
    %20 = llm.param "output.weight" : tensor<64x128xf32>
    %21 = llm.embedding %0[%arg0] : tensor<64x128xf32>, tensor<?xi32> -> tensor<?x128xf32>
    %22 = llm.rms_norm %21, %1 {eps = 1.000000e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
    %23 = llm.linear %22, %2 : tensor<?x128xf32>, tensor<128x128xf32> -> tensor<?x128xf32>
    %24 = llm.linear %22, %3 : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
    %25 = llm.linear %22, %4 : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
    %26 = llm.rope %24, %arg1 style interleaved {head_dim = 16 : i64, theta = 1.000000e+04 : f64} : tensor<?x32xf32>
    %27 = llm.rope %23, %arg1 style interleaved {head_dim = 16 : i64, theta = 1.000000e+04 : f64} : tensor<?x128xf32>
    %output, %new_cache = llm.attention %27, %26, %25, %arg2[%arg1] {causal, layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 2 : i64} : tensor<?x128xf32>, tensor<?x32xf32>, !llm.kv_cache<2x320x2x16, f32>
    %28 = llm.linear %output, %5 : tensor<?x128xf32>, tensor<128x128xf32> -> tensor<?x128xf32>
    %29 = llm.add %21, %28 : tensor<?x128xf32>
    %30 = llm.rms_norm %29, %6 {eps = 1.000000e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
    %31 = llm.linear %30, %7 : tensor<?x128xf32>, tensor<96x128xf32> -> tensor<?x96xf32>
    %32 = llm.linear %30, %8 : tensor<?x128xf32>, tensor<96x128xf32> -> tensor<?x96xf32>
    %33 = llm.swiglu %31, %32 : tensor<?x96xf32>, tensor<?x96xf32> -> tensor<?x96xf32>
    %34 = llm.linear %33, %9 : tensor<?x96xf32>, tensor<128x96xf32> -> tensor<?x128xf32>
    %35 = llm.add %29, %34 : tensor<?x128xf32>
    %36 = llm.rms_norm %35, %10 {eps = 1.000000e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
    %37 = llm.linear %36, %11 : tensor<?x128xf32>, tensor<128x128xf32> -> tensor<?x128xf32>
    %38 = llm.linear %36, %12 : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
    %39 = llm.linear %36, %13 : tensor<?x128xf32>, tensor<32x128xf32> -> tensor<?x32xf32>
    %40 = llm.rope %38, %arg1 style interleaved {head_dim = 16 : i64, theta = 1.000000e+04 : f64} : tensor<?x32xf32>
    %41 = llm.rope %37, %arg1 style interleaved {head_dim = 16 : i64, theta = 1.000000e+04 : f64} : tensor<?x128xf32>
    %output_0, %new_cache_1 = llm.attention %41, %40, %39, %new_cache[%arg1] {causal, layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 2 : i64} : tensor<?x128xf32>, tensor<?x32xf32>, !llm.kv_cache<2x320x2x16, f32>
    %42 = llm.linear %output_0, %14 : tensor<?x128xf32>, tensor<128x128xf32> -> tensor<?x128xf32>
    %43 = llm.add %35, %42 : tensor<?x128xf32>
    %44 = llm.rms_norm %43, %15 {eps = 1.000000e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
    %45 = llm.linear %44, %16 : tensor<?x128xf32>, tensor<96x128xf32> -> tensor<?x96xf32>
    %46 = llm.linear %44, %17 : tensor<?x128xf32>, tensor<96x128xf32> -> tensor<?x96xf32>
    %47 = llm.swiglu %45, %46 : tensor<?x96xf32>, tensor<?x96xf32> -> tensor<?x96xf32>
    %48 = llm.linear %47, %18 : tensor<?x96xf32>, tensor<128x96xf32> -> tensor<?x128xf32>
    %49 = llm.add %43, %48 : tensor<?x128xf32>
    %c0 = arith.constant 0 : index
    %dim = tensor.dim %49, %c0 : tensor<?x128xf32>
    %50 = arith.subi %dim, %arg3 : index
    %extracted_slice = tensor.extract_slice %49[%50, 0] [%arg3, 128] [1, 1] : tensor<?x128xf32> to tensor<?x128xf32>
    %51 = llm.rms_norm %extracted_slice, %19 {eps = 1.000000e-05 : f64} : tensor<?x128xf32>, tensor<128xf32>
    %52 = llm.linear %51, %20 : tensor<?x128xf32>, tensor<64x128xf32> -> tensor<?x64xf32>
    return %52, %new_cache_1 : tensor<?x64xf32>, !llm.kv_cache<2x320x2x16, f32>
  }
}
