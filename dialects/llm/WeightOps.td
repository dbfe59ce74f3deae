//===- WeightOps.td - quantization and weight transforms ---*- tablegen -*-===//
//
// llm.dequantize, llm.quantize and the symbolic weight transforms
// evaluated at pack time. Included by LLMOps.td (after the
// shared tensor constraints); verifiers in WeightOps.cpp and LLMOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_WEIGHTOPS_TD
#define LLMC_DIALECTS_LLM_WEIGHTOPS_TD

//===----------------------------------------------------------------------===//
// Quantization and symbolic weight transforms
//===----------------------------------------------------------------------===//

def LLM_DequantizeOp : LLM_Op<"dequantize", [Pure, AttrSizedOperandSegments]> {
  let summary = "Quantized integers to floats: (q - zero) * scale";
  let description = [{
    ```mlir
    %w = llm.dequantize %q scales(%s : tensor<64x2xf32>)
        {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>}
        : tensor<64x64xi4> -> tensor<64x64xf32>
    ```
  }];
  let arguments = (ins LLM_IntTensor:$input, Optional<LLM_FloatTensor>:$scales,
                       Optional<LLM_WeightTensor>:$zeros,
                       LLM_QuantAttr:$quant);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`scales` `(` $scales^ `:` type($scales) `)`)?
    (`zeros` `(` $zeros^ `:` type($zeros) `)`)? attr-dict
    `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_QuantizeOp : LLM_Op<"quantize", [Pure]> {
  let summary = "Symbolic weight quantization, evaluated when packing";
  let description = [{
    Quantizes a (weight) tensor as `quant` describes. Results: the integers,
    then the scales (not for GGUF block schemes), then the zero points (for
    `asymmetric` only). Passes record it on `llm.param` values; `llmc
    compile` evaluates it once while packing the artifact, so no weight data
    ever enters the IR.

    ```mlir
    %q, %s = llm.quantize %w
        {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>}
        : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<64x1xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_QuantAttr:$quant);
  let results = (outs Variadic<LLM_WeightTensor>:$outputs);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($outputs)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Value getQuantized() { return getOutputs()[0]; }
    /// Null for block schemes.
    ::mlir::Value getScales();
    /// Null unless the scheme has zero points.
    ::mlir::Value getZeros();
  }];
}

def LLM_ConcatOp : LLM_Op<"concat", [Pure]> {
  let summary = "Concatenation along one dimension (symbolic on weights)";
  let description = [{
    Used on activations and, symbolically, on weights (e.g. fused QKV
    projections: evaluated once at pack time).

    ```mlir
    %qkv = llm.concat %wq, %wk, %wv {axis = 0 : i64}
        : tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32> -> tensor<128x64xf32>
    ```
  }];
  let arguments = (ins Variadic<LLM_WeightTensor>:$inputs, I64Attr:$axis);
  let results = (outs LLM_WeightTensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` type($inputs) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def LLM_TransposeOp : LLM_Op<"transpose", [Pure]> {
  let summary = "2-D transpose (symbolic on weights)";
  let description = [{
    `result[j, i] = input[i, j]`. On weights it is a symbolic transform that
    `llmc compile` evaluates once while packing: GPT-2's `Conv1D` layers
    store `[in, out]`, `llm.linear` reads `[out, in]`. On activations it
    lowers to `linalg.transpose`.

    ```mlir
    %w = llm.transpose %c_fc : tensor<64x256xf32> -> tensor<256x64xf32>
    ```
  }];
  let arguments = (ins LLM_WeightTensor:$input);
  let results = (outs LLM_WeightTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def LLM_ScaleColumnsOp : LLM_Op<"scale_columns", [Pure,
    AllTypesMatch<["weight", "result"]>]> {
  let summary = "Symbolic weight transform: column i of a weight times scale[i]";
  let description = [{
    `result[o, i] = weight[o, i] * scale[i]`, computed in f32 and rounded to
    the weight's element type. `--llm-fuse-norm` uses it to fold an RMSNorm
    scale into the linears that consume the norm
    (`rms(x) * g · Wᵀ = rms(x) · (W diag(g))ᵀ`); on `llm.param` values
    `llmc compile` evaluates it once while packing.

    ```mlir
    %w2 = llm.scale_columns %wq, %g : tensor<64x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$weight, LLM_FloatTensor:$scale);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$weight `,` $scale attr-dict `:` type($weight) `,` type($scale)";
  let hasVerifier = 1;
}

#endif // LLMC_DIALECTS_LLM_WEIGHTOPS_TD
