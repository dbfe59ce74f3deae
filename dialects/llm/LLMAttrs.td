//===- LLMAttrs.td - llm dialect attributes and enums ------*- tablegen -*-===//

#ifndef LLMC_DIALECTS_LLM_LLMATTRS_TD
#define LLMC_DIALECTS_LLM_LLMATTRS_TD

include "dialects/llm/LLMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def LLM_QuantScheme : I32EnumAttr<"QuantScheme", "weight quantization scheme", [
    I32EnumAttrCase<"symmetric", 0>,
    I32EnumAttrCase<"asymmetric", 1>,
    I32EnumAttrCase<"gguf_q8_0", 2>,
    I32EnumAttrCase<"gguf_q4_0", 3>,
    I32EnumAttrCase<"gguf_q4_1", 4>,
    I32EnumAttrCase<"gqsa_q4_0_s50", 5>,
    I32EnumAttrCase<"dgq_a8w4", 6>,
    // ggml's other block formats, read from GGUF files (see QuantAttr).
    I32EnumAttrCase<"gguf_q5_0", 7>,
    I32EnumAttrCase<"gguf_q5_1", 8>,
    I32EnumAttrCase<"gguf_iq4_nl", 9>,
    I32EnumAttrCase<"gguf_q2_k", 10>,
    I32EnumAttrCase<"gguf_q3_k", 11>,
    I32EnumAttrCase<"gguf_q4_k", 12>,
    I32EnumAttrCase<"gguf_q5_k", 13>,
    I32EnumAttrCase<"gguf_q6_k", 14>]> {
  let cppNamespace = "::mlir::llm";
  let genSpecializedAttr = 0;
}

def LLM_QuantGranularity : I32EnumAttr<"QuantGranularity",
    "what one quantization scale covers", [
    I32EnumAttrCase<"tensor", 0>,
    I32EnumAttrCase<"channel", 1>,
    I32EnumAttrCase<"group", 2>,
    I32EnumAttrCase<"block", 3>]> {
  let cppNamespace = "::mlir::llm";
  let genSpecializedAttr = 0;
}

def LLM_PlacementTier : I32EnumAttr<"PlacementTier",
    "memory tier an expert's weights live in", [
    I32EnumAttrCase<"device", 0>,
    I32EnumAttrCase<"host", 1>,
    I32EnumAttrCase<"storage", 2>]> {
  let cppNamespace = "::mlir::llm";
  let genSpecializedAttr = 0;
}

def LLM_RopeScalingKind : I32EnumAttr<"RopeScalingKind",
    "rotary embedding frequency scaling", [
    I32EnumAttrCase<"linear", 0>,
    I32EnumAttrCase<"llama3", 1>,
    I32EnumAttrCase<"longrope", 2>,
    I32EnumAttrCase<"yarn", 3>]> {
  let cppNamespace = "::mlir::llm";
  let genSpecializedAttr = 0;
}


def LLM_RopeStyle : I32EnumAttr<"RopeStyle",
    "which elements of a head RoPE rotates together", [
    // (x[2i], x[2i+1]) pairs: llama2.c, GGUF/llama.cpp, Meta's reference.
    I32EnumAttrCase<"interleaved", 0>,
    // (x[i], x[i + d/2]) pairs: Hugging Face `rotate_half`.
    I32EnumAttrCase<"half", 1>]> {
  let cppNamespace = "::mlir::llm";
  // Used as an op attribute: printed as a bare keyword in op syntax.
}

def LLM_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "GELU formula", [
    I32EnumAttrCase<"none", 0>,
    I32EnumAttrCase<"tanh", 1>]> {
  let cppNamespace = "::mlir::llm";
  // Used as an op attribute: printed as a bare keyword in op syntax.
}

def LLM_Activation : I32EnumAttr<"Activation",
    "activation applied in a linear's epilogue", [
    I32EnumAttrCase<"silu", 0>,
    // Exact (erf) GELU.
    I32EnumAttrCase<"gelu", 1>,
    I32EnumAttrCase<"gelu_tanh", 2>]> {
  let cppNamespace = "::mlir::llm";
  // Used as an op attribute: printed as a bare keyword in op syntax.
}

