//===- FusionPasses.td - fusion and flash attention --------*- tablegen -*-===//
//
// Included by Passes.td (which documents the conventions).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_FUSIONPASSES_TD
#define LLMC_PASSES_FUSIONPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Fusion (the llm-optimize pipeline, -O2)
//===----------------------------------------------------------------------===//

def FuseQKV : Pass<"llm-fuse-qkv", "mlir::ModuleOp"> {
  let summary = "Fuse linears that share an input into one linear";
  let description = [{
    Linears reading the same activation (Q, K and V; with or without bias)
    become one linear over the symbolic `llm.concat` of their weights (and
    biases), evaluated once at pack time, followed by `tensor.extract_slice`s
    of its result. The gate and up projections of a two-operand
    `llm.swiglu` become one linear feeding the single-operand `llm.swiglu`.
    A linear joins a group when it has no epilogue yet, its weight and bias
    are pack-time values, and its weight element type, in-features and bias
    presence match the group's; weights must be available at the first
    member (run `--llm-unify-params` first to hoist them).

    Before:

    ```mlir
    %q = llm.linear %n, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %k = llm.linear %n, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    %v = llm.linear %n, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
    ```

    After:

    ```mlir
    %w = llm.concat %wq, %wk, %wv {axis = 0 : i64}
        : tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32> -> tensor<128x64xf32>
    %qkv = llm.linear %n, %w : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    %t = tensor.dim %qkv, %c0 : tensor<?x128xf32>
    %q = tensor.extract_slice %qkv[0, 0] [%t, 64] [1, 1] : tensor<?x128xf32> to tensor<?x64xf32>
    %k = tensor.extract_slice %qkv[0, 64] [%t, 32] [1, 1] : tensor<?x128xf32> to tensor<?x32xf32>
    %v = tensor.extract_slice %qkv[0, 96] [%t, 32] [1, 1] : tensor<?x128xf32> to tensor<?x32xf32>
    ```

    and `llm.swiglu (linear %x, %wg), (linear %x, %wu)` becomes
    `llm.swiglu (linear %x, (llm.concat %wg, %wu))`.
  }];
  let options = [
    Option<"siblings", "siblings", "bool", /*default=*/"true",
           "Fuse linears sharing an input (Q/K/V)">,
    Option<"gateUp", "gate-up", "bool", /*default=*/"true",
           "Fuse the gate and up projections of llm.swiglu">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FuseNorm : Pass<"llm-fuse-norm", "mlir::ModuleOp"> {
  let summary = "Fuse residual add + RMSNorm; fold the norm scale into linears";
  let description = [{
    `llm.add` feeding `llm.rms_norm` becomes one `llm.add_rms_norm` that
    yields both the sum (the next residual) and the normalized value, so the
    row is read once. The norm's scale `g` is then folded into the weights
    of the linears that consume the norm, `rms(x) * g · Wᵀ = rms(x) · (W
    diag(g))ᵀ`, as the symbolic weight transform `llm.scale_columns`
    (evaluated at pack time); the norm loses its weight operand. Folding is
    legal when every user of the normalized value is an `llm.linear` taking
    it as input, and every such weight is an f32 pack-time value used by
    that linear only (exact, and no second copy of a shared weight such as
    tied embeddings). Otherwise the norm keeps its scale.

    Before:

    ```mlir
    %h = llm.add %x, %attn : tensor<?x64xf32>
    %n = llm.rms_norm %h, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %y = llm.linear %n, %w1 : tensor<?x64xf32>, tensor<344x64xf32> -> tensor<?x344xf32>
    ```

    After:

    ```mlir
    %h, %n = llm.add_rms_norm %x, %attn {eps = 1.0e-05 : f64} : tensor<?x64xf32>
    %w1g = llm.scale_columns %w1, %g : tensor<344x64xf32>, tensor<64xf32>
    %y = llm.linear %n, %w1g : tensor<?x64xf32>, tensor<344x64xf32> -> tensor<?x344xf32>
    ```
  }];
  let options = [
    Option<"residual", "residual", "bool", /*default=*/"true",
           "Fuse llm.add + llm.rms_norm into llm.add_rms_norm">,
    Option<"foldScale", "fold-scale", "bool", /*default=*/"true",
           "Fold the norm scale into the consuming linears' weights">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def FuseEpilogue : Pass<"llm-fuse-epilogue", "mlir::ModuleOp"> {
  let summary = "Fold activations and residual adds into the producing linear";
  let description = [{
    A linear whose result feeds only `llm.silu` / `llm.gelu` takes the
    activation as its `activation` epilogue; a linear whose result feeds
    only an `llm.add` takes the add's other operand as its `residual`
    (`result = act(x · Wᵀ + bias) + residual`). Backends apply the epilogue
    while the output tile is in registers: the CPU lowering seeds the
    accumulator with the residual (and bias), so no extra pass over the
    activations remains. Biases are already part of `llm.linear` (the
    importers put them there). Works on `llm.qlinear` alike.

    Before:

    ```mlir
    %o = llm.linear %a, %wo : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    %h = llm.add %x, %o : tensor<?x64xf32>
    ```

    After:

    ```mlir
    %h = llm.linear %a, %wo residual(%x : tensor<?x64xf32>)
        : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"activation", "activation", "bool", /*default=*/"true",
           "Fold llm.silu / llm.gelu into the linear">,
    Option<"residual", "residual", "bool", /*default=*/"true",
           "Fold the residual llm.add into the linear">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def FuseDequant : Pass<"llm-fuse-dequant", "mlir::ModuleOp"> {
  let summary = "Turn dequantize -> linear into a quantized linear";
  let description = [{
    `llm.linear` over `llm.dequantize(q, scales, zeros)` becomes
    `llm.qlinear` over `q` with the same scales, zeros, quantization,
    bias and epilogue: the weight stays quantized in memory and is
    dequantized in registers by the backend. A dequantize with other users
    stays for them.

    Before:

    ```mlir
    %w = llm.dequantize %q {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>}
        : tensor<64x64xi8> -> tensor<64x64xf32>
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    ```

    After:

    ```mlir
    %y = llm.qlinear %x, %q {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>}
        : tensor<?x64xf32>, tensor<64x64xi8> -> tensor<?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def FlashAttention : Pass<"llm-flash-attention", "mlir::ModuleOp"> {
  let summary = "Select the tiled online-softmax (flash) attention kernel";
  let description = [{
    Marks every `llm.attention` with `llm.flash`, a dictionary the backends'
    attention lowering reads (without it, attention materializes the score
    matrix: the -O0 reference path):

    - every query token (prefill and decode) streams the visible cache
      positions in blocks of 16 with an online softmax (running max, running
      sum, rescaled accumulator), so no `[heads, tokens, positions]` score
      matrix is ever allocated and causal/sliding-window blocks that are
      never visible are skipped;
    - one-token steps (decode) split the positions into `decode-splits`
      chunks run as separate parallel tasks (FlashDecoding), whose partial
      softmaxes are combined. With `softmax=unified` (FlashDecoding++) each
      chunk exponentiates against one fixed `unified-max` instead of its
      running max, so chunks need no rescaling and combine by plain sums; if
      any chunk's true maximum leaves `[unified-max - 60, unified-max + 60]`
      (exp would over- or underflow) the step is recomputed with the
      synchronized variant. `softmax=online` is the synchronized variant:
      each chunk rescales by its own running max and the combine rescales by
      the maximum over chunks.

    Before:

    ```mlir
    %o, %kv1 = llm.attention %q, %k, %v, %kv0[%pos]
        {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal}
        : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
    ```

    After:

    ```mlir
    %o, %kv1 = llm.attention %q, %k, %v, %kv0[%pos]
        {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal,
         llm.flash = {decode_splits = 2 : i64, softmax = "unified", unified_max = 0.0 : f64}}
        : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
    ```

    What `--convert-llm-to-linalg` then emits for a decode step (excerpt):
    the cache is read in place through a flat read-only view, one task per
    (KV head, group member, token, chunk) keeps only a running sum and a
    head_dim accumulator, and each block of 16 positions is one vector of
    scores exponentiated against the fixed maximum:

    ```mlir
    %buf = bufferization.to_buffer %cache read_only : tensor<5x2x4x512x8xf32> to memref<5x2x4x512x8xf32>
    %flat = memref.collapse_shape %buf [[0, 1, 2, 3, 4]] : memref<5x2x4x512x8xf32> into memref<81920xf32>
    %parts:3 = scf.forall (%kvh, %g, %t, %chunk) in (4, 2, %T, %splits) shared_outs(...) {
      %r:3 = scf.for %blk = %lo to %hi step %c16 iter_args(%m, %l, %acc) -> (f32, f32, vector<8xf32>) {
        %k = vector.load %flat[%koff] : memref<81920xf32>, vector<16xf32>
        %s = vector.fma %qd, %k, %s0 : vector<16xf32>       // q . k, 16 positions
        %vis = arith.cmpi uge, %limit, %positions : vector<16xindex>  // causal
        %p = math.exp %shifted : vector<16xf32>           // exp(s - unified_max)
        %vals = vector.load %flat[%voff] : memref<81920xf32>, vector<128xf32>
        %acc1 = vector.fma %p_i, %v_i, %acc : vector<8xf32>   // x16
        ...
      }
      scf.forall.in_parallel { tensor.parallel_insert_slice ... }
    }
    // combine: sums of the chunks' (acc, sum); a chunk maximum outside
    // unified_max +- 60 recomputes the step with the synchronized kernel.
    ```
  }];
  let options = [
    Option<"decodeSplits", "decode-splits", "int64_t", /*default=*/"2",
           "Chunks of the cache positions per head in a one-token step">,
    Option<"softmax", "softmax", "std::string", /*default=*/"\"unified\"",
           "How decode chunks combine: unified (FlashDecoding++) or online "
           "(synchronized)">,
    Option<"unifiedMax", "unified-max", "double", /*default=*/"0.0",
           "The fixed exponent offset of softmax=unified">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

#endif // LLMC_PASSES_FUSIONPASSES_TD
