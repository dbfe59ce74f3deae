//===- LLMToLinalg.cpp - llm dialect -> linalg/tensor/arith/math ----------===//
//
// The tensor-level lowering shared by every backend. Each llm op becomes
// linalg.generic ops on tensors (value semantics, destination style), so
// bufferization, tiling and vectorization are upstream's business. This
// file: the pass, embedding, softmax, activations; Norms.cpp: RMSNorm and
// LayerNorm; Linear.cpp:
// linear and GGUF blocks; Attention.cpp: RoPE, attention and the KV cache
// layout (see cacheTensorType); Builders.h: shared helpers.
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"
#include <cmath>
#include <limits>

namespace mlir::llm {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
struct LowerEmbedding : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto type = op.getResult().getType();
    Type elt = type.getElementType();
    Value table = a.getTable();
    Value tokens = a.getTokens();
    Value init = empty(rw, loc, type.getShape(), elt,
                       dynamicSizes(rw, loc, tokens));
    MLIRContext *ctx = rw.getContext();
    // A GGUF block-quantized table: decode only the rows looked up, not the
    // whole table (the dequantize is left to its other users, if any).
    Value blocks;
    QuantAttr quant;
    if (auto dq = op.getTable().getDefiningOp<DequantizeOp>();
        dq && isLowerableGGUF(dq)) {
      quant = dq.getQuant();
      blocks = ggufBytes(rw, loc, rw.getRemappedValue(dq.getInput()), quant);
    }
    int64_t cols = type.getShape()[1];
    std::optional<double> scale;
    if (auto s = op.getScale())
      scale = s->convertToDouble();
    // Token ids are checked against the vocabulary by the runtime.
    Value out = generic(
        rw, loc, tokens, init, {map(ctx, 2, {0}), map(ctx, 2, {0, 1})},
        {par, par}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = arith::IndexCastOp::create(b, l, b.getIndexType(),
                                                 args[0]);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value v;
          if (blocks) {
            v = castFloat(b, l,
                          blockElementAt(b, l, blocks, quant, row, col, cols),
                          elt);
          } else {
            v = castFloat(b, l,
                          tensor::ExtractOp::create(b, l, table,
                                                    ValueRange{row, col}),
                          elt);
          }
          return scale ? Value(arith::MulFOp::create(
                             b, l, v, fconst(b, l, elt, *scale)))
                       : v;
        });
    rw.replaceOp(op, out);
    return success();
  }
};

