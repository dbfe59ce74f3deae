//===- BuildIR.cpp - ModelSource -> llm dialect ---------------------------===//

#include "importers/BuildIR.h"
#include "dialects/llm/LLMOps.h"
#include "importers/Tokenizer.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"

using namespace mlir;
using namespace llmc;

namespace {
class ModuleBuilder {
public:
  ModuleBuilder(MLIRContext &ctx, const ModelSource &source)
      : ctx(ctx), source(source), c(source.config), b(&ctx),
        loc(FileLineColLoc::get(&ctx, source.path, 0, 0)) {}

  OwningOpRef<ModuleOp> build() {
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    Type f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    // Multi-head latent attention caches one shared vector per position:
    // the normalised latent followed by the rotated key.
    auto cacheType =
        c.mla ? llm::KVCacheType::get(&ctx, c.numLayers, c.maxSeq, 1,
                                      c.mla->kvLora + c.mla->ropeDim, f32, 0,
                                      /*shared=*/true)
              : llm::KVCacheType::get(&ctx, c.numLayers, c.maxSeq,
                                      c.numKvHeads, c.headDim, f32);
    setModuleAttributes(*module, cacheType);
    auto tokens = RankedTensorType::get({dyn}, b.getI32Type());
    auto logits = RankedTensorType::get({dyn, c.vocabSize}, f32);
    // forward(tokens, start_pos, kv, num_logits): logits of the last
    // num_logits positions (1 for generation, all for scoring).
    auto func = func::FuncOp::create(
        b, loc, "forward",
        b.getFunctionType({tokens, b.getIndexType(), cacheType,
                           b.getIndexType()},
                          {logits, cacheType}));
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Value pos = entry->getArgument(1);
    Value cache = entry->getArgument(2);

    Value table =
        dequantized(weight(Role::TokenEmbedding, -1), /*gathered=*/true);
    Value x = llm::EmbeddingOp::create(
        b, loc, act(c.dim), table, entry->getArgument(0),
        c.embeddingScale > 0 ? b.getF64FloatAttr(c.embeddingScale)
                             : FloatAttr());
    if (c.learnedPositions)
      x = llm::AddOp::create(b, loc, x, positionEmbeddings(entry->getArgument(0), pos));
    for (int64_t l = 0; l < c.numLayers; ++l)
      x = decoderLayer(x, pos, cache, cacheType, l);
    // Only the rows whose logits are wanted go through the final norm and
    // the classifier (in prefill that skips most of the lm_head work).
    Value rows = entry->getArgument(3);
    Value t = tensor::DimOp::create(b, loc, x, 0);
    Value first = arith::SubIOp::create(b, loc, t, rows);
    x = tensor::ExtractSliceOp::create(
        b, loc, act(c.dim), x,
        ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rows, b.getIndexAttr(c.dim)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    Value hn = norm(x, Role::FinalNorm, Role::FinalNormBias, -1);
    Value out = linear(hn,
                       c.tiedEmbeddings ? Role::TokenEmbedding : Role::Output,
                       Role(-1), -1, c.vocabSize);
    if (c.finalSoftcap)
      out = llm::SoftcapOp::create(b, loc, out,
                                   b.getF64FloatAttr(*c.finalSoftcap));
    func::ReturnOp::create(b, loc, ValueRange{out, cache});
    return module;
  }

private:
  /// One decoder layer: [pre-norm] -> attention -> [post-norm] -> residual,
  /// [pre-norm] -> MLP or MoE -> [post-norm] -> residual. Threads the cache.
  Value decoderLayer(Value x, Value pos, Value &cache,
                     llm::KVCacheType cacheType, int64_t l) {
    Value h = c.preNorms ? norm(x, Role::AttnNorm, Role::AttnNormBias, l) : x;
    Value o = c.mla ? latentAttention(h, pos, cache, cacheType, l)
                    : attention(h, pos, cache, cacheType, l);
    if (c.postNorms)
      o = rmsNorm(o, weight(Role::PostAttnNorm, l));
    x = llm::AddOp::create(b, loc, x, o);
    Value h2 = c.preNorms ? norm(x, Role::FfnNorm, Role::FfnNormBias, l) : x;
    Value ffn = c.isMoELayer(l) ? moe(h2, l) : mlp(h2, l);
    if (c.postNorms)
      ffn = rmsNorm(ffn, weight(Role::PostFfnNorm, l));
    return llm::AddOp::create(b, loc, x, ffn);
  }

  /// Q/K/V projections, RoPE, attention over the cache, output projection.
  Value attention(Value h, Value pos, Value &cache, llm::KVCacheType cacheType,
                  int64_t l) {
    Value q, k, v;
    if (c.fusedQKV) {
      Value qkv = linear(h, Role::Wqkv, Role::Bqkv, l, c.qDim() + 2 * c.kvDim());
      q = columns(qkv, 0, c.qDim());
      k = columns(qkv, c.qDim(), c.kvDim());
      v = columns(qkv, c.qDim() + c.kvDim(), c.kvDim());
    } else {
      q = linear(h, Role::Wq, Role::Bq, l, c.qDim());
      k = linear(h, Role::Wk, Role::Bk, l, c.kvDim());
      v = linear(h, Role::Wv, Role::Bv, l, c.kvDim());
    }
    if (c.qkNorm != ModelConfig::QKNorm::None) {
      q = qkNorm(q, weight(Role::QNorm, l), c.numHeads);
      k = qkNorm(k, weight(Role::KNorm, l), c.numKvHeads);
    }
    bool sliding = c.isSlidingLayer(l);
    RopeParams ropeParams{c.ropeTheta, c.ropeScaling};
    if (sliding && c.slidingRope)
      ropeParams = *c.slidingRope;
    auto optionalF64 = [&](std::optional<double> v) {
      return v ? b.getF64FloatAttr(*v) : FloatAttr();
    };
    if (!c.learnedPositions) {
      q = rope(q, pos, ropeParams);
      k = rope(k, pos, ropeParams);
    }
    auto attn = llm::AttentionOp::create(
        b, loc, act(c.qDim()), cacheType, q, k, v, cache, pos, Value(),
        b.getI64IntegerAttr(l),
        b.getI64IntegerAttr(c.numHeads), b.getI64IntegerAttr(c.numKvHeads),
        optionalF64(c.attentionScale), b.getUnitAttr(),
        sliding ? b.getI64IntegerAttr(*c.slidingWindow) : IntegerAttr(),
        optionalF64(c.attentionSoftcap));
    cache = attn.getNewCache();
    return linear(attn.getOutput(), Role::Wo, Role::Bo, l, c.dim);
  }

  /// DeepSeek-V2's multi-head latent attention in its absorbed form: each
  /// head's no-RoPE query is mapped into the latent space by its slice of
  /// kv_b_proj (W_UK^T), so every head attends the cached [latent; rotated
  /// key] vectors directly (one shared KV head, keys = values); the
  /// attended latent is expanded per head by W_UV, then o_proj. The cache
  /// holds kv_lora_rank + qk_rope_head_dim values per position and layer,
  /// not expanded keys and values.
  Value latentAttention(Value h, Value pos, Value &cache,
                        llm::KVCacheType cacheType, int64_t l) {
    const ModelConfig::LatentAttention &m = *c.mla;
    int64_t heads = c.numHeads, qHead = m.nopeDim + m.ropeDim;
    Value q;
    if (m.qLora > 0) {
      Value qa = linear(h, Role::QA, Role(-1), l, m.qLora);
      q = linear(rmsNorm(qa, weight(Role::QANorm, l)), Role::QB, Role(-1), l,
                 heads * qHead);
    } else {
      q = linear(h, Role::Wq, Role(-1), l, heads * qHead);
    }
    Value kv = linear(h, Role::KVA, Role(-1), l, m.kvLora + m.ropeDim);
    Value latent = rmsNorm(columns(kv, 0, m.kvLora), weight(Role::KVANorm, l));
    RopeParams ropeParams{c.ropeTheta, c.ropeScaling};
    Value qRope = rope(headColumns(q, heads, qHead, m.nopeDim, m.ropeDim), pos,
                       ropeParams, m.ropeDim);
    Value kRope = rope(columns(kv, m.kvLora, m.ropeDim), pos, ropeParams,
                       m.ropeDim);
    auto [keyUp, valueUp] = latentUpProjections(l);
    Value qLatent = llm::HeadLinearOp::create(
        b, loc, act(heads * m.kvLora),
        headColumns(q, heads, qHead, 0, m.nopeDim), keyUp.first,
        keyUp.second ? b.getUnitAttr() : UnitAttr());
    int64_t width = m.kvLora + m.ropeDim;
    Value query = joinHeads(qLatent, qRope, heads, m.kvLora, m.ropeDim);
    Value key = joinHeads(latent, kRope, 1, m.kvLora, m.ropeDim);
    auto attn = llm::AttentionOp::create(
        b, loc, act(heads * width), cacheType, query, key, key, cache, pos,
        Value(), b.getI64IntegerAttr(l), b.getI64IntegerAttr(heads),
        b.getI64IntegerAttr(1),
        c.attentionScale ? b.getF64FloatAttr(*c.attentionScale) : FloatAttr(),
        b.getUnitAttr(), IntegerAttr(), FloatAttr());
    cache = attn.getNewCache();
    // Each head's attended latent (the first kv_lora_rank of its output),
    // expanded to its value by W_UV.
    Value values = llm::HeadLinearOp::create(
        b, loc, act(heads * m.valueDim),
        headColumns(attn.getOutput(), heads, width, 0, m.kvLora), valueUp,
        UnitAttr());
    return linear(values, Role::Wo, Role(-1), l, c.dim);
  }

  /// The per-head up projections of MLA: W_UK (with whether head_linear
  /// reads it transposed) and W_UV ([heads, v, latent]). Hugging Face has
  /// one kv_b_proj [heads * (nope + v), latent], viewed as [heads, nope +
  /// v, latent] and sliced (W_UK used transposed); llama.cpp stores k_b
  /// already transposed ([heads, latent, nope]) and v_b.
  std::pair<std::pair<Value, bool>, Value> latentUpProjections(int64_t l) {
    const ModelConfig::LatentAttention &m = *c.mla;
    int64_t heads = c.numHeads;
    if (source.nameOf(Role::KVB, l, -1).empty())
      return {{dequantized(weight(Role::KB, l)), false},
              dequantized(weight(Role::VB, l))};
    Value kvB = dequantized(weight(Role::KVB, l));
    Type wElt = cast<RankedTensorType>(kvB.getType()).getElementType();
    Value perHead = tensor::ExpandShapeOp::create(
        b, loc,
        RankedTensorType::get({heads, m.nopeDim + m.valueDim, m.kvLora}, wElt),
        kvB, ArrayRef<ReassociationIndices>{{0, 1}, {2}});
    auto rowsOf = [&](int64_t offset, int64_t size) -> Value {
      return tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({heads, size, m.kvLora}, wElt),
          perHead,
          ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(offset),
                                 b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(heads), b.getIndexAttr(size),
                                 b.getIndexAttr(m.kvLora)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                 b.getIndexAttr(1)});
    };
    return {{rowsOf(0, m.nopeDim), true}, rowsOf(m.nopeDim, m.valueDim)};
  }

