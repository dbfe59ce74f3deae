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
    setModuleAttributes(*module);
    b.setInsertionPointToEnd(module->getBody());
    Type f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    auto cacheType = llm::KVCacheType::get(&ctx, c.numLayers, c.maxSeq,
                                           c.numKvHeads, c.headDim, f32);
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

    Value table = dequantized(weight(Role::TokenEmbedding, -1));
    Value x = llm::EmbeddingOp::create(b, loc, act(c.dim), table,
                                       entry->getArgument(0));
    for (int64_t l = 0; l < c.numLayers; ++l) {
      Value h = rmsNorm(x, weight(Role::AttnNorm, l));
      Value q = linear(h, Role::Wq, Role::Bq, l, c.qDim());
      Value k = linear(h, Role::Wk, Role::Bk, l, c.kvDim());
      Value v = linear(h, Role::Wv, Role::Bv, l, c.kvDim());
      auto attn = llm::AttentionOp::create(
          b, loc, act(c.qDim()), cacheType, rope(q, pos), rope(k, pos), v,
          cache, pos, b.getI64IntegerAttr(l), b.getI64IntegerAttr(c.numHeads),
          b.getI64IntegerAttr(c.numKvHeads), /*scale=*/FloatAttr(),
          b.getUnitAttr(),
          c.slidingWindow ? b.getI64IntegerAttr(*c.slidingWindow)
                          : IntegerAttr());
      cache = attn.getNewCache();
      Value o = linear(attn.getOutput(), Role::Wo, Role(-1), l, c.dim);
      x = llm::AddOp::create(b, loc, x, o);
      Value h2 = rmsNorm(x, weight(Role::FfnNorm, l));
      Value ffn = c.isMoELayer(l) ? moe(h2, l) : mlp(h2, l);
      x = llm::AddOp::create(b, loc, x, ffn);
    }
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
    Value hn = rmsNorm(x, weight(Role::FinalNorm, -1));
    Value out = linear(hn,
                       c.tiedEmbeddings ? Role::TokenEmbedding : Role::Output,
                       Role(-1), -1, c.vocabSize);
    func::ReturnOp::create(b, loc, ValueRange{out, cache});
    return module;
  }

private:
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
    }
    return {};
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

  /// Plain float weights pass through; GGUF blocks become llm.dequantize.
  Value dequantized(Value w) {
    auto p = w.getDefiningOp<llm::ParamOp>();
    llm::QuantAttr quant = p ? p.getQuantAttr() : llm::QuantAttr();
    if (!quant)
      return w;
    auto type = cast<RankedTensorType>(w.getType());
    return llm::DequantizeOp::create(b, loc, type.clone(b.getF32Type()), w,
                                     Value(), Value(), quant);
  }

  Value rmsNorm(Value x, Value w) {
    return llm::RMSNormOp::create(b, loc, x, w, b.getF64FloatAttr(c.normEps));
  }

  Value linear(Value x, Role wRole, Role bRole, int64_t layer, int64_t out) {
    Value w = weight(wRole, layer);
    Value bias;
    if (bRole != Role(-1)) {
      std::string biasName = source.nameOf(bRole, layer, -1);
      if (!biasName.empty() && c.qkvBias)
        bias = param(biasName);
    }
    auto p = w.getDefiningOp<llm::ParamOp>();
    if (llm::QuantAttr quant = p.getQuantAttr())
      return llm::QLinearOp::create(b, loc, act(out), x, w, Value(), Value(),
                                    bias, quant);
    return llm::LinearOp::create(b, loc, act(out), x, w, bias);
  }

  Value rope(Value x, Value pos) {
    llm::RopeScalingAttr scaling;
    if (c.ropeScaling) {
      const RopeScaling &s = *c.ropeScaling;
      scaling = llm::RopeScalingAttr::get(
          &ctx,
          s.kind == RopeScaling::Llama3 ? llm::RopeScalingKind::llama3
                                        : llm::RopeScalingKind::linear,
          llvm::APFloat(s.factor), llvm::APFloat(s.lowFreqFactor),
          llvm::APFloat(s.highFreqFactor), s.originalMaxPositions);
    }
    return llm::RoPEOp::create(
        b, loc, x.getType(), x, pos, b.getI64IntegerAttr(c.headDim),
        b.getF64FloatAttr(c.ropeTheta),
        llm::RopeStyleAttr::get(&ctx, c.ropeStyle == RopeStyle::Half
                                          ? llm::RopeStyle::half
                                          : llm::RopeStyle::interleaved),
        scaling);
  }

  Value mlp(Value h, int64_t l) {
    Value gate = linear(h, Role::FfnGate, Role(-1), l, c.hiddenDim);
    Value up = linear(h, Role::FfnUp, Role(-1), l, c.hiddenDim);
    Value act = llm::SwiGLUOp::create(b, loc, gate.getType(), gate, up);
    return linear(act, Role::FfnDown, Role(-1), l, c.dim);
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
    // Stacked GGUF blocks of one type run as stored; other mixes are
    // dequantized.
    auto quantOfParam = [](Value v) {
      auto p = v.getDefiningOp<llm::ParamOp>();
      return p ? p.getQuantAttr() : llm::QuantAttr();
    };
    llm::QuantAttr expertQuant = quantOfParam(gate);
    if (quantOfParam(up) != expertQuant || quantOfParam(down) != expertQuant) {
      expertQuant = {};
      gate = dequantized(gate);
      up = dequantized(up);
      down = dequantized(down);
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
                              expertQuant, llm::PlacementAttr());
  }

  void setModuleAttributes(ModuleOp module) {
    SmallVector<NamedAttribute> model = {
        b.getNamedAttr("format", b.getStringAttr(source.format)),
        b.getNamedAttr("path", b.getStringAttr(source.path)),
        b.getNamedAttr("arch", b.getStringAttr(c.arch)),
        b.getNamedAttr("dim", b.getI64IntegerAttr(c.dim)),
        b.getNamedAttr("hidden_dim", b.getI64IntegerAttr(c.hiddenDim)),
        b.getNamedAttr("n_layers", b.getI64IntegerAttr(c.numLayers)),
        b.getNamedAttr("n_heads", b.getI64IntegerAttr(c.numHeads)),
        b.getNamedAttr("n_kv_heads", b.getI64IntegerAttr(c.numKvHeads)),
        b.getNamedAttr("head_dim", b.getI64IntegerAttr(c.headDim)),
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
};
} // namespace

OwningOpRef<ModuleOp> llmc::buildModule(MLIRContext &context,
                                        const ModelSource &source) {
  context.loadDialect<llm::LLMDialect, func::FuncDialect,
                      tensor::TensorDialect, arith::ArithDialect>();
  return ModuleBuilder(context, source).build();
}