/// An early-exit head: the final norm and classifier (as llm ops, lowered
/// like the model's own), then per row the confidence of softmax(logits)
/// from a few reductions (m = max, s = sum exp(x - m)): max-prob = 1 / s,
/// entropy = log s - sum exp(x - m) (x - m) / s, margin = (1 - exp(m2 - m))
/// / s with m2 the second largest logit (0 on a tie for the maximum).
struct LowerExit : OpConversionPattern<ExitOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ExitOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    auto normed = RMSNormOp::create(rw, loc, a.getHidden(), a.getNormWeight(),
                                    op.getEpsAttr(), FloatAttr());
    Value logits = LinearOp::create(rw, loc, op.getLogits().getType(), normed,
                                    a.getClassifier(), Value());
    auto type = cast<RankedTensorType>(logits.getType());
    if (type.getRank() != 2)
      return rw.notifyMatchFailure(op, "expects [tokens, vocab] logits");
    Type f32 = type.getElementType();
    double inf = std::numeric_limits<double>::infinity();
    Value m = reduceLast(rw, loc, logits, -inf,
                         [](OpBuilder &b, Location l, ValueRange v) -> Value {
                           return arith::MaximumFOp::create(b, l, v[0], v[1]);
                         });
    AffineMap id = rw.getMultiDimIdentityMap(2), row = rowMap(ctx, 2);
    SmallVector<Value> dyn = {tensor::DimOp::create(rw, loc, logits, 0)};
    auto rowInit = [&](double v) {
      return fill(rw, loc, empty(rw, loc, {ShapedType::kDynamic}, f32, dyn), v);
    };
    // Reduces f(x, m) over each row into an accumulator starting at `init`.
    auto rowReduce = [&](double init, auto body) {
      return generic(rw, loc, ValueRange{logits, m}, rowInit(init),
                     {id, row, row}, {par, red},
                     [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                       return body(b, l, v[0], v[1], v[2]);
                     });
    };
    Value s = rowReduce(0.0, [&](OpBuilder &b, Location l, Value x, Value mx,
                                 Value acc) -> Value {
      Value e = math::ExpOp::create(b, l, arith::SubFOp::create(b, l, x, mx));
      return arith::AddFOp::create(b, l, acc, e);
    });
    ExitMetric metric = op.getMetric();
    Value second; // entropy: sum e (x - m); margin: m2 (or +inf on a tie)
    if (metric == ExitMetric::entropy)
      second = rowReduce(0.0, [&](OpBuilder &b, Location l, Value x, Value mx,
                                  Value acc) -> Value {
        Value d = arith::SubFOp::create(b, l, x, mx);
        Value e = math::ExpOp::create(b, l, d);
        return arith::AddFOp::create(b, l, acc,
                                     arith::MulFOp::create(b, l, e, d));
      });
    if (metric == ExitMetric::margin) {
      // Largest logit below the maximum; a second copy of the maximum makes
      // the margin 0 (accumulator +inf marks it).
      Value count = rowReduce(0.0, [&](OpBuilder &b, Location l, Value x,
                                       Value mx, Value acc) -> Value {
        Value eq = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, x, mx);
        Value one = fconst(b, l, f32, 1.0), zero = fconst(b, l, f32, 0.0);
        return arith::AddFOp::create(
            b, l, acc, arith::SelectOp::create(b, l, eq, one, zero));
      });
      Value below = rowReduce(-inf, [&](OpBuilder &b, Location l, Value x,
                                        Value mx, Value acc) -> Value {
        Value lt = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLT, x, mx);
        Value cand = arith::SelectOp::create(b, l, lt, x, fconst(b, l, f32, -inf));
        return arith::MaximumFOp::create(b, l, acc, cand);
      });
      second = elementwise(rw, loc, ValueRange{count, below, m}, f32,
                           [&](OpBuilder &b, Location l, ValueRange v) -> Value {
                             Value tie = arith::CmpFOp::create(
                                 b, l, arith::CmpFPredicate::OGT, v[0],
                                 fconst(b, l, f32, 1.0));
                             return arith::SelectOp::create(b, l, tie, v[2], v[1]);
                           });
    }
    double t = op.getThreshold().convertToDouble();
    SmallVector<Value> ins = {m, s};
    if (second)
      ins.push_back(second);
    Value flags = generic(
        rw, loc, ins,
        empty(rw, loc, {ShapedType::kDynamic}, rw.getI1Type(), dyn),
        SmallVector<AffineMap>(ins.size() + 1, rw.getMultiDimIdentityMap(1)),
        {par}, [&](OpBuilder &b, Location l, ValueRange v) -> Value {
          Value one = fconst(b, l, f32, 1.0), thr = fconst(b, l, f32, t);
          Value inv = arith::DivFOp::create(b, l, one, v[1]);
          switch (metric) {
          case ExitMetric::max_prob:
            return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, inv,
                                         thr);
          case ExitMetric::entropy: {
            Value h = arith::SubFOp::create(
                b, l, math::LogOp::create(b, l, v[1]),
                arith::MulFOp::create(b, l, v[2], inv));
            return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OLE, h,
                                         thr);
          }
          case ExitMetric::margin: {
            Value p2 = math::ExpOp::create(
                b, l, arith::SubFOp::create(b, l, v[2], v[0]));
            Value margin = arith::MulFOp::create(
                b, l, arith::SubFOp::create(b, l, one, p2), inv);
            return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE,
                                         margin, thr);
          }
          }
          return Value();
        });
    rw.replaceOp(op, {logits, flags});
    return success();
  }
};

