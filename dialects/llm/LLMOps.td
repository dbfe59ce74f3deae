//===- LLMOps.td - llm dialect operations ------------------*- tablegen -*-===//
//
// Every op has value semantics and is Pure: the KV cache is threaded through
// llm.attention as a value, weights are immutable named tensors.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMOPS_TD
#define LLMC_DIALECTS_LLM_LLMOPS_TD

include "dialects/llm/LLMDialect.td"
include "dialects/llm/LLMTypes.td"
include "dialects/llm/LLMAttrs.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def LLM_FloatTensor : RankedTensorOf<[AnyFloat]>;
def LLM_IntTensor : RankedTensorOf<[AnySignlessInteger]>;
def LLM_WeightTensor : RankedTensorOf<[AnyFloat, AnySignlessInteger]>;
def LLM_TokenTensor : RankedTensorOf<[I32, I64]>;
def LLM_BoolTensor : RankedTensorOf<[I1]>;

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

def LLM_ParamOp : LLM_Op<"param", [Pure]> {
  let summary = "A named weight tensor stored in the model file";
  let description = [{
    References the weight called `name` in the model's weight file; the
    contents never enter the IR. A quantized weight carries `quant` and an
    integer element type of `quant.bits` bits (the logical, unpacked shape).

    ```mlir
    %wq = llm.param "layers.0.attention.wq" : tensor<64x64xf32>
    %wk = llm.param "blk.0.attn_k.weight"
        {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>}
        : tensor<32x64xi4>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<LLM_QuantAttr>:$quant);
  let results = (outs LLM_WeightTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    Gathers rows of `table` (`[vocab, dim]`) for every token id:
    `result[..., d] = table[tokens[...], d]`, converted to the result's
    float type (a bf16 table may feed f32 activations), times `scale` when
    given (Gemma multiplies by sqrt(dim)). Token ids outside the table are
    undefined behaviour to the op; the runtime checks them.

    ```mlir
    %h = llm.embedding %table[%tokens] : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    %g = llm.embedding %table[%tokens] {scale = 8.0 : f64} : tensor<512x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$table, LLM_TokenTensor:$tokens,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $tokens `]` attr-dict `:` type($table) `,` type($tokens) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Root-mean-square normalisation over the last dimension";
  let description = [{
    `result = input / sqrt(mean(input^2) + eps) * (weight_offset + weight)`,
    over the last dimension (any leading dimensions are rows: a
    `[seq, heads, head_dim]` input normalises each head, as Qwen3's and
    Gemma 3's q/k norms do); `weight` has that dimension's size.
    `weight_offset` (default 0) is 1 for Gemma, whose checkpoints store
    `w - 1`. Without `weight` (its scale folded into the consumers' weights
    by `--llm-fuse-norm`) the result is not scaled.

    ```mlir
    %n = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
    %u = llm.rms_norm %x {eps = 1.0e-05 : f64} : tensor<?x64xf32>
    %g = llm.rms_norm %x, %w {eps = 1.0e-06 : f64, weight_offset = 1.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, Optional<LLM_FloatTensor>:$weight,
                       F64Attr:$eps, OptionalAttr<F64Attr>:$weight_offset);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`,` $weight^)? attr-dict `:` type($input) (`,` type($weight)^)?
  }];
  let hasVerifier = 1;
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "::mlir::FloatAttr":$eps), [{
      build($_builder, $_state, input, weight, eps, ::mlir::FloatAttr());
    }]>];
}

def LLM_AddRMSNormOp : LLM_Op<"add_rms_norm", [Pure,
    AllTypesMatch<["input", "residual", "sum", "result"]>]> {
  let summary = "Residual add fused with RMS normalisation";
  let description = [{
    `sum = input + residual; result = rms_norm(sum, weight, eps)` in one
    pass over the row: both results are produced, because the sum is the
    next residual. Created by `--llm-fuse-norm`; `weight` and
    `weight_offset` are as for `llm.rms_norm`.

    ```mlir
    %h, %n = llm.add_rms_norm %x, %attn, %w {eps = 1.0e-05 : f64}
        : tensor<?x64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$residual,
                       Optional<LLM_FloatTensor>:$weight, F64Attr:$eps,
                       OptionalAttr<F64Attr>:$weight_offset);
  let results = (outs LLM_FloatTensor:$sum, LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $residual (`,` $weight^)? attr-dict `:` type($input) (`,` type($weight)^)?
  }];
  let hasVerifier = 1;
}

def LLM_LayerNormOp : LLM_Op<"layer_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Layer normalisation over the last dimension";
  let description = [{
    `result = (input - mean) / sqrt(var + eps) * weight (+ bias)` over the
    last dimension.

    ```mlir
    %n = llm.layer_norm %x, %w, %b {eps = 1.0e-05 : f64}
        : tensor<?x64xf32>, tensor<64xf32>, tensor<64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       Optional<LLM_FloatTensor>:$bias, F64Attr:$eps);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,` type($weight) (`,` type($bias)^)?
  }];
  let hasVerifier = 1;
}

def LLM_LinearOp : LLM_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "Dense linear layer: input × weightᵀ (+ bias), with an epilogue";
  let description = [{
    `result[..., o] = act(sum_i input[..., i] * weight[o, i] (+ bias[o]))
    (+ residual[..., o])`. The weight is `[out, in]` as stored by llama2.c,
    Hugging Face and GGUF. The weight may have a narrower float type than the
    input (mixed precision); the result has the input's element type. The
    optional `activation` and `residual` form the epilogue that
    `--llm-fuse-epilogue` folds in: the activation applies before the
    residual is added.

    ```mlir
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %z = llm.linear %x, %w bias(%b : tensor<172xf32>) activation gelu
        : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
    %h = llm.linear %a, %wo residual(%x : tensor<?x64xf32>)
        : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       Optional<LLM_FloatTensor>:$bias,
                       Optional<LLM_FloatTensor>:$residual,
                       OptionalAttr<LLM_Activation>:$activation);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    (`activation` $activation^)? attr-dict
    `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$weight, "::mlir::Value":$bias), [{
      build($_builder, $_state, result, input, weight, bias, ::mlir::Value(),
            ::mlir::llm::ActivationAttr());
    }]>];
}

def LLM_HeadLinearOp : LLM_Op<"head_linear", [Pure]> {
  let summary = "A separate linear map per attention head";
  let description = [{
    `input` `[seq, heads * in]` is split into `heads` vectors per token;
    head `h`'s is multiplied by its own matrix `weight[h]`:
    `result[t, h * out + o] = sum_i input[t, h * in + i] * weight[h, o, i]`
    with `weight` `[heads, out, in]`, or with `transposed` `[heads, in,
    out]` (`weight[h, i, o]`). Multi-head latent attention (DeepSeek-V2)
    uses both forms of one `[heads, nope, latent]` slice of `kv_b_proj`:
    transposed to absorb the key up-projection into each query head
    (`nope -> latent`), and the value slice to expand each head's attended
    latent (`latent -> v_head_dim`). The weight may have a narrower float
    type than the input.

    ```mlir
    %qa = llm.head_linear %qn, %wk transposed
        : tensor<?x512xf32>, tensor<4x128x512xf32> -> tensor<?x2048xf32>
    %v = llm.head_linear %o, %wv
        : tensor<?x2048xf32>, tensor<4x128x512xf32> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$weight,
                       UnitAttr:$transposed);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`transposed` $transposed^)? attr-dict
    `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeads() { return getWeight().getType().getDimSize(0); }
    /// Features per head of the input and of the result.
    int64_t getHeadIn() {
      return getWeight().getType().getDimSize(getTransposed() ? 1 : 2);
    }
    int64_t getHeadOut() {
      return getWeight().getType().getDimSize(getTransposed() ? 2 : 1);
    }
  }];
}

def LLM_QLinearOp : LLM_Op<"qlinear", [Pure, AttrSizedOperandSegments]> {
  let summary = "Linear layer over quantized weights";
  let description = [{
    Like `llm.linear` (bias and epilogue included), with `weight` holding
    `quant.bits`-bit integers in the logical `[out, in]` shape, `scales` (and
    `zeros` for asymmetric schemes) as described by `#llm.quant`. GGUF block
    schemes carry their scales inside the weight and take no
    `scales`/`zeros` operands. Dequantization happens in registers:
    `w = (q - zero) * scale`.

    ```mlir
    %y = llm.qlinear %x, %q scales(%s : tensor<172x2xf32>)
        {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>}
        : tensor<?x64xf32>, tensor<172x64xi4> -> tensor<?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_IntTensor:$weight,
                       Optional<LLM_FloatTensor>:$scales,
                       Optional<LLM_WeightTensor>:$zeros,
                       Optional<LLM_FloatTensor>:$bias,
                       Optional<LLM_FloatTensor>:$residual,
                       LLM_QuantAttr:$quant,
                       OptionalAttr<LLM_Activation>:$activation);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`scales` `(` $scales^ `:` type($scales) `)`)?
    (`zeros` `(` $zeros^ `:` type($zeros) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)?
    (`residual` `(` $residual^ `:` type($residual) `)`)?
    (`activation` $activation^)? attr-dict
    `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$weight, "::mlir::Value":$scales,
                   "::mlir::Value":$zeros, "::mlir::Value":$bias,
                   "::mlir::llm::QuantAttr":$quant), [{
      build($_builder, $_state, result, input, weight, scales, zeros, bias,
            ::mlir::Value(), quant, ::mlir::llm::ActivationAttr());
    }]>];
}

def LLM_RoPEOp : LLM_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding";
  let description = [{
    Rotates each `head_dim`-sized head of `input` (`[seq, heads * head_dim]`)
    by the angle `(start_pos + s) * theta^(-2i / head_dim)` for pair `i` of
    token `s`. `style = interleaved` pairs elements (2i, 2i+1) as llama2.c and
    GGUF do; `style = half` pairs (i, i + head_dim/2) as Hugging Face's
    `rotate_half` does. `scaling` optionally rescales the frequencies. With
    `rotary_dim = r` (< head_dim: Phi-4-mini, GPT-NeoX's partial rotary)
    only the first `r` elements of each head rotate, with `r` in place of
    `head_dim` in the pairing and the frequencies; the rest pass through.

    ```mlir
    %q2 = llm.rope %q, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64}
        : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, Index:$start_pos,
                       I64Attr:$head_dim, F64Attr:$theta,
                       LLM_RopeStyle:$style,
                       OptionalAttr<LLM_RopeScalingAttr>:$scaling,
                       OptionalAttr<I64Attr>:$rotary_dim);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input `,` $start_pos `style` $style attr-dict `:` type($input)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// `rotary_dim` if given, else head_dim (the whole head rotates).
    int64_t getRotaryDims() {
      return getRotaryDim() ? static_cast<int64_t>(*getRotaryDim())
                            : static_cast<int64_t>(getHeadDim());
    }
  }];
}

def LLM_AttentionOp : LLM_Op<"attention", [Pure,
    AllTypesMatch<["query", "output"]>, AllTypesMatch<["key", "value"]>,
    AllTypesMatch<["cache", "new_cache"]>]> {
  let summary = "Grouped-query attention over a key/value cache";
  let description = [{
    Writes `key` and `value` (`[seq, kv_heads * head_dim]`, already rotated)
    into layer `layer` of `cache` at positions `[start_pos, start_pos + seq)`,
    then attends every query token (`[seq, num_heads * head_dim]`) to cache
    positions `[0, start_pos + seq)`: with `causal`, token `s` sees positions
    `<= start_pos + s`; with `sliding_window = W` only the last `W` of those.
    Query head `h` uses KV head `h / (num_heads / num_kv_heads)` (GQA).
    Scores are scaled by `scale` (default `1/sqrt(head_dim)`), then, with
    `logit_softcap = c` (Gemma 2), soft-capped to `c * tanh(score / c)`
    before masking and softmax.

    Returns the attention output and the updated cache. One op serves
    prefill (many tokens) and decode (one).

    With `layer(%i)` the cache layer is `%i` (an index, in `[0, layers)`)
    instead of `layer`: one outlined decoder-layer function serves every
    layer (`--llm-outline-layers`); `layer` then names the first.

    With a `shared` cache, `value` must be `key`: each position's one stored
    vector is both (multi-head latent attention in its absorbed form, where
    every query head attends the latent followed by the rotated key, and
    the output's first elements per head are the attended latent).

    ```mlir
    %o, %kv1 = llm.attention %q, %k, %v, %kv0[%pos]
        {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal}
        : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<5x512x4x8, f32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$query, LLM_FloatTensor:$key,
                       LLM_FloatTensor:$value, LLM_KVCacheType:$cache,
                       Index:$start_pos, Optional<Index>:$layer_index,
                       I64Attr:$layer, I64Attr:$num_heads, I64Attr:$num_kv_heads,
                       OptionalAttr<F64Attr>:$scale, UnitAttr:$causal,
                       OptionalAttr<I64Attr>:$sliding_window,
                       OptionalAttr<F64Attr>:$logit_softcap);
  let results = (outs LLM_FloatTensor:$output, LLM_KVCacheType:$new_cache);
  let assemblyFormat = [{
    $query `,` $key `,` $value `,` $cache `[` $start_pos `]`
    (`layer` `(` $layer_index^ `)`)? attr-dict
    `:` type($query) `,` type($key) `,` qualified(type($cache))
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeadDim() { return getCache().getType().getHeadDim(); }
    /// `scale` if given, else 1/sqrt(head_dim).
    double getEffectiveScale();
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class LLM_UnaryOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, !listconcat(traits, [Pure, Elementwise,
                                             SameOperandsAndResultType])> {
  let arguments = (ins LLM_FloatTensor:$input);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def LLM_SiLUOp : LLM_UnaryOp<"silu"> {
  let summary = "SiLU (swish) activation: x * sigmoid(x)";
  let description = [{
    ```mlir
    %y = llm.silu %x : tensor<?x172xf32>
    ```
  }];
}

def LLM_GeLUOp : LLM_Op<"gelu", [Pure, Elementwise, SameOperandsAndResultType]> {
  let summary = "GELU activation (exact erf form or tanh approximation)";
  let description = [{
    ```mlir
    %y = llm.gelu %x : tensor<?x172xf32>
    %z = llm.gelu %x approximate tanh : tensor<?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       DefaultValuedAttr<LLM_GeluApproximation,
                                         "::mlir::llm::GeluApproximation::none">:$approximate);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input (`approximate` $approximate^)? attr-dict `:` type($input)";
}

def LLM_SoftcapOp : LLM_Op<"softcap", [Pure, Elementwise, SameOperandsAndResultType]> {
  let summary = "Soft-capping: cap * tanh(x / cap)";
  let description = [{
    Squashes values smoothly into `(-cap, cap)`; Gemma 2 caps its final
    logits this way (`final_logit_softcapping`). `cap` must be positive and
    finite.

    ```mlir
    %l = llm.softcap %logits {cap = 30.0 : f64} : tensor<?x256xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, F64Attr:$cap);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def LLM_SwiGLUOp : LLM_Op<"swiglu", [Pure]> {
  let summary = "SwiGLU gate: silu(gate) * up";
  let description = [{
    With two operands, `silu(gate) * up` elementwise. With one operand of
    last dimension `2H` (a fused gate/up projection), the first `H` columns
    are the gate and the last `H` the up projection; the result has last
    dimension `H`.

    ```mlir
    %a = llm.swiglu %g, %u : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
    %b = llm.swiglu %gu : tensor<?x344xf32> -> tensor<?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$gate, Optional<LLM_FloatTensor>:$up);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $gate (`,` $up^)? attr-dict `:` type($gate) (`,` type($up)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

class LLM_BinaryOp<string mnemonic, list<Trait> traits = []>
    : LLM_Op<mnemonic, !listconcat(traits, [Pure, Elementwise, Commutative,
                                             SameOperandsAndResultType])> {
  let arguments = (ins LLM_FloatTensor:$lhs, LLM_FloatTensor:$rhs);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasFolder = 1;
}

def LLM_AddOp : LLM_BinaryOp<"add"> {
  let summary = "Elementwise addition (residual connections)";
  let description = [{
    ```mlir
    %r = llm.add %x, %attn : tensor<?x64xf32>
    ```
  }];
}

def LLM_MulOp : LLM_BinaryOp<"mul"> {
  let summary = "Elementwise multiplication";
  let description = [{
    ```mlir
    %r = llm.mul %a, %b : tensor<?x172xf32>
    ```
  }];
}

def LLM_SoftmaxOp : LLM_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax along one dimension";
  let description = [{
    Numerically stable softmax along `axis` (negative counts from the end;
    default the last dimension).

    ```mlir
    %p = llm.softmax %logits {axis = -1 : i64} : tensor<?x512xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

include "dialects/llm/MoEOps.td"
include "dialects/llm/CacheOps.td"

//===----------------------------------------------------------------------===//
// Calibration
//===----------------------------------------------------------------------===//

def LLM_ObserveOp : LLM_Op<"observe", [MemoryEffects<[MemWrite]>]> {
  let summary = "Hands an activation to the runtime's calibration observer";
  let description = [{
    Inserted by `--llm-observe` (what `llmc calibrate` compiles): at run time
    the `[tokens, features]` f32 tensor `input` is passed to the runtime's
    observer (`llmc_observe(site, data, rows, cols, row_stride)`), which
    accumulates per-feature statistics. `site` numbers the observation
    point; `keys` name what it feeds: the weight expressions of the linears
    that read `input` (`concat(wq,wk,wv)`, ...), the keys `llmc compile
    --calibration` looks statistics up by. It writes only to the observer,
    never to a value, so it has no result.

    ```mlir
    llm.observe %x {site = 0 : i64, keys = ["layers.0.attention.wq.weight"]}
        : tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, I64Attr:$site,
                       StrArrayAttr:$keys);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

include "dialects/llm/WeightOps.td"

#endif // LLMC_DIALECTS_LLM_LLMOPS_TD