  /// Columns [offset, offset + size) of every head of x [T, heads * width]:
  /// [T, heads * size].
  Value headColumns(Value x, int64_t heads, int64_t width, int64_t offset,
                    int64_t size) {
    int64_t dyn = ShapedType::kDynamic;
    Value t = tensor::DimOp::create(b, loc, x, 0);
    Type f32 = b.getF32Type();
    Value x3 = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({dyn, heads, width}, f32), x,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{t, b.getIndexAttr(heads), b.getIndexAttr(width)});
    Value part = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({dyn, heads, size}, f32), x3,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                               b.getIndexAttr(offset)},
        ArrayRef<OpFoldResult>{t, b.getIndexAttr(heads), b.getIndexAttr(size)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                               b.getIndexAttr(1)});
    return tensor::CollapseShapeOp::create(
        b, loc, act(heads * size), part,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  /// Per head, a's `na` columns then b's `nb`: [T, heads * (na + nb)].
  Value joinHeads(Value a, Value bv, int64_t heads, int64_t na, int64_t nb) {
    int64_t dyn = ShapedType::kDynamic;
    Type f32 = b.getF32Type();
    Value t = tensor::DimOp::create(b, loc, a, 0);
    auto view = [&](Value v, int64_t n) {
      return tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({dyn, heads, n}, f32), v,
          ArrayRef<ReassociationIndices>{{0}, {1, 2}},
          ArrayRef<OpFoldResult>{t, b.getIndexAttr(heads), b.getIndexAttr(n)});
    };
    Value joined = llm::ConcatOp::create(
        b, loc, RankedTensorType::get({dyn, heads, na + nb}, f32),
        ValueRange{view(a, na), view(bv, nb)}, b.getI64IntegerAttr(2));
    return tensor::CollapseShapeOp::create(
        b, loc, act(heads * (na + nb)), joined,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  /// RMSNorm of projected queries or keys: per head ([seq, heads, head_dim]
  /// rows, weight [head_dim]) or over the whole projection.
  Value qkNorm(Value x, Value w, int64_t heads) {
    if (c.qkNorm == ModelConfig::QKNorm::Whole)
      return rmsNorm(x, w);
    auto type = cast<RankedTensorType>(x.getType());
    auto perHead = RankedTensorType::get(
        {ShapedType::kDynamic, heads, c.headDim}, type.getElementType());
    Value rows = tensor::DimOp::create(b, loc, x, 0);
    Value x3 = tensor::ExpandShapeOp::create(
        b, loc, perHead, x, ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{rows, b.getIndexAttr(heads),
                               b.getIndexAttr(c.headDim)});
    return tensor::CollapseShapeOp::create(
        b, loc, type, rmsNorm(x3, w), ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  }

  /// Learned absolute positions (GPT-2): rows start_pos.. of the table.
  Value positionEmbeddings(Value tokens, Value pos) {
    Value count = tensor::DimOp::create(b, loc, tokens, 0);
    auto type = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
    Value positions = tensor::GenerateOp::create(
        b, loc, type, ValueRange{count},
        [&](OpBuilder &nb, Location l, ValueRange idx) {
          Value p = arith::AddIOp::create(nb, l, pos, idx[0]);
          tensor::YieldOp::create(
              nb, l, arith::IndexCastOp::create(nb, l, nb.getI32Type(), p));
        });
    return llm::EmbeddingOp::create(
        b, loc, act(c.dim),
        dequantized(weight(Role::PositionEmbedding, -1), /*gathered=*/true),
        positions,
        FloatAttr());
  }

  /// The model's norm: RMSNorm, or LayerNorm with its bias (GPT-2).
  Value norm(Value x, Role w, Role bias, int64_t l) {
    if (!c.layerNorm)
      return rmsNorm(x, weight(w, l));
    return llm::LayerNormOp::create(b, loc, x, weight(w, l), weight(bias, l),
                                    b.getF64FloatAttr(c.normEps));
  }

  /// Columns [offset, offset + size) of a [tokens, n] activation.
  Value columns(Value x, int64_t offset, int64_t size) {
    Value rows = tensor::DimOp::create(b, loc, x, 0);
    return tensor::ExtractSliceOp::create(
        b, loc, act(size), x,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(offset)},
        ArrayRef<OpFoldResult>{rows, b.getIndexAttr(size)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }

  RankedTensorType act(int64_t features) {
    return RankedTensorType::get({ShapedType::kDynamic, features},
                                 b.getF32Type());
  }

  /// `#llm.quant` of a GGUF block type; null for plain floats.
  llm::QuantAttr quantOf(DType dtype) {
    auto block = [&](int64_t bits, llm::QuantScheme scheme) {
      return llm::QuantAttr::get(&ctx, bits, int64_t(32), scheme,
                                 llm::QuantGranularity::block);
    };
    switch (dtype) {
    case DType::Q8_0: return block(8, llm::QuantScheme::gguf_q8_0);
    case DType::Q4_0: return block(4, llm::QuantScheme::gguf_q4_0);
    case DType::Q4_1: return block(4, llm::QuantScheme::gguf_q4_1);
    default: break;
    }
    // Formats decoded at pack time (no kernel reads them yet).
    auto packed = [&](int64_t bits, int64_t group, llm::QuantScheme scheme) {
      return llm::QuantAttr::get(&ctx, bits, group, scheme,
                                 llm::QuantGranularity::block);
    };
    switch (dtype) {
    case DType::Q5_0: return packed(5, 32, llm::QuantScheme::gguf_q5_0);
    case DType::Q5_1: return packed(5, 32, llm::QuantScheme::gguf_q5_1);
    case DType::IQ4_NL: return packed(4, 32, llm::QuantScheme::gguf_iq4_nl);
    case DType::Q2_K: return packed(2, 256, llm::QuantScheme::gguf_q2_k);
    case DType::Q3_K: return packed(3, 256, llm::QuantScheme::gguf_q3_k);
    case DType::Q4_K: return packed(4, 256, llm::QuantScheme::gguf_q4_k);
    case DType::Q5_K: return packed(5, 256, llm::QuantScheme::gguf_q5_k);
    case DType::Q6_K: return packed(6, 256, llm::QuantScheme::gguf_q6_k);
    default: return {};
    }
  }

  Type elementType(DType dtype) {
    switch (dtype) {
    case DType::F32: return b.getF32Type();
    case DType::F16: return b.getF16Type();
    case DType::BF16: return b.getBF16Type();
    case DType::Q8_0: return b.getIntegerType(8);
    case DType::Q4_0:
    case DType::Q4_1: return b.getIntegerType(4);
    default: return b.getIntegerType(quantOf(dtype).getBits());
    }
  }

  /// The llm.param of a tensor, created once per name at the function top.
  Value param(const std::string &name) {
    if (Value v = params.lookup(name))
      return v;
    const TensorInfo *t = source.lookup(name);
    assert(t && "checkTensors() guarantees every role's tensor exists");
    auto type = RankedTensorType::get(t->shape, elementType(t->dtype));
    OpBuilder::InsertionGuard guard(b);
    Block *entry = b.getInsertionBlock();
    while (!isa<func::FuncOp>(entry->getParentOp()))
      entry = entry->getParentOp()->getBlock();
    b.setInsertionPoint(entry, std::next(entry->begin(), params.size()));
    Value v = llm::ParamOp::create(b, loc, type, b.getStringAttr(name),
                                   quantOf(t->dtype));
    params[name] = v;
    return v;
  }

  Value weight(Role role, int64_t layer) {
    return param(source.nameOf(role, layer, -1));
  }

  /// Plain float weights pass through; GGUF blocks become llm.dequantize:
  /// to f32 at run time, or to f16 at pack time for the formats the packer
  /// decodes (K-quants, q5_0, q5_1, iq4_nl) unless `gathered` (an embedding
  /// table, of which each step decodes the rows it looks up).
  Value dequantized(Value w, bool gathered = false) {
    llm::QuantAttr quant = quantOfParam(w);
    if (!quant)
      return w;
    bool atPackTime = !gathered && quant.isPackTimeDecodable();
    // A tied table: decoded once.
    Value &cached = dequantizedParams[{w, unsigned(atPackTime)}];
    if (cached)
      return cached;
    auto type = cast<RankedTensorType>(w.getType());
    Type elt = atPackTime ? Type(b.getF16Type()) : Type(b.getF32Type());
    cached = llm::DequantizeOp::create(b, loc, type.clone(elt), w, Value(),
                                       Value(), quant);
    return cached;
  }

  static llm::QuantAttr quantOfParam(Value v) {
    auto p = v.getDefiningOp<llm::ParamOp>();
    return p ? p.getQuantAttr() : llm::QuantAttr();
  }

  Value rmsNorm(Value x, Value w) {
    return llm::RMSNormOp::create(
        b, loc, x, w, b.getF64FloatAttr(c.normEps),
        c.normWeightOffset != 0 ? b.getF64FloatAttr(c.normWeightOffset)
                                : FloatAttr());
  }

  Value linear(Value x, Role wRole, Role bRole, int64_t layer, int64_t out) {
    Value w = weight(wRole, layer);
    Value bias;
    if (bRole != Role(-1)) {
      std::string biasName = source.nameOf(bRole, layer, -1);
      // Qwen2 biases only Q, K and V; GPT-2 every linear.
      bool qkv = bRole == Role::Bq || bRole == Role::Bk || bRole == Role::Bv ||
                 bRole == Role::Bqkv;
      if (!biasName.empty() && ((c.qkvBias && qkv) || c.linearBias))
        bias = param(biasName);
    }
    auto p = w.getDefiningOp<llm::ParamOp>();
    if (c.transposedWeights && wRole != Role::TokenEmbedding) {
      // Conv1D's [in, out] as linear's [out, in], at pack time.
      auto t = cast<RankedTensorType>(w.getType());
      w = llm::TransposeOp::create(
          b, loc,
          RankedTensorType::get({t.getDimSize(1), t.getDimSize(0)},
                                t.getElementType()),
          w);
      return llm::LinearOp::create(b, loc, act(out), x, w, bias);
    }
    if (llm::QuantAttr quant = p.getQuantAttr())
      return llm::QLinearOp::create(b, loc, act(out), x, w, Value(), Value(),
                                    bias, quant);
    w = dequantized(w);
    return llm::LinearOp::create(b, loc, act(out), x, w, bias);
  }

  DenseF64ArrayAttr factors(ArrayRef<double> v) {
    return v.empty() ? DenseF64ArrayAttr() : DenseF64ArrayAttr::get(&ctx, v);
  }

  /// RoPE over heads of `headDim` (default: the model's head_dim).
  Value rope(Value x, Value pos, const RopeParams &params,
             int64_t headDim = 0) {
    if (headDim == 0)
      headDim = c.headDim;
    llm::RopeScalingAttr scaling;
    if (params.scaling) {
      const RopeScaling &s = *params.scaling;
      llm::RopeScalingKind kind = s.kind == RopeScaling::Llama3
                                      ? llm::RopeScalingKind::llama3
                                  : s.kind == RopeScaling::LongRope
                                      ? llm::RopeScalingKind::longrope
                                  : s.kind == RopeScaling::Yarn
                                      ? llm::RopeScalingKind::yarn
                                      : llm::RopeScalingKind::linear;
      scaling = llm::RopeScalingAttr::get(
          &ctx, kind, llvm::APFloat(s.factor), llvm::APFloat(s.lowFreqFactor),
          llvm::APFloat(s.highFreqFactor), s.originalMaxPositions,
          factors(s.shortFactor), factors(s.longFactor),
          llvm::APFloat(s.attentionFactor), llvm::APFloat(s.betaFast),
          llvm::APFloat(s.betaSlow));
    }
    return llm::RoPEOp::create(
        b, loc, x.getType(), x, pos, b.getI64IntegerAttr(headDim),
        b.getF64FloatAttr(params.theta),
        llm::RopeStyleAttr::get(&ctx, c.ropeStyle == RopeStyle::Half
                                          ? llm::RopeStyle::half
                                          : llm::RopeStyle::interleaved),
        scaling,
        c.rotaryDim > 0 && c.rotaryDim < headDim
            ? b.getI64IntegerAttr(c.rotaryDim)
            : IntegerAttr());
  }

  Value mlp(Value h, int64_t l) {
    if (!c.gatedFFN) { // act(up(h)) -> down
      Value up = linear(h, Role::FfnUp, Role::BUp, l, c.hiddenDim);
      return linear(activation(up), Role::FfnDown, Role::BDown, l, c.dim);
    }
    Value gate, up;
    if (c.fusedGateUp) {
      Value gu = linear(h, Role::FfnGateUp, Role(-1), l, 2 * c.hiddenDim);
      if (c.ffnActivation == ModelConfig::Activation::SiLU) // fused SwiGLU
        return linear(llm::SwiGLUOp::create(b, loc, act(c.hiddenDim), gu,
                                            Value()),
                      Role::FfnDown, Role(-1), l, c.dim);
      gate = columns(gu, 0, c.hiddenDim);
      up = columns(gu, c.hiddenDim, c.hiddenDim);
    } else {
      gate = linear(h, Role::FfnGate, Role(-1), l, c.hiddenDim);
      up = linear(h, Role::FfnUp, Role(-1), l, c.hiddenDim);
    }
    Value gated =
        c.ffnActivation == ModelConfig::Activation::SiLU
            ? Value(llm::SwiGLUOp::create(b, loc, gate.getType(), gate, up))
            : Value(llm::MulOp::create(b, loc, activation(gate), up)); // GeGLU
    return linear(gated, Role::FfnDown, Role(-1), l, c.dim);
  }

  /// The MLP's activation on its own (GeGLU's gate, GPT-2's MLP).
  Value activation(Value x) {
    if (c.ffnActivation == ModelConfig::Activation::SiLU)
      return llm::SiLUOp::create(b, loc, x);
    return llm::GeLUOp::create(
        b, loc, x,
        c.ffnActivation == ModelConfig::Activation::GeLUTanh
            ? llm::GeluApproximation::tanh
            : llm::GeluApproximation::none);
  }

  /// [E, rows, cols] expert weights: one stacked tensor (GGUF) or the
  /// per-expert [rows, cols] tensors (Hugging Face) concatenated into one
  /// [E * rows, cols] weight at pack time, viewed as [E, rows, cols].
  Value experts(Role role, int64_t l, int64_t rows, int64_t cols) {
    if (source.stackedExperts)
      return weight(role, l); // GGUF blocks stay blocks (expert_quant)
    SmallVector<Value> parts;
    for (int64_t e = 0; e < c.numExperts; ++e)
      parts.push_back(dequantized(param(source.nameOf(role, l, e))));
    Type elt = cast<RankedTensorType>(parts[0].getType()).getElementType();
    Value flat = llm::ConcatOp::create(
        b, loc, RankedTensorType::get({c.numExperts * rows, cols}, elt), parts,
        b.getI64IntegerAttr(0));
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({c.numExperts, rows, cols}, elt), flat,
        ArrayRef<ReassociationIndices>{{0, 1}, {2}});
  }

  llm::MoERouting routing() const {
    switch (c.routing) {
    case ModelConfig::Routing::TopKSoftmax: return llm::MoERouting::topk_softmax;
    case ModelConfig::Routing::SoftmaxTopK: return llm::MoERouting::softmax_topk;
    case ModelConfig::Routing::SoftmaxTopKNorm:
      return llm::MoERouting::softmax_topk_norm;
    }
    return llm::MoERouting::topk_softmax;
  }

  Value moe(Value h, int64_t l) {
    int64_t f = c.expertHidden();
    Value router = dequantized(weight(Role::Router, l));
    Value gate = experts(Role::ExpertGate, l, f, c.dim);
    Value up = experts(Role::ExpertUp, l, f, c.dim);
    Value down = experts(Role::ExpertDown, l, c.dim, f);
    // Stacked GGUF blocks run as stored: gate and up in one format, down in
    // it or another (down_quant: Q4_K_M's Q6_K ffn_down_exps); other mixes
    // (float beside blocks, gate unlike up) are dequantized, the formats
    // the packer decodes to f16 while packing.
    llm::QuantAttr expertQuant = quantOfParam(gate),
                   downQuant = quantOfParam(down);
    if (!expertQuant || quantOfParam(up) != expertQuant || !downQuant) {
      expertQuant = downQuant = {};
      gate = dequantized(gate);
      up = dequantized(up);
      down = dequantized(down);
    } else if (downQuant == expertQuant) {
      downQuant = {};
    }
    Value sharedGate, sharedUp, sharedDown, sharedScale;
    if (c.sharedHiddenDim > 0) {
      sharedGate = dequantized(weight(Role::SharedGate, l));
      sharedUp = dequantized(weight(Role::SharedUp, l));
      sharedDown = dequantized(weight(Role::SharedDown, l));
      if (c.sharedExpertGate) {
        sharedScale = dequantized(weight(Role::SharedScale, l));
        auto t = cast<RankedTensorType>(sharedScale.getType());
        if (t.getRank() == 1) // GGUF: a [dim] vector
          sharedScale = tensor::ExpandShapeOp::create(
              b, loc, RankedTensorType::get({1, c.dim}, t.getElementType()),
              sharedScale, ArrayRef<ReassociationIndices>{{0, 1}});
      }
    }
    return llm::MoEOp::create(b, loc, h.getType(), h, router, gate, up, down,
                              sharedGate, sharedUp, sharedDown, sharedScale,
                              b.getI64IntegerAttr(c.expertsPerToken),
                              llm::MoERoutingAttr::get(&ctx, routing()),
                              expertQuant, downQuant, llm::PlacementAttr(),
                              c.routedScale > 0 && c.routedScale != 1.0
                                  ? b.getF64FloatAttr(c.routedScale)
                                  : FloatAttr(),
                              c.expertGroups > 0
                                  ? b.getI64IntegerAttr(c.expertGroups)
                                  : IntegerAttr(),
                              c.expertGroups > 0
                                  ? b.getI64IntegerAttr(c.topGroups)
                                  : IntegerAttr());
  }

  void setModuleAttributes(ModuleOp module, llm::KVCacheType cache) {
    SmallVector<NamedAttribute> model = {
        b.getNamedAttr("format", b.getStringAttr(source.format)),
        b.getNamedAttr("path", b.getStringAttr(source.path)),
        b.getNamedAttr("arch", b.getStringAttr(c.arch)),
        b.getNamedAttr("dim", b.getI64IntegerAttr(c.dim)),
        b.getNamedAttr("hidden_dim", b.getI64IntegerAttr(c.hiddenDim)),
        b.getNamedAttr("n_layers", b.getI64IntegerAttr(c.numLayers)),
        b.getNamedAttr("n_heads", b.getI64IntegerAttr(c.numHeads)),
        // The cache's heads and width (multi-head latent attention: one
        // shared vector per position).
        b.getNamedAttr("n_kv_heads", b.getI64IntegerAttr(cache.getKvHeads())),
        b.getNamedAttr("head_dim", b.getI64IntegerAttr(cache.getHeadDim())),
        b.getNamedAttr("vocab_size", b.getI64IntegerAttr(c.vocabSize)),
        b.getNamedAttr("max_seq_len", b.getI64IntegerAttr(c.maxSeq)),
        b.getNamedAttr("tied_embeddings", b.getBoolAttr(c.tiedEmbeddings))};
    if (c.numExperts > 0) {
      model.push_back(
          b.getNamedAttr("n_experts", b.getI64IntegerAttr(c.numExperts)));
      model.push_back(b.getNamedAttr(
          "experts_per_token", b.getI64IntegerAttr(c.expertsPerToken)));
      model.push_back(b.getNamedAttr("expert_hidden_dim",
                                     b.getI64IntegerAttr(c.expertHidden())));
      if (c.sharedHiddenDim > 0)
        model.push_back(b.getNamedAttr(
            "shared_expert_hidden_dim", b.getI64IntegerAttr(c.sharedHiddenDim)));
    }
    module->setAttr("llm.model", b.getDictionaryAttr(model));
    if (source.tokenizer.format != TokenizerFormat::None) {
      module->setAttr(
          "llm.tokenizer",
          b.getDictionaryAttr(
              {b.getNamedAttr("format",
                              b.getStringAttr(tokenizerFormatName(
                                  source.tokenizer.format))),
               b.getNamedAttr("path",
                              b.getStringAttr(source.tokenizer.path))}));
    }
  }

  MLIRContext &ctx;
  const ModelSource &source;
  const ModelConfig &c;
  OpBuilder b;
  Location loc;
  llvm::StringMap<Value> params;
  llvm::DenseMap<std::pair<Value, unsigned>, Value> dequantizedParams;
};
} // namespace

OwningOpRef<ModuleOp> llmc::buildModule(MLIRContext &context,
                                        const ModelSource &source) {
  context.loadDialect<llm::LLMDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
  return ModuleBuilder(context, source).build();
}