struct LowerSoftmax : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    int64_t rank = op.getInput().getType().getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis != rank - 1)
      return rw.notifyMatchFailure(op, "softmax over a non-last axis");
    rw.replaceOp(op, softmaxLast(rw, op.getLoc(), a.getInput()));
    return success();
  }
};

/// The scalar formula of each elementwise activation. silu(x) = x * (1 /
/// (1 + exp(-x))) in llama2.c's operation order; gelu exact or tanh;
/// softcap = cap * tanh(x / cap).
Value scalarFormula(SiLUOp, OpBuilder &b, Location l, Value x) {
  return activate(b, l, Activation::silu, x);
}
Value scalarFormula(GeLUOp op, OpBuilder &b, Location l, Value x) {
  return activate(b, l,
                  op.getApproximate() == GeluApproximation::tanh
                      ? Activation::gelu_tanh
                      : Activation::gelu,
                  x);
}
Value scalarFormula(SoftcapOp op, OpBuilder &b, Location l, Value x) {
  return softcap(b, l, x, op.getCap().convertToDouble());
}

template <typename OpT>
struct LowerUnary : OpConversionPattern<OpT> {
  using OpConversionPattern<OpT>::OpConversionPattern;
  LogicalResult
  matchAndRewrite(OpT op, typename OpT::Adaptor a,
                  ConversionPatternRewriter &rw) const override {
    Type elt = op.getType().getElementType();
    rw.replaceOp(op, elementwise(rw, op.getLoc(), a.getInput(), elt,
                                 [&](OpBuilder &b, Location l, ValueRange args) {
                                   return scalarFormula(op, b, l, args[0]);
                                 }));
    return success();
  }
};

/// A transpose of run-time values (weight transposes are packed instead).
struct LowerTranspose : OpConversionPattern<TransposeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(TransposeOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Value in = a.getInput();
    Value init = empty(rw, op.getLoc(), op.getType().getShape(),
                       op.getType().getElementType(),
                       {});
    if (!op.getType().hasStaticShape())
      return rw.notifyMatchFailure(op, "dynamic transposes are not lowered");
    rw.replaceOp(op, linalg::TransposeOp::create(rw, op.getLoc(), in, init,
                                                 ArrayRef<int64_t>{1, 0})
                         ->getResult(0));
    return success();
  }
};

/// A run-time concatenation (weights are concatenated when packing): one
/// generic over the result, each element read from the input its index
/// along `axis` falls in (indices clamped so every read is in bounds).
struct LowerConcat : OpConversionPattern<ConcatOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ConcatOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    if (!isLowerableConcat(op))
      return rw.notifyMatchFailure(op, "dynamic concatenation axis");
    Location loc = op.getLoc();
    auto type = op.getResult().getType();
    int64_t axis = op.getAxis();
    ValueRange inputs = a.getInputs();
    SmallVector<Value> dyn; // off the axis: the inputs' sizes
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        dyn.push_back(tensor::DimOp::create(rw, loc, inputs[0], d));
    Value init = empty(rw, loc, type.getShape(), type.getElementType(), dyn);
    Value out = generic(
        rw, loc, ValueRange{}, init, {rw.getMultiDimIdentityMap(type.getRank())},
        SmallVector<IteratorType>(type.getRank(), par),
        [&](OpBuilder &b, Location l, ValueRange) -> Value {
          SmallVector<Value> idx;
          for (int64_t d = 0; d < type.getRank(); ++d)
            idx.push_back(linalg::IndexOp::create(b, l, d));
          Value along = idx[axis], result;
          int64_t offset = 0;
          for (Value in : inputs) {
            int64_t n = cast<RankedTensorType>(in.getType()).getDimSize(axis);
            Value local = arith::MaxSIOp::create(
                b, l, arith::SubIOp::create(b, l, along, iconst(b, l, offset)),
                iconst(b, l, 0));
            local = arith::MinSIOp::create(b, l, local, iconst(b, l, n - 1));
            SmallVector<Value> at = idx;
            at[axis] = local;
            Value v = tensor::ExtractOp::create(b, l, in, at);
            offset += n;
            result = result ? Value(arith::SelectOp::create(
                                  b, l,
                                  arith::CmpIOp::create(
                                      b, l, arith::CmpIPredicate::ult, along,
                                      iconst(b, l, offset - n)),
                                  result, v))
                            : v;
          }
          return result;
        });
    rw.replaceOp(op, out);
    return success();
  }
};

