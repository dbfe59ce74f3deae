//===- Passes.td - every llmc pass -------------------------*- tablegen -*-===//
//
// One declaration per pass; the implementation is one .cpp in passes/ that
// derives from the generated base, and one lit file in test/passes/.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_PASSES_TD
#define LLMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def UnifyParams : Pass<"llm-unify-params", "mlir::ModuleOp"> {
  let summary = "Merge llm.param ops naming the same weight and hoist them";
  let description = [{
    Importers and passes create `llm.param` ops wherever a weight is used.
    This pass gives every function one `llm.param` per weight name, placed at
    the top of the entry block in first-use order, so the function starts
    with its weight table. A weight name declared with two different types
    or quantizations anywhere in the module is an error (it would make
    packing ambiguous), reported at both declarations.

    Before:

    ```mlir
    %h = llm.rms_norm %x, %g : ...
    %a = llm.param "w" : tensor<4x4xf32>
    %y = llm.linear %h, %a : ...
    %b = llm.param "w" : tensor<4x4xf32>
    %z = llm.linear %y, %b : ...
    ```

    After:

    ```mlir
    %a = llm.param "w" : tensor<4x4xf32>
    %h = llm.rms_norm %x, %g : ...
    %y = llm.linear %h, %a : ...
    %z = llm.linear %y, %a : ...
    ```
  }];
  let options = [
    Option<"hoist", "hoist", "bool", /*default=*/"true",
           "Move the params to the start of their function's entry block">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def Roofline : Pass<"llm-roofline", "mlir::ModuleOp"> {
  let summary = "Annotate every llm op with its roofline cost on a hardware";
  let description = [{
    An analysis in the sense of "LLM Inference Unveiled: Survey and Roofline
    Model Insights" (LLM-Viewer): for each `llm` op it computes FLOPs (a
    multiply-add counts 2) and bytes moved, split into weight load,
    activation load, activation store, KV-cache load and KV-cache store, then
    the arithmetic intensity, the attainable performance
    `min(peak, intensity * bandwidth)` on the chosen hardware, whether the op
    is memory- or compute-bound, and the predicted time
    `max(flops / peak, bytes / bandwidth)`. Results go into an
    `llm.roofline` dictionary attribute on each op and `llm.roofline.total`
    on the module. The IR is otherwise unchanged.

    Precision comes from the IR: weight element types and `#llm.quant`
    (bits plus scale overhead), activation element types, the KV cache's
    element type. `?` token dimensions are `seq` (prefill) or 1 (decode),
    times `batch`. Ops are costed as the backends compile them: an
    `llm.attention` marked `llm.flash` (`--llm-flash-attention`) keeps its
    scores in registers, so only Q/K/V, the output and the cache move;
    without it the reference kernel's score matrix
    `[heads, tokens, positions]` is written 4 times and read 5 times. Fused
    epilogues (`residual`, `activation`) and `llm.add_rms_norm` count one
    pass over their activations. Weight transforms on `llm.param` values
    (`llm.concat`, `llm.scale_columns`, `llm.quantize`,
    `tensor.expand_shape`) happen at pack time and cost nothing. An
    `llm.moe` reads the experts a batch is expected to touch:
    `E * (1 - (1 - top_k/E)^tokens)`.

    Hardware presets (peak FLOP/s per dtype, bandwidth, datasheet source)
    are read from `data/hardware.json` or `hardware-file`.

    Before:

    ```mlir
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    ```

    After (`hardware=nvidia-a100-80gb phase=prefill seq=16`):

    ```mlir
    %y = llm.linear %x, %w {llm.roofline = {act_load_bytes = 4096 : i64,
        act_store_bytes = 8192 : i64, attainable_flops = 1.186e+13 : f64,
        bound = "memory", flops = 262144 : i64, intensity = 5.818 : f64,
        kv_load_bytes = 0 : i64, kv_store_bytes = 0 : i64,
        time_s = 2.21e-08 : f64, weight_bytes = 32768 : i64}}
        : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    ```
  }];
  let options = [
    Option<"hardware", "hardware", "std::string", /*default=*/"\"nvidia-a100-80gb\"",
           "Hardware preset name (see data/hardware.json)">,
    Option<"hardwareFile", "hardware-file", "std::string", /*default=*/"\"\"",
           "Hardware presets JSON file (default: llmc's data/hardware.json)">,
    Option<"phase", "phase", "std::string", /*default=*/"\"decode\"",
           "prefill (seq tokens per sequence) or decode (one token)">,
    Option<"batch", "batch", "int64_t", /*default=*/"1", "Sequences per step">,
    Option<"seq", "seq", "int64_t", /*default=*/"1",
           "Prompt tokens per sequence in prefill">,
    Option<"kvLen", "kv-len", "int64_t", /*default=*/"0",
           "Tokens already in the KV cache before this step">,
    Option<"actDtype", "act-dtype", "std::string", /*default=*/"\"\"",
           "Activation type whose peak compute-bound ops run at: f32, f16, "
           "bf16 or int8 (default: the IR's element type)">,
    Option<"logitsRows", "logits-rows", "int64_t", /*default=*/"1",
           "Rows the ops after a slice to a function argument's size compute "
           "(imported models' final norm and classifier run on the last "
           "num_logits rows; 1 = generation)">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

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

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def Quantize : Pass<"llm-quantize", "mlir::ModuleOp"> {
  let summary = "Quantize the weights of linear layers (symbolic, at pack time)";
  let description = [{
    Every `llm.linear` whose weight is a pack-time value (an `llm.param`, or a
    symbolic transform of params such as a fused QKV `llm.concat`) becomes an
    `llm.qlinear` over `llm.quantize` of that weight. `llm.quantize` is
    evaluated once by `llmc compile` while packing the artifact; the backend
    dequantizes in registers. Bias, residual and activation epilogues are
    kept. Schemes:

    - `w8`: int8, one scale per output channel;
    - `w4g32`, `w4g64`, `w4g128` (any `wNgG`, N in {4, 8}): N-bit integers,
      one scale per group of G input features;
    - `asymmetric`: a zero point next to each scale (`(q - z) * s`, q
      unsigned); otherwise symmetric (`q * s`, q signed, scale = absmax /
      (2^(N-1) - 1));
    - `q8_0`, `q4_0`: GGUF blocks of 32 (f16 scale inside each block),
      quantized as ggml's reference quantizer does; the backend runs them
      like imported GGUF blocks (8-bit activations, byte dot products);
    - `gqsa-w4s50`: q4_0 blocks with 50 % structured group sparsity: each
      row keeps the half of its blocks with the largest saliency (sum of
      squared weights), stored with their block index; the kernel visits
      only the kept blocks. With `llmc compile --calibration`, the
      saliency weights each squared weight by its input's E[x^2];
    - `dgq-a8w4` (`dgq-a8w4gG`, G a multiple of 32, default 128): Dual
      Grained Quantization: int4 weights with a u8 integer scale per group
      and an f32 scale per row, int8 activations per token; the kernel sums
      a whole row in integers (`sum_g s2 * sum_j q x`) and scales once.
      Results: the packed rows and a vector of activation multipliers per
      input feature (percentile-clipping smoothing, from `llmc calibrate`
      statistics; all ones without). Scales by a two-phase grid search at
      pack time.

    `llmc compile --quant` runs it inside `llm-optimize`, after
    `llm-fuse-qkv` / `llm-fuse-epilogue` and before `llm-fuse-norm`: RMSNorm
    gains folded into the weights first would widen each group's range.
    With `clip`, each `llm.quantize` (not q8_0 / q4_0, whose quantizer is
    ggml's) carries `llm.clip_search` and the packer picks each group's
    scale by a search over clipped ranges (least squared error).
    Weights whose param names contain one of the `keep` substrings (e.g.
    `output`, the classifier; `layers.0.`) stay in float. A linear whose
    input features the group size does not divide stays too, with a remark.

    Before:

    ```mlir
    %w = llm.param "layers.0.feed_forward.w2.weight" : tensor<64x172xf32>
    %y = llm.linear %h, %w residual(%x : tensor<?x64xf32>)
        : tensor<?x172xf32>, tensor<64x172xf32> -> tensor<?x64xf32>
    ```

    After (`scheme=w8`):

    ```mlir
    %w = llm.param "layers.0.feed_forward.w2.weight" : tensor<64x172xf32>
    %q, %s = llm.quantize %w
        {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>}
        : tensor<64x172xf32> -> tensor<64x172xi8>, tensor<64x1xf32>
    %y = llm.qlinear %h, %q scales(%s : tensor<64x1xf32>) residual(%x : tensor<?x64xf32>)
        {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>}
        : tensor<?x172xf32>, tensor<64x172xi8> -> tensor<?x64xf32>
    ```
  }];
  let options = [
    Option<"scheme", "scheme", "std::string", /*default=*/"\"w8\"",
           "w8, w4g32, w4g64, w4g128 (wN per channel, wNgG per group), "
           "q8_0, q4_0 (GGUF blocks), gqsa-w4s50 (q4_0, half the blocks "
           "of each row kept), dgq-a8w4 / dgq-a8w4gG (int4 with u8 group and "
           "f32 row scales, int8 activations)">,
    Option<"asymmetric", "asymmetric", "bool", /*default=*/"false",
           "Zero points next to the scales (unsigned integers)">,
    Option<"clip", "clip", "bool", /*default=*/"false",
           "wN / wNgG: per group (or channel), pick the clipping of the "
           "range (1.0, 0.95, ..., 0.5) with the least squared error when "
           "packing (marks llm.quantize with llm.clip_search)">,
    ListOption<"keep", "keep", "std::string",
               "Keep weights whose param name contains one of these in float">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def QuantizeKVCache : Pass<"llm-quantize-kv-cache", "mlir::ModuleOp"> {
  let summary = "Store the KV cache as int8 with one scale per head and position";
  let description = [{
    Rewrites every float `!llm.kv_cache` (function arguments and results,
    `llm.attention` operands and results) to element type `i8`: the
    lowering then quantizes each head's key and value vector of a position
    to int8 with one f32 scale (`max |x| / 127`, round half to even) when
    writing it, and dequantizes while reading (attention scores and the
    weighted sum of values are computed in f32). The cache shrinks from 4
    to 1 + 4 / head_dim bytes per element. `llmc compile --kv-cache=int8`
    runs it after `llm-optimize`.

    Before:

    ```mlir
    func.func @f(%kv: !llm.kv_cache<2x64x4x8, f32>, ...) -> (..., !llm.kv_cache<2x64x4x8, f32>)
    ```

    After:

    ```mlir
    func.func @f(%kv: !llm.kv_cache<2x64x4x8, i8>, ...) -> (..., !llm.kv_cache<2x64x4x8, i8>)
    ```
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def Observe : Pass<"llm-observe", "mlir::ModuleOp"> {
  let summary = "Observe the inputs of linears for calibration";
  let description = [{
    Inserts an `llm.observe` of the input of every `llm.linear` /
    `llm.qlinear` whose weight is a pack-time value, once per distinct input
    (linears sharing an input share the site; the site lists every weight
    key). The module's `llm.observe` attribute lists the sites in order
    (`{site, keys, features}`); `llmc compile` copies it into the
    artifact's manifest and `llmc calibrate` runs the model over a text
    with an observer that records, per site and input feature, the mean
    square, the maximum magnitude and percentiles of the magnitude.

    `llmc calibrate` runs it inside `llm-optimize` exactly where
    `llm-quantize` runs, so the keys are the weight expressions the
    quantizer sees (e.g. the fused `concat(wq,wk,wv)`) and the observed
    values are the inputs of the quantized linears.

    Before:

    ```mlir
    %y = llm.linear %h, %w : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
    ```

    After:

    ```mlir
    llm.observe %h {keys = ["w"], site = 0 : i64} : tensor<?x64xf32>
    %y = llm.linear %h, %w : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
    ```
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def InsertEarlyExits : Pass<"llm-insert-early-exits", "mlir::ModuleOp"> {
  let summary = "Early-exit heads after chosen layers, skipping the rest at decode time";
  let description = [{
    After each decoder layer in `layers` (0-based; ascending) of the
    `forward` function, an `llm.exit` head applies the final RMSNorm and the
    classifier to the hidden state and tests its confidence (`metric`
    `max-prob` or `margin` >= `threshold`, or `entropy` <= `threshold`). Heads
    share the final norm and classifier weights, or use separately trained
    ones named by `head-norm` / `head-classifier` (`{layer}` is replaced by
    the layer index, e.g. `exit.{layer}.norm.weight`).

    Control flow: one-token steps (decode) evaluate the heads in order, and
    the first head that passes returns its logits, skipping every later
    layer; prompts (more than one token) run every layer, so the KV cache of
    the prompt is exact. The structure is

    ```mlir
    %decode = arith.cmpi eq, %n, %c1 : index
    %r:2 = scf.if %decode -> (tensor<?x512xf32>, !llm.kv_cache<...>) {
      %logits, %exit = llm.exit %x2, %norm, %cls metric max_prob {...}
      %done = tensor.extract %exit[%c0] : tensor<?xi1>
      %s:2 = scf.if %done -> (...) {
        // KV policy for the skipped layers, then
        func.call @llmc_early_exit(%c1_i32) : (i32) -> ()
        scf.yield %logits, %kv_propagated
      } else {
        // the remaining layers (and the next head)
      }
      scf.yield %s#0, %s#1
    } else {
      // every layer
    }
    ```

    KV-cache policy for the skipped layers (`kv-policy`): `propagate`
    (CALM's state propagation): the exited hidden state is fed to each
    skipped layer's attention norm and K/V projections (and rope) and the
    result written to its cache, so later tokens attend to a defined,
    approximate state; this costs the Q/K/V projections and attention of the
    skipped layers but not their output projection and feed-forward.
    `recompute` (fill the skipped entries lazily when a later token runs
    those layers) is not implemented yet.

    Each exit calls the runtime's `llmc_early_exit(layer)`, which counts
    exits per layer for `llmc run --stats`.
  }];
  let options = [
    ListOption<"layers", "layers", "int64_t",
               "Layers (0-based) after which to test for an exit">,
    Option<"metric", "metric", "std::string", /*default=*/"\"max-prob\"",
           "Confidence measure: max-prob, entropy or margin">,
    Option<"threshold", "threshold", "double", /*default=*/"0.9",
           "Exit when max-prob/margin >= threshold, or entropy (nats) <= "
           "threshold">,
    Option<"kvPolicy", "kv-policy", "std::string",
           /*default=*/"\"propagate\"",
           "KV cache of skipped layers: propagate (recompute: not yet)">,
    Option<"headNorm", "head-norm", "std::string", /*default=*/"",
           "Weight name of each head's norm ({layer} = its layer); default: "
           "the final norm's">,
    Option<"headClassifier", "head-classifier", "std::string",
           /*default=*/"",
           "Weight name of each head's classifier ({layer} = its layer); "
           "default: the model's classifier">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SkipLayers : Pass<"llm-skip-layers", "mlir::ModuleOp"> {
  let summary = "Remove whole decoder layers (static layer skipping)";
  let description = [{
    ShortGPT / TrimLLM-style static depth reduction: every decoder layer in
    `layers` (0-based) of the `forward` function is removed for all tokens,
    prompt and decode alike. The layer's output is replaced by its input
    (the residual stream passes through) and its attention's new cache by
    the cache it received; the layer's norms, projections, attention and
    feed-forward are then dead and erased. The KV cache keeps its shape: the
    skipped layers' slots are never written or read. `forward` records the
    plan in `llm.skipped_layers`.

    Which layers to skip is a calibration question: the layers whose output
    hidden state is most similar to their input change the least.
  }];
  let options = [
    ListOption<"layers", "layers", "int64_t", "Layers (0-based) to remove">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

//===----------------------------------------------------------------------===//
// Lowering (implemented under lowering/, shared by every backend)
//===----------------------------------------------------------------------===//

def ConvertLLMToLinalg : Pass<"convert-llm-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower llm ops to linalg/tensor/arith/math on tensors";
  let description = [{
    The tensor-level lowering every backend shares. Each `llm` op becomes
    `linalg.generic`/`linalg.fill`/`tensor` ops in destination-passing style:
    embedding is a gather, RMSNorm/LayerNorm a reduction plus an elementwise
    op, `llm.linear` a contraction over the stored `[out, in]` weight (narrow
    float weights are extended in the body), RoPE an elementwise op with the
    inverse frequencies as a constant (rope scaling applied at compile time),
    attention writes keys and values into the cache with `tensor.insert_slice`
    and computes scores, causal/sliding-window mask, softmax and the weighted
    sum over the cache prefix `[0, start_pos + seq)` with GQA head grouping.

    `!llm.kv_cache<L x S x KVH x D, T>` becomes
    `tensor<L x 2 x KVH x S x D x T>` (keys, then values; positions of one head
    contiguous). Function arguments and results that were caches are marked
    `llm.kv_cache` for `--llm-buffer-abi`. `llm.param` is kept.

    GGUF block-quantized weights (`q8_0`, `q4_0`, `q4_1`) are read as their
    packed bytes (a cast to a flat `i8` tensor that `--llm-buffer-abi` binds):
    `llm.dequantize` decodes the blocks. An `llm.qlinear` over q8_0 / q4_0
    blocks runs on them as stored, as llama.cpp does: activations are
    quantized to 8 bits per block of 32 (linalg generics), and a kernel
    emitted at the tensor level (scf.forall over row tasks, 4 rows x 1 or 4
    tokens per register tile, 8-lane i32 byte dot products per block scaled
    into f32 accumulators; `--llm-cpu-vnni` makes those vpdpbusd) computes
    the product;
    see lowering/LLMToLinalg/BlockDot.cpp. q4_1 is dequantized to f32 first,
    then the f32 linear runs (correct, not fast).
    An `llm.qlinear` over symmetric/asymmetric 8- or 4-bit integers
    (`--llm-quantize`) dequantizes in registers inside the contraction:
    8-bit integers and per-channel scales are inputs of the generic. 4-bit
    weights are read as the packed bytes `--llm-buffer-abi` binds (per block
    of B = group or row elements, element j < B/2 is the low nibble of byte
    j, j >= B/2 the high nibble of byte j - B/2): in groups, the bytes are
    viewed as `[out, in/G, G/2]` and the reduction runs over (group, half,
    byte), so bytes, scales and zero points are inputs too (tagged
    `q4matvec` / `q4linear`); otherwise (per channel, or 8-bit groups) they
    are read by index in the body (`qmatvec` / `qlinear`). `llm.quantize`
    of pack-time weights is kept, like `llm.concat`, for the buffer ABI.
    Ops without a lowering yet (`llm.moe`, `llm.exit`, other quantization
    schemes, symbolic weight transforms) are reported, one error each.

    Before:

    ```mlir
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    ```

    After (one token takes the matvec kernel, several the tiled one; the
    schedule tags are read by `--llm-cpu-schedule`):

    ```mlir
    %one = arith.cmpi eq, %t, %c1 : index
    %y = scf.if %one -> (tensor<?x128xf32>) {
      %acc = linalg.fill ins(%cst : f32) outs(%e : tensor<1x128xf32>) -> tensor<1x128xf32>
      %r = linalg.generic {iterator_types = ["parallel", "parallel", "reduction"], ...}
          ins(%x1, %w : tensor<1x64xf32>, tensor<128x64xf32>) outs(%acc : tensor<1x128xf32>)
          attrs = {llm.schedule = "matvec", llm.tiles = array<i64: 64, 4, 32>} {
      ^bb0(%in: f32, %wv: f32, %out: f32):
        %p = arith.mulf %in, %wv : f32
        %s = arith.addf %out, %p : f32
        linalg.yield %s : f32
      } -> tensor<1x128xf32>
      ...
    } else { ... llm.schedule = "linear" ... }
    ```
  }];
  let options = [
    Option<"profile", "profile", "bool", /*default=*/"false",
           "Bracket every op with calls to llmc_profile_enter/exit(id) (the "
           "runtime's per-op timers) and list the ops as module attribute "
           "llm.profile">,
  ];
  let dependentDialects = [
    "::mlir::llm::LLMDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect", "::mlir::func::FuncDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

def BufferABI : Pass<"llm-buffer-abi", "mlir::ModuleOp"> {
  let summary = "Give the model entry the runtime's buffer calling convention";
  let description = [{
    Rewrites the entry function (after `--convert-llm-to-linalg`) to
    `(args as memrefs..., weights: memref<?xi8>, results as memrefs...) -> ()`.
    Tensor arguments are read through `bufferization.to_tensor restrict`; the
    KV-cache argument is writable and the updated cache is materialized back
    into it (in place after one-shot bufferization, never copied per step);
    other results become out-parameters. Every `llm.param` becomes a
    `memref.view` of the weight buffer at an `alignment`-aligned offset; the
    layout is recorded as `llm.weights` (name, offset, bytes, shape, dtype)
    and `llm.weights_bytes` on the function, and `llmc compile` packs the
    weights to match it. A GGUF block-quantized weight whose users are casts
    to a flat `i8` tensor is bound as its packed bytes (dtype `q8_0`, `q4_0`,
    `q4_1`). Sets `llvm.emit_c_interface`.

    Before:

    ```mlir
    func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x128xf32> {
      %w = llm.param "w" : tensor<128x64xf32>
      ...
    ```

    After:

    ```mlir
    func.func @forward(%arg0: memref<?x64xf32>, %arg1: memref<?xi8>, %arg2: memref<?x128xf32>)
        attributes {llm.weights = [{bytes = 32768 : i64, dtype = "f32", name = "w",
                                    offset = 0 : i64, shape = [128, 64]} ],
                    llm.weights_bytes = 32768 : i64, llvm.emit_c_interface} {
      %x = bufferization.to_tensor %arg0 restrict : memref<?x64xf32> to tensor<?x64xf32>
      %view = memref.view %arg1[%c0][] : memref<?xi8> to memref<128x64xf32>
      %w = bufferization.to_tensor %view restrict : memref<128x64xf32> to tensor<128x64xf32>
      ...
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward\"",
           "Name of the entry function">,
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of every weight in the packed buffer">,
  ];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect"
  ];
}

def ScheduleCPU : Pass<"llm-cpu-schedule", "mlir::ModuleOp"> {
  let summary = "Tile, parallelize and vectorize tagged linalg ops for the CPU";
  let description = [{
    `--convert-llm-to-linalg` tags the ops that dominate run time with
    `llm.schedule` and tile sizes `llm.tiles`. This pass writes a
    transform-dialect schedule for every distinct tag and applies it with the
    transform interpreter (on tensors, before bufferization):

    - `linear` `[task, rows, width]` (several tokens): `scf.forall` over
      tasks of `task` output rows (run by OpenMP after bufferization),
      register tiles of one 4-token block x `rows` output rows, the
      reduction over input features split into `width`-lane partial sums
      (`tile_reduction_using_for`), vectorized, with the accumulators hoisted
      into loop-carried vectors.
    - `matvec` `[task, rows, width]` (one token): the same without token
      blocks; every weight element is loaded once.
    - `attn_qk`: one task per query head; for each token and block of 16
      positions a vector of scores accumulates `q[d] * keysT[d, block]`.
    - `attn_pv`: one task per query head; a head_dim accumulator in
      registers across the position loop.
    - `heads` / `rows`: one task per query head / per 16 tokens (masking,
      softmax; norms, RoPE, activations, residuals).
    - `q4linear` / `q4matvec` (tiles `[task, rows, group]`): grouped 4-bit
      contractions over (group, half, byte): the same tiles, partial sums
      over one whole group (`1, 2, group/2`), so a step loads `group/2`
      consecutive bytes and the matching inputs and ends in FMAs.
    - `qlinear` / `qmatvec`: quantized contractions that read scales or
      packed nibbles by index: the same tiles, a plain reduction loop of
      `width`-lane steps (the partial-sum split does not re-offset the
      `linalg.index` values the body reads), vectorized with
      `vectorize_nd_extract` (gathers).

    `print-schedule` prints the generated transform IR to stderr.

    Before:

    ```mlir
    %y = linalg.generic {...} ins(%x, %w : tensor<?x4x64xf32>, tensor<128x64xf32>)
        outs(%init : tensor<?x4x128xf32>)
        attrs = {llm.schedule = "linear", llm.tiles = array<i64: 16, 4, 16>} {...}
    ```

    After:

    ```mlir
    scf.forall (%task) in (8) {
      scf.for ... {
        scf.for ... {
          %acc = scf.for %k = %c0 to %c64 step %c16 iter_args(..., %v = %zero)
              -> (tensor<1x4x4x16xf32>, vector<1x4x4x16xf32>) {
            %a = vector.transfer_read ... : vector<1x4x4x16xf32>
            %b = vector.transfer_read ... : vector<1x4x4x16xf32>
            %m = arith.mulf %a, %b : vector<1x4x4x16xf32>
            %s = arith.addf %v, %m : vector<1x4x4x16xf32>
            scf.yield ..., %s
          }
          %r = vector.multi_reduction <add>, %acc#1, ... [3] : vector<1x4x4x16xf32> to vector<1x4x4xf32>
          ...
    ```
  }];
  let options = [
    Option<"printSchedule", "print-schedule", "bool", /*default=*/"false",
           "Print the generated transform schedule to stderr">,
  ];
  let dependentDialects = [
    "::mlir::transform::TransformDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def EarlyDealloc : Pass<"llm-early-dealloc", "mlir::func::FuncOp"> {
  let summary = "Free every buffer right after its last use";
  let description = [{
    Runs after `buffer-deallocation-pipeline`, which frees a buffer where
    its ownership ends: for a buffer yielded out of an `scf.if` (every
    lowering that branches on one token vs. several) that is the end of the
    function, so a prefill would hold every layer's activations at once.
    This pass moves each `memref.dealloc`, or an `scf.if` that only guards
    one, up to just after the last op of its block that uses the buffer
    through any alias. Aliases come from `BufferViewFlowAnalysis`: the
    allocations the freed value may come from, then every view, region
    result or op result derived from them (`memref.extract_strided_metadata`
    included). A dealloc stays put when the freed value does not trace back
    to an allocation, or an alias is used outside the dealloc's block or
    becomes a raw pointer.

    Before:

    ```mlir
    %0 = scf.if %c -> (memref<?xf32, strided<[?], offset: ?>>) { ... memref.alloc ... }
    linalg.generic ... ins(%0 ...) outs(%out ...)
    %big = memref.alloc(%n) : memref<?xf32>
    ...
    %base, %off, %size, %stride = memref.extract_strided_metadata %0 : ...
    memref.dealloc %big : memref<?xf32>
    memref.dealloc %base : memref<f32>
    ```

    After:

    ```mlir
    %0 = scf.if %c -> (memref<?xf32, strided<[?], offset: ?>>) { ... memref.alloc ... }
    linalg.generic ... ins(%0 ...) outs(%out ...)
    %base, %off, %size, %stride = memref.extract_strided_metadata %0 : ...
    memref.dealloc %base : memref<f32>
    %big = memref.alloc(%n) : memref<?xf32>
    ...
    memref.dealloc %big : memref<?xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

#endif // LLMC_PASSES_PASSES_TD

def CPUVNNI : Pass<"llm-cpu-vnni", "mlir::func::FuncOp"> {
  let summary = "Byte dot products as AVX-VNNI / AVX512-VNNI vpdpbusd";
  let description = [{
    Rewrites the portable form of a 4-way byte dot product accumulated into
    i32 lanes, `acc[k] + sum_q zext(u[4k + q]) * sext(s[4k + q])` written as
    a `vector.multi_reduction <add>` over the inner dim of a
    `vector.shape_cast` to `Nx4` of `arith.muli(arith.extui(u), arith.extsi(s))`
    (either operand order), into one `llvm.call_intrinsic` of
    `llvm.x86.avx512.vpdpbusd.{128,256}` (N = 4 or 8: `u`, `s` are
    `vector<4Nxi8>`, `acc` `vector<Nxi32>`). Run only for targets with
    AVX-VNNI, or AVX512-VNNI with AVX512VL (`llmc compile` checks the target
    CPU); elsewhere the portable form stays and LLVM lowers it with
    widening multiplies. Runs after bufferization (the intrinsic call has no
    declared memory effects).

    Before:

    ```mlir
    %a = arith.extui %u : vector<32xi8> to vector<32xi32>
    %b = arith.extsi %s : vector<32xi8> to vector<32xi32>
    %p = arith.muli %a, %b : vector<32xi32>
    %q = vector.shape_cast %p : vector<32xi32> to vector<8x4xi32>
    %r = vector.multi_reduction <add>, %q, %acc [1] : vector<8x4xi32> to vector<8xi32>
    ```

    After:

    ```mlir
    %r = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%acc, %u, %s)
        : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}
