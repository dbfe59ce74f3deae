//===- QuantPasses.td - quantization and calibration -------*- tablegen -*-===//
//
// Included by Passes.td (which documents the conventions).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_QUANTPASSES_TD
#define LLMC_PASSES_QUANTPASSES_TD

include "mlir/Pass/PassBase.td"

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

#endif // LLMC_PASSES_QUANTPASSES_TD

def DecodeGGUFBlocks : Pass<"llm-decode-gguf-blocks", "mlir::ModuleOp"> {
  let summary = "GGUF weights the packer decodes become f16 weights, for backends without block kernels";
  let description = [{
    Rewrites `llm.qlinear` of a GGUF format the packer can decode
    (`isPackTimeDecodable`: the K-quants Q2_K .. Q6_K, q5_0, q5_1,
    iq4_nl) into `llm.linear` over an `llm.dequantize` to f16, a pack-time
    transform: the artifact then holds f16 weights. `llmc compile` runs it
    for the GPU targets (vulkan, cuda), whose kernels do not read the
    super-blocks; on the CPU the K-quant kernels run them as stored.

    Before:

    ```mlir
    %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>}
        : tensor<?x256xf32>, tensor<16x256xi4> -> tensor<?x16xf32>
    ```

    After:

    ```mlir
    %w = llm.dequantize %p {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>}
        : tensor<16x256xi4> -> tensor<16x256xf16>
    %y = llm.linear %x, %w : tensor<?x256xf32>, tensor<16x256xf16> -> tensor<?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