struct LowerSwiGLU : OpConversionPattern<SwiGLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SwiGLUOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value gate = a.getGate(), up = a.getUp();
    auto type = op.getResult().getType();
    if (!up) {
      // One fused [.., 2H] operand: gate columns first, then up.
      auto gType = cast<RankedTensorType>(gate.getType());
      int64_t rank = gType.getRank(), hidden = type.getShape().back();
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rw, loc, gate);
      sizes.back() = rw.getIndexAttr(hidden);
      SmallVector<OpFoldResult> off(rank, rw.getIndexAttr(0));
      SmallVector<OpFoldResult> strides(rank, rw.getIndexAttr(1));
      Value g = tensor::ExtractSliceOp::create(rw, loc, type, gate, off, sizes,
                                               strides);
      off.back() = rw.getIndexAttr(hidden);
      up = tensor::ExtractSliceOp::create(rw, loc, type, gate, off, sizes,
                                          strides);
      gate = g;
    }
    Type elt = type.getElementType();
    rw.replaceOp(op, elementwise(rw, loc, ValueRange{gate, up}, elt,
                                 [](OpBuilder &b, Location l, ValueRange args) {
                                   return arith::MulFOp::create(
                                       b, l, activate(b, l, Activation::silu, args[0]), args[1]);
                                 }));
    return success();
  }
};

template <typename Op, typename ArithOp>
struct LowerBinary : OpConversionPattern<Op> {
  using OpConversionPattern<Op>::OpConversionPattern;
  using OpAdaptor = typename Op::Adaptor;
  LogicalResult
  matchAndRewrite(Op op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Type elt = op.getType().getElementType();
    rw.replaceOp(op, elementwise(rw, op.getLoc(),
                                 ValueRange{a.getLhs(), a.getRhs()}, elt,
                                 [](OpBuilder &b, Location l, ValueRange args) {
                                   return ArithOp::create(b, l, args[0],
                                                          args[1]);
                                 }));
    return success();
  }
};

/// llm.observe: the tensor's buffer handed to the runtime's observer as
/// llmc_observe(site, address, rows, cols, row_stride) (address in bytes
/// of element [0, 0], strides in elements).
struct LowerObserve : OpConversionPattern<ObserveOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(ObserveOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location l = op.getLoc();
    auto t = cast<RankedTensorType>(a.getInput().getType());
    int64_t dyn = ShapedType::kDynamic;
    auto layout = StridedLayoutAttr::get(rw.getContext(), dyn, {dyn, dyn});
    auto mt = MemRefType::get(t.getShape(), t.getElementType(), layout);
    Value m = bufferization::ToBufferOp::create(rw, l, mt, a.getInput(),
                                                /*read_only=*/true);
    auto md = memref::ExtractStridedMetadataOp::create(rw, l, m);
    Value base = memref::ExtractAlignedPointerAsIndexOp::create(rw, l, m);
    Value addr = arith::AddIOp::create(
        rw, l, base,
        arith::MulIOp::create(rw, l, md.getOffset(), iconst(rw, l, 4)));
    auto i64 = [&](Value v) {
      return arith::IndexCastOp::create(rw, l, rw.getI64Type(), v).getResult();
    };
    Value site = arith::ConstantIntOp::create(rw, l, rw.getI32Type(),
                                              op.getSite());
    func::CallOp::create(rw, l, "llmc_observe", TypeRange{},
                         ValueRange{site, i64(addr), i64(md.getSizes()[0]),
                                    i64(md.getSizes()[1]),
                                    i64(md.getStrides()[0])});
    rw.eraseOp(op);
    return success();
  }
};