def LLM_MoERouting : I32EnumAttr<"MoERouting",
    "how router logits become expert weights", [
    // Mixtral: top-k of the logits, softmax over those k.
    I32EnumAttrCase<"topk_softmax", 0>,
    // Softmax over all experts, then top-k (weights not renormalised).
    I32EnumAttrCase<"softmax_topk", 1>,
    // Softmax over all experts, top-k, then renormalised to sum to one.
    I32EnumAttrCase<"softmax_topk_norm", 2>]> {
  let cppNamespace = "::mlir::llm";
  // Used as an op attribute: printed as a bare keyword in op syntax.
}

def LLM_ExitMetric : I32EnumAttr<"ExitMetric",
    "confidence measure of an early-exit head", [
    // Exit when the largest softmax probability >= threshold.
    I32EnumAttrCase<"max_prob", 0>,
    // Exit when the entropy (nats) of the softmax <= threshold.
    I32EnumAttrCase<"entropy", 1>,
    // Exit when top-1 minus top-2 probability >= threshold.
    I32EnumAttrCase<"margin", 2>]> {
  let cppNamespace = "::mlir::llm";
  // Used as an op attribute: printed as a bare keyword in op syntax.
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class LLM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LLM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def LLM_QuantAttr : LLM_Attr<"Quant", "quant"> {
  let summary = "How a weight tensor is quantized";
  let description = [{
    `bits` per element; `group` elements share a scale (0 when the scale
    covers a whole channel or tensor); `scheme` says whether there is a zero
    point or a GGUF block layout with the scales inside the blocks;
    `granularity` what one scale covers.

    ```mlir
    #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>
    #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>
    #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>
    #llm.quant<bits = 4, group = 32, scheme = gqsa_q4_0_s50, granularity = block>
    #llm.quant<bits = 4, group = 128, scheme = dgq_a8w4, granularity = block>
    ```

    `gqsa_q4_0_s50` (GQSA, group-wise int4 with 50 % structured group
    sparsity): each row keeps the half of its q4_0 blocks with the largest
    saliency, stored as (u16 block index, q4_0 block) pairs in index order;
    the other blocks are zero and not stored.

    `dgq_a8w4` (Dual Grained Quantization, A8W4): each row is stored as its
    f32 channel scale `s1`, one u8 integer scale `s2` per `group` inputs
    (a multiple of 32) and the int4 weights `q` in [-8, 7] as nibbles
    `q + 8` in blocks of 32 (q4_0's order): `w = s1 * s2 * q`. The
    activations are quantized to int8 per token, so a row's dot product is
    one integer sum (`sum_g s2 * sum_j q x`) scaled once. Its one extra
    operand, `scales`, is a vector over the input features that the
    activations are multiplied by before quantization (the inverse of the
    percentile-clipping smoothing folded into the weights; all ones without
    calibration).

    `gguf_q5_0`, `gguf_q5_1`, `gguf_iq4_nl` (blocks of 32) and the
    K-quants `gguf_q2_k` .. `gguf_q6_k` (super-blocks of 256, `group`
    = 256) are ggml's layouts as stored in GGUF files, read as stored like
    q4_0 (q5_0, q5_1 and iq4_nl 8 blocks at a time, as a super-block). An
    `llm.dequantize` of any of them to f16 is a pack-time transform.

    Scales of a weight of shape `[..., K]` have shape `[..., K / group]`
    (group), `[..., 1]` (channel) or all ones (tensor); zero points, present
    for `asymmetric` only, have the scales' shape. GGUF block schemes keep
    scales (and minimums) inside the packed blocks: no separate operands.
  }];
  let parameters = (ins "int64_t":$bits, "int64_t":$group,
                        EnumParameter<LLM_QuantScheme>:$scheme,
                        EnumParameter<LLM_QuantGranularity>:$granularity);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True for the GGUF block schemes and DGQ (scales stored inside the
    /// packed weight).
    bool isBlockScheme() const;
    /// True for DGQ: a block scheme whose `scales` operand multiplies the
    /// input features (one per column of the weight).
    bool hasInputScales() const;
    /// True when the scheme carries a separate zero-point tensor.
    bool hasZeroPoints() const;
    /// Shape of the scales of a weight of shape `weightShape`; nullopt for
    /// block schemes. Fails (nullopt) when the group does not divide the
    /// last dimension.
    std::optional<::llvm::SmallVector<int64_t>>
    getScalesShape(::llvm::ArrayRef<int64_t> weightShape) const;
    /// Storage bits per weight element, scales and zero points included.
    double getBitsPerWeight() const;
    /// True for every ggml format the packer decodes (q5_0, q5_1, iq4_nl
    /// and the K-quants q2_k .. q6_k): an llm.dequantize of them to f16 is
    /// a pack-time transform.
    bool isPackTimeDecodable() const;
  }];
}

def LLM_PlacementAttr : LLM_Attr<"Placement", "placement"> {
  let summary = "Memory tier of each expert of an llm.moe";
  let description = [{
    One tier per expert, in expert order: `device` (accelerator or fast
    memory), `host` (CPU memory) or `storage` (loaded on demand).

    ```mlir
    #llm.placement<[device, device, host, storage]>
    ```
  }];
  let parameters = (ins ArrayRefParameter<"PlacementTier">:$tiers);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def LLM_RopeScalingAttr : LLM_Attr<"RopeScaling", "rope_scaling"> {
  let summary = "Frequency scaling of rotary position embeddings";
  let description = [{
    `linear` divides every position by `factor` (position interpolation).
    `llama3` rescales frequencies by wavelength as in Llama 3.1: wavelengths
    longer than `original_max_positions / low_freq_factor` are divided by
    `factor`, those shorter than `original_max_positions / high_freq_factor`
    are kept, and the band in between is interpolated smoothly.
    `longrope` (Phi-3, LongRoPE) divides each pair's frequency by its own
    factor: `short_factor[i]` while the sequence (`start_pos` + tokens) fits
    in `original_max_positions`, `long_factor[i]` beyond; cos and sin are
    multiplied by `attention_factor`. `factor` is recorded, not used.
    `yarn` (YaRN; DeepSeek-V2, Qwen2.5 long context) blends, per pair,
    the original frequency with the one divided by `factor` along a linear
    ramp between the pairs that complete `beta_fast` and `beta_slow`
    rotations over `original_max_positions` (bounds floored and ceiled, as
    transformers and DeepSeek's reference do); cos and sin are multiplied
    by `attention_factor`.

    ```mlir
    #llm.rope_scaling<linear, factor = 4.0>
    #llm.rope_scaling<llama3, factor = 8.0, low_freq_factor = 1.0,
                      high_freq_factor = 4.0, original_max_positions = 8192>
    #llm.rope_scaling<longrope, factor = 32.0, original_max_positions = 4096,
                      attention_factor = 1.19, short_factor = [1.0, 1.1],
                      long_factor = [1.0, 4.0]>
    #llm.rope_scaling<yarn, factor = 40.0, original_max_positions = 4096,
                      attention_factor = 1.0, beta_fast = 32.0, beta_slow = 1.0>
    ```
  }];
  let parameters = (ins EnumParameter<LLM_RopeScalingKind>:$kind,
                        APFloatParameter<"">:$factor,
                        APFloatParameter<"">:$lowFreqFactor,
                        APFloatParameter<"">:$highFreqFactor,
                        "int64_t":$originalMaxPositions,
                        "::mlir::DenseF64ArrayAttr":$shortFactorAttr,
                        "::mlir::DenseF64ArrayAttr":$longFactorAttr,
                        APFloatParameter<"">:$attentionFactor,
                        APFloatParameter<"">:$betaFast,
                        APFloatParameter<"">:$betaSlow);
  let builders = [
    AttrBuilder<(ins "RopeScalingKind":$kind, "::llvm::APFloat":$factor,
                     "::llvm::APFloat":$lowFreqFactor,
                     "::llvm::APFloat":$highFreqFactor,
                     "int64_t":$originalMaxPositions), [{
      return $_get($_ctxt, kind, factor, lowFreqFactor, highFreqFactor,
                   originalMaxPositions, ::mlir::DenseF64ArrayAttr(),
                   ::mlir::DenseF64ArrayAttr(), ::llvm::APFloat(1.0),
                   ::llvm::APFloat(0.0), ::llvm::APFloat(0.0));
    }]>];
  let extraClassDeclaration = [{
    /// longrope's per-pair factors (empty for the other kinds).
    ::llvm::ArrayRef<double> getShortFactor() const {
      return getShortFactorAttr() ? getShortFactorAttr().asArrayRef()
                                  : ::llvm::ArrayRef<double>();
    }
    ::llvm::ArrayRef<double> getLongFactor() const {
      return getLongFactorAttr() ? getLongFactorAttr().asArrayRef()
                                 : ::llvm::ArrayRef<double>();
    }
  }];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

#endif // LLMC_DIALECTS_LLM_LLMATTRS_TD