/// The cache's tensor form: [layers, 2, kv_heads, max_seq, head_dim].
class CacheTypeConverter : public TypeConverter {
public:
  CacheTypeConverter() {
    addConversion([](Type t) { return t; });
    addConversion([](KVCacheType t) -> Type { return cacheTensorType(t); });
  }
};

struct ConvertLLMToLinalg
    : llm::impl::ConvertLLMToLinalgBase<ConvertLLMToLinalg> {
  using ConvertLLMToLinalgBase::ConvertLLMToLinalgBase;

  /// Brackets every llm op (but weights) with calls to the runtime's
  /// per-op timers; the ops replacing it during lowering land in between.
  void instrument(ModuleOp module) {
    OpBuilder b(module.getContext());
    b.setInsertionPointToStart(module.getBody());
    auto fnType = b.getFunctionType({b.getI32Type()}, {});
    for (StringRef name : {"llmc_profile_enter", "llmc_profile_exit"})
      if (!module.lookupSymbol(name))
        func::FuncOp::create(b, module.getLoc(), name, fnType).setPrivate();
    SmallVector<Attribute> table;
    module.walk([&](Operation *op) {
      if (!isRunTimeOp(op))
        return;
      std::string weight = weightLabel(op);
      int32_t id = table.size();
      table.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("op", b.getStringAttr(op->getName().getStringRef())),
           b.getNamedAttr("weight", b.getStringAttr(weight))}));
      b.setInsertionPoint(op);
      Value c = arith::ConstantIntOp::create(b, op->getLoc(), b.getI32Type(), id);
      func::CallOp::create(b, op->getLoc(), "llmc_profile_enter", TypeRange{},
                           ValueRange{c});
      b.setInsertionPointAfter(op);
      func::CallOp::create(b, op->getLoc(), "llmc_profile_exit", TypeRange{},
                           ValueRange{c});
    });
    module->setAttr("llm.profile", b.getArrayAttr(table));
  }

  /// MoE ops with a placement get their experts paged by the runtime:
  /// each is numbered (`llm.moe_site`) and `llm.moe_sites` lists, per site,
  /// its layer, expert count, the weight slots of its stacked gate, up and
  /// down weights, and the placement (the manifest's `moe`).
  void numberPagedExperts(ModuleOp module) {
    OpBuilder b(module.getContext());
    SmallVector<Attribute> sites;
    for (auto [layer, moe] : findMoELayers(module)) {
      PlacementAttr placement = moe.getPlacementAttr();
      if (!placement)
        continue;
      int64_t site = sites.size();
      moe->setAttr("llm.moe_site", b.getI64IntegerAttr(site));
      SmallVector<Attribute> weights, tiers;
      for (Value w : {moe.getGateWeights(), moe.getUpWeights(),
                      moe.getDownWeights()})
        weights.push_back(b.getStringAttr(packedWeightName(w)));
      for (PlacementTier t : placement.getTiers())
        tiers.push_back(b.getStringAttr(stringifyPlacementTier(t)));
      sites.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("site", b.getI64IntegerAttr(site)),
           b.getNamedAttr("layer", b.getI64IntegerAttr(layer)),
           b.getNamedAttr("experts", b.getI64IntegerAttr(moe.getNumExperts())),
           b.getNamedAttr("weights", b.getArrayAttr(weights)),
           b.getNamedAttr("placement", b.getArrayAttr(tiers))}));
    }
    if (sites.empty())
      return;
    module->setAttr("llm.moe_sites", b.getArrayAttr(sites));
    b.setInsertionPointToStart(module.getBody());
    Type i32 = b.getI32Type(), i64 = b.getI64Type();
    if (!module.lookupSymbol("llmc_moe_routed"))
      func::FuncOp::create(b, module.getLoc(), "llmc_moe_routed",
                           b.getFunctionType({i32, i64, i64}, {}))
          .setPrivate();
    if (!module.lookupSymbol("llmc_expert_use"))
      func::FuncOp::create(b, module.getLoc(), "llmc_expert_use",
                           b.getFunctionType({i32, i64}, {}))
          .setPrivate();
  }

  /// `slice` copied into a fresh tensor by linalg.copy (canonicalization
  /// keeps it, unlike an identity generic), before `user`.
  static Value copyOf(tensor::ExtractSliceOp slice, Operation *user) {
    OpBuilder b(user);
    Location loc = user->getLoc();
    return linalg::CopyOp::create(b, loc, slice.getResult(),
                                  emptyLike(b, loc, slice.getResult()))
        .getResult(0);
  }

  /// A collapse of a slice that is strided in a collapsed dimension (a
  /// head's columns, [T, heads, part] of [T, heads, width]) reads a copy of
  /// it: bufferization would otherwise copy it with a strided memref.copy,
  /// which has no inline lowering.
  void materializeStridedCollapses(ModuleOp module) {
    module.walk([](tensor::CollapseShapeOp c) {
      auto slice = c.getSrc().getDefiningOp<tensor::ExtractSliceOp>();
      if (!slice)
        return;
      RankedTensorType from = slice.getSourceType(), to = slice.getType();
      bool strided = false;
      for (int64_t d = 1; d < to.getRank(); ++d)
        strided |= to.getDimSize(d) != from.getDimSize(d);
      if (!strided || !isa<FloatType>(to.getElementType()))
        return;
      c.getSrcMutable().assign(copyOf(slice, c));
    });
  }

  /// Values crossing an outlined layer function's boundary (call operands,
  /// returned results) that are slices (row-padded kernel results, heads'
  /// columns) are copied: the boundary's buffers have the identity layout,
  /// and bufferization would otherwise make that copy a strided memref.copy.
  void materializeSlicesAtCalls(ModuleOp module) {
    auto copyIfSlice = [](OpOperand &use) {
      auto slice = use.get().getDefiningOp<tensor::ExtractSliceOp>();
      if (slice && isa<FloatType>(slice.getType().getElementType()))
        use.set(copyOf(slice, use.getOwner()));
    };
    module.walk([&](Operation *op) {
      bool call = isa<func::CallOp>(op);
      bool calleeReturn =
          isa<func::ReturnOp>(op) &&
          cast<func::FuncOp>(op->getParentOp()).isPrivate();
      if (call || calleeReturn)
        for (OpOperand &use : op->getOpOperands())
          copyIfSlice(use);
    });
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    materializeStridedCollapses(module);
    // Ops with no lowering yet get one clear diagnostic each, instead of a
    // generic legalization failure.
    bool unsupported = false;
    module.walk([&](Operation *op) {
      if (isPackTimeTransform(op))
        return; // evaluated at pack time, bound by --llm-buffer-abi
      if (isa<MoEOp, QLinearOp, DequantizeOp, QuantizeOp, ConcatOp,
              ScaleColumnsOp>(op) &&
          !isLowerableGGUF(op) && !isLowerableQLinear(op) &&
          !isLowerableMoE(op) &&
          !(isa<ConcatOp>(op) && isLowerableConcat(cast<ConcatOp>(op))) &&
          !(isa<QLinearOp>(op) && isBlockDotLinear(cast<QLinearOp>(op)))) {
        op->emitError() << "'" << op->getName()
                        << "' has no linalg lowering yet";
        unsupported = true;
      }
      if (auto lin = dyn_cast<LinearOp>(op);
          lin && lin.getInput().getType().getRank() != 2) {
        op->emitError("llm.linear lowering expects a rank-2 input");
        unsupported = true;
      }
      if (auto r = dyn_cast<RoPEOp>(op);
          r && r.getInput().getType().getRank() != 2) {
        op->emitError("llm.rope lowering expects a rank-2 input");
        unsupported = true;
      }
    });
    if (unsupported)
      return signalPassFailure();

    // Record which entry arguments/results are KV caches before their type
    // is lowered; the buffer ABI ties them to one in-place buffer.
    module.walk([&](func::FuncOp f) {
      FunctionType ft = f.getFunctionType();
      for (unsigned i = 0; i < ft.getNumInputs(); ++i)
        if (isa<KVCacheType>(ft.getInput(i)))
          f.setArgAttr(i, "llm.kv_cache", UnitAttr::get(ctx));
      for (unsigned i = 0; i < ft.getNumResults(); ++i)
        if (isa<KVCacheType>(ft.getResult(i)))
          f.setResultAttr(i, "llm.kv_cache", UnitAttr::get(ctx));
    });

    if (profile)
      instrument(module);
    if (!dotIsa.empty())
      module->setAttr(kDotIsaAttr, StringAttr::get(ctx, dotIsa));
    numberPagedExperts(module);
    bool observes = false;
    module.walk([&](ObserveOp) { observes = true; });
    if (observes && !module.lookupSymbol("llmc_observe")) {
      OpBuilder b(ctx);
      b.setInsertionPointToStart(module.getBody());
      Type i64 = b.getI64Type();
      func::FuncOp::create(
          b, module.getLoc(), "llmc_observe",
          b.getFunctionType({b.getI32Type(), i64, i64, i64, i64}, {}))
          .setPrivate();
    }

    CacheTypeConverter converter;
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           bufferization::BufferizationDialect,
                           memref::MemRefDialect, scf::SCFDialect,
                           vector::VectorDialect>();
    target.addIllegalDialect<LLMDialect>();
    target.addLegalOp<ParamOp, UnrealizedConversionCastOp>();
    target.addDynamicallyLegalOp<ConcatOp, ScaleColumnsOp, QuantizeOp,
                                 TransposeOp, DequantizeOp>(
        isPackTimeTransform);
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp f) {
      return converter.isSignatureLegal(f.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });

    RewritePatternSet patterns(ctx);
    populateLinearPatterns(converter, patterns);
    populateAttentionPatterns(converter, patterns);
    populatePendingStatePatterns(converter, patterns);
    populateMoEPatterns(converter, patterns);
    // Early exits put llm values (the KV cache) through scf.if.
    scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                         target);
    populateNormPatterns(converter, patterns);
    patterns.add<LowerObserve, LowerExit, LowerEmbedding, LowerSoftmax,
                 LowerUnary<SiLUOp>, LowerUnary<GeLUOp>, LowerUnary<SoftcapOp>,
                 LowerTranspose, LowerConcat,
                 LowerSwiGLU, LowerBinary<AddOp, arith::AddFOp>,
                 LowerBinary<MulOp, arith::MulFOp>>(converter, ctx);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    materializeSlicesAtCalls(module);
    // A dequantized GGUF table only an embedding used is dead now (the
    // gather decodes its rows itself).
    module.walk([](linalg::GenericOp op) {
      if (isOpTriviallyDead(op))
        op.erase();
    });
    // Every other generic whose outermost loop is parallel works row by row
    // (tokens): backends may split it across threads.
    module.walk([&](linalg::GenericOp op) {
      if (!op->hasAttr("llm.schedule") && op.getNumLoops() > 0 &&
          op.getIteratorTypesArray()[0] == IteratorType::parallel)
        op->setAttr("llm.schedule", StringAttr::get(ctx, "rows"));
    });
  }
};
} // namespace

bool mlir::llm::lowering::isLowerableConcat(ConcatOp op) {
  return !isPackTimeTransform(op) &&
         isa<FloatType>(op.getResult().getType().getElementType()) &&
         llvm::all_of(op.getInputs(), [&](Value v) {
           return !cast<RankedTensorType>(v.getType())
                       .isDynamicDim(op.getAxis());
         });
}

RankedTensorType mlir::llm::cacheTensorType(KVCacheType t) {
  int64_t cap = (t.getMaxSeq() + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  // int8: 4 more bytes per position for its f32 scale (see Attention.cpp).
  int64_t last = t.getHeadDim() + (t.getElementType().isInteger(8) ? 4 : 0);
  return RankedTensorType::get({t.getLayers() + t.getStateLayers(), t.getKinds(),
                                t.getKvHeads(), cap, last},
                               t.getElementType());
}
