//===- MoE.cpp - llm.moe: routing, grouping by expert, combine ------------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp).
//
// A batch of T tokens routed to K of E experts runs each expert once on the
// rows routed to it (no dense all-experts compute):
//
//   logits [T, E]  = x · router^T                  (the linear kernels)
//   rank   [T, E]  = experts scoring above e       (ties: lower index first)
//   ids    [T, K]  = the expert of rank k
//   w      [T, K]  = routing weights (softmax over the K, or over all E)
//   counts [E], offsets [E] (exclusive prefix sum): expert e's rows are
//   [offsets[e], offsets[e] + counts[e]) of the grouped batch
//   order  [T*K] / pos [T, K]: slot (t, k) <-> grouped row (one pass in
//   token order, so each expert's rows keep token order)
//   xs     [T*K, D] = x[order / K]                 (gather)
//   for e: ys[rows of e] = w * down_e(silu(gate_e · xs) * (up_e · xs))
//   y[t]  = sum_k ys[pos[t, k]] (+ the shared expert's output)
//
// Every expert's matmuls are the ordinary linear kernels on a slice of the
// stacked weights: one token takes the matrix-vector path (decode), several
// the blocked one (prefill).
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
/// A stacked [experts, rows, cols] weight: floats, or GGUF blocks read as
/// their flat bytes (one cast for all experts, which --llm-buffer-abi binds).
/// Experts whose rows come 8 at a time (and for the K-quants, Q5_0, Q5_1,
/// IQ4_NL hold whole super-blocks) are interleaved by 8 rows as the
/// linears' weights are (stackedExpertTile): expert e's units are then
/// bytes [e * per, (e + 1) * per) as in the row-major blocks.
struct StackedWeight {
  Value floats;      ///< [E, rows, cols] floats, or null
  Value bytes;       ///< GGUF blocks: [E * bytes per expert] i8
  QuantAttr quant;
  int64_t experts = 0, rows = 0, cols = 0, tile = 0;

  StackedWeight(OpBuilder &b, Location loc, Value w, QuantAttr q) : quant(q) {
    auto t = cast<RankedTensorType>(w.getType());
    experts = t.getDimSize(0);
    rows = t.getDimSize(1);
    cols = t.getDimSize(2);
    if (q) {
      tile = stackedExpertTile(w, q);
      bytes = ggufBytes(b, loc, w, q, tile);
    } else {
      floats = w;
    }
  }

  /// y = x · W_e^T ([n, rows]) for expert `e`.
  Value apply(OpBuilder &b, Location loc, Value x, Value e, Type elt) const {
    int64_t dyn = ShapedType::kDynamic;
    auto resultType = RankedTensorType::get({dyn, rows}, elt);
    if (!quant) {
      auto t = cast<RankedTensorType>(floats.getType());
      Value w = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({rows, cols}, t.getElementType()),
          floats,
          ArrayRef<OpFoldResult>{e, b.getIndexAttr(0), b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(rows),
                                 b.getIndexAttr(cols)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1),
                                 b.getIndexAttr(1)});
      return buildFloatLinear(b, loc, x, w, resultType);
    }
    // Expert e's blocks are bytes [e * per, (e + 1) * per).
    int64_t per = cast<RankedTensorType>(bytes.getType()).getDimSize(0) /
                  experts;
    Value first = arith::MulIOp::create(b, loc, e, iconst(b, loc, per));
    Value mine = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({per}, b.getIntegerType(8)), bytes,
        ArrayRef<OpFoldResult>{first}, ArrayRef<OpFoldResult>{b.getIndexAttr(per)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
    if (tile || quant.getScheme() == QuantScheme::gguf_q8_0 ||
        quant.getScheme() == QuantScheme::gguf_q4_0)
      return buildBlockDotLinear(b, loc, x, mine, quant, rows, Value(), tile);
    // q4_1, or rows no kernel reads: this expert's weight dequantized, then
    // the float kernels.
    Value w = dequantizeBlockBytes(b, loc, mine, quant,
                                   RankedTensorType::get({rows, cols}, elt));
    return buildFloatLinear(b, loc, x, w, resultType);
  }
};

/// down · (silu(gate · x) * (up · x)) for x [n, D].
Value swigluExpert(OpBuilder &b, Location loc, Value x,
                   function_ref<Value(int, Value)> project, Type elt) {
  Value g = project(0, x), u = project(1, x);
  Value a = elementwise(b, loc, ValueRange{g, u}, elt,
                        [](OpBuilder &nb, Location l, ValueRange args) {
                          return arith::MulFOp::create(
                              nb, l, activate(nb, l, Activation::silu, args[0]),
                              args[1]);
                        });
  return project(2, a);
}

Value zeroIndices(OpBuilder &b, Location loc, ArrayRef<int64_t> shape,
                  ValueRange dyn) {
  Value init = empty(b, loc, shape, b.getIndexType(), dyn);
  return linalg::FillOp::create(b, loc, ValueRange{iconst(b, loc, 0)},
                                ValueRange{init})
      .getResult(0);
}

/// rank[t, i]: how many entries of row t of `scores` ([T, n]) score above
/// entry i (ties: the lower index ranks first).
Value rankLast(OpBuilder &b, Location loc, Value scores, Value t) {
  MLIRContext *ctx = b.getContext();
  int64_t n = cast<RankedTensorType>(scores.getType()).getDimSize(1);
  return generic(
      b, loc, ValueRange{scores, scores},
      zeroIndices(b, loc, {ShapedType::kDynamic, n}, t),
      {map(ctx, 3, {0, 2}), map(ctx, 3, {0, 1}), map(ctx, 3, {0, 1})},
      {par, par, red}, [](OpBuilder &nb, Location l, ValueRange args) {
        Value other = linalg::IndexOp::create(nb, l, 2);
        Value self = linalg::IndexOp::create(nb, l, 1);
        Value above = arith::OrIOp::create(
            nb, l,
            arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, args[0],
                                  args[1]),
            arith::AndIOp::create(
                nb, l,
                arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OEQ,
                                      args[0], args[1]),
                arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult, other,
                                      self)));
        return arith::SelectOp::create(
            nb, l, above, arith::AddIOp::create(nb, l, args[2], iconst(nb, l, 1)),
            args[2]);
      });
}

/// Group-limited routing (DeepSeek-V2): the logits of experts outside the
/// `top` groups with the best maxima replaced by -inf, so they never rank
/// among the top k (softmax is monotone: the best logit is the best score).
Value groupLimitedLogits(OpBuilder &b, Location loc, Value logits, Value t,
                         int64_t experts, int64_t groups, int64_t top) {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic, per = experts / groups;
  Type elt = cast<RankedTensorType>(logits.getType()).getElementType();
  Value grouped = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({dyn, groups, per}, elt), logits,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{t, b.getIndexAttr(groups), b.getIndexAttr(per)});
  Value best = generic(
      b, loc, ValueRange{grouped},
      fill(b, loc, empty(b, loc, {dyn, groups}, elt, t),
           -std::numeric_limits<double>::infinity()),
      {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1})}, {par, par, red},
      [](OpBuilder &nb, Location l, ValueRange args) -> Value {
        return arith::MaximumFOp::create(nb, l, args[0], args[1]);
      });
  Value rank = rankLast(b, loc, best, t);
  Value masked = generic(
      b, loc, ValueRange{grouped, rank}, empty(b, loc, {dyn, groups, per}, elt, t),
      {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1}), map(ctx, 3, {0, 1, 2})},
      {par, par, par}, [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value kept = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ult,
                                           args[1], iconst(nb, l, top));
        return arith::SelectOp::create(
            nb, l, kept, args[0],
            fconst(nb, l, elt, -std::numeric_limits<double>::infinity()));
      });
  return tensor::CollapseShapeOp::create(
      b, loc, logits.getType(), masked,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}});
}

struct LowerMoE : OpConversionPattern<MoEOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(MoEOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    if (!isLowerableMoE(op))
      return rw.notifyMatchFailure(op, "only f32 [tokens, dim] inputs");
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    OpBuilder &b = rw;
    Value x = a.getInput();
    auto xType = cast<RankedTensorType>(x.getType());
    Type elt = xType.getElementType();
    Type idx = b.getIndexType();
    int64_t dyn = ShapedType::kDynamic;
    int64_t dim = xType.getDimSize(1), experts = op.getNumExperts(),
            k = op.getTopK();
    Value t = tensor::DimOp::create(b, loc, x, 0);
    Value slots = arith::MulIOp::create(b, loc, t, iconst(b, loc, k));

    // Router logits and each expert's rank among a token's scores.
    Value logits = buildFloatLinear(b, loc, x, a.getRouter(),
                                    RankedTensorType::get({dyn, experts}, elt));
    Value ranked = logits;
    if (auto groups = op.getExpertGroups())
      ranked = groupLimitedLogits(b, loc, logits, t, experts, *groups,
                                  *op.getTopGroups());
    Value rank = rankLast(b, loc, ranked, t);
    // ids[t, k]: the expert ranked k (0 when none is, e.g. NaN scores: any
    // in-range expert keeps the grouping below in bounds).
    Value ids = generic(
        b, loc, ValueRange{rank}, zeroIndices(b, loc, {dyn, k}, t),
        {map(ctx, 3, {0, 2}), map(ctx, 3, {0, 1})}, {par, par, red},
        [](OpBuilder &nb, Location l, ValueRange args) {
          Value slot = linalg::IndexOp::create(nb, l, 1);
          Value e = linalg::IndexOp::create(nb, l, 2);
          Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                            args[0], slot);
          return arith::SelectOp::create(nb, l, hit, e, args[1]);
        });

    // Routing weights.
    auto gather = [&](Value from) {
      return generic(b, loc, ValueRange{ids}, emptyLike(b, loc, ids, elt),
                     {map(ctx, 2, {0, 1}), map(ctx, 2, {0, 1})}, {par, par},
                     [&](OpBuilder &nb, Location l, ValueRange args) {
                       Value row = linalg::IndexOp::create(nb, l, 0);
                       return tensor::ExtractOp::create(
                           nb, l, from, ValueRange{row, args[0]});
                     });
    };
    Value weights = op.getRouting() == MoERouting::softmax_topk
                        ? gather(softmaxLast(b, loc, logits))
                        : softmaxLast(b, loc, gather(logits));
    if (auto scale = op.getRoutedScale())
      weights = elementwise(
          b, loc, weights, elt, [&](OpBuilder &nb, Location l, ValueRange args) {
            return arith::MulFOp::create(
                nb, l, args[0], fconst(nb, l, elt, scale->convertToDouble()));
          });

    // Group the T * K slots by expert.
    Value flatIds = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({dyn}, idx), ids,
        ArrayRef<ReassociationIndices>{{0, 1}});
    Value counts = generic(
        b, loc, ValueRange{flatIds}, zeroIndices(b, loc, {experts}, {}),
        {map(ctx, 2, {1}), map(ctx, 2, {0})}, {par, red},
        [](OpBuilder &nb, Location l, ValueRange args) {
          Value e = linalg::IndexOp::create(nb, l, 0);
          Value hit = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                            args[0], e);
          return arith::SelectOp::create(
              nb, l, hit,
              arith::AddIOp::create(nb, l, args[1], iconst(nb, l, 1)),
              args[1]);
        });
    Value offsets = generic(
        b, loc, ValueRange{counts}, zeroIndices(b, loc, {experts}, {}),
        {map(ctx, 2, {1}), map(ctx, 2, {0})}, {par, red},
        [](OpBuilder &nb, Location l, ValueRange args) {
          Value before = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::ult,
              linalg::IndexOp::create(nb, l, 1),
              linalg::IndexOp::create(nb, l, 0));
          return arith::SelectOp::create(
              nb, l, before, arith::AddIOp::create(nb, l, args[1], args[0]),
              args[1]);
        });
    // Experts paged by the runtime (a placement): it learns which experts
    // this step needs (for prefetching the next layer's), and each one is
    // announced before it is read.
    Value site;
    if (auto id = op->getAttrOfType<IntegerAttr>("llm.moe_site")) {
      site = arith::ConstantIntOp::create(b, loc, b.getI32Type(), id.getInt());
      Value buf = bufferization::ToBufferOp::create(
          b, loc, MemRefType::get({experts}, idx), counts, /*read_only=*/true);
      Value addr = arith::IndexCastOp::create(
          b, loc, b.getI64Type(),
          memref::ExtractAlignedPointerAsIndexOp::create(b, loc, buf));
      func::CallOp::create(
          b, loc, "llmc_moe_routed", TypeRange{},
          ValueRange{site, addr,
                     arith::ConstantIntOp::create(b, loc, b.getI64Type(),
                                                  experts)});
    }
    // One pass over the slots in token order: slot s goes to its expert's
    // next free row.
    Value c0 = iconst(b, loc, 0), c1 = iconst(b, loc, 1);
    auto assign = scf::ForOp::create(
        b, loc, c0, slots, c1,
        ValueRange{generic(b, loc, ValueRange{offsets},
                           empty(b, loc, {experts}, idx, {}),
                           {map(ctx, 1, {0}), map(ctx, 1, {0})}, {par},
                           [](OpBuilder &, Location, ValueRange args) {
                             return args[0];
                           }),
                   empty(b, loc, {dyn}, idx, slots),
                   empty(b, loc, {dyn}, idx, slots)},
        [&](OpBuilder &nb, Location l, Value s, ValueRange iter) {
          Value e = tensor::ExtractOp::create(nb, l, flatIds, s);
          Value row = tensor::ExtractOp::create(nb, l, iter[0], e);
          Value cursor = tensor::InsertOp::create(
              nb, l, arith::AddIOp::create(nb, l, row, iconst(nb, l, 1)),
              iter[0], e);
          Value order = tensor::InsertOp::create(nb, l, s, iter[1], row);
          Value pos = tensor::InsertOp::create(nb, l, row, iter[2], s);
          scf::YieldOp::create(nb, l, ValueRange{cursor, order, pos});
        });
    Value order = assign.getResult(1), pos = assign.getResult(2);
    Value flatWeights = tensor::CollapseShapeOp::create(
        b, loc, RankedTensorType::get({dyn}, elt), weights,
        ArrayRef<ReassociationIndices>{{0, 1}});

    // The grouped rows, then each expert on its own.
    Value xs = generic(
        b, loc, ValueRange{order}, empty(b, loc, {dyn, dim}, elt, slots),
        {map(ctx, 2, {0}), map(ctx, 2, {0, 1})}, {par, par},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value token = arith::DivUIOp::create(nb, l, args[0], iconst(nb, l, k));
          Value d = linalg::IndexOp::create(nb, l, 1);
          return tensor::ExtractOp::create(nb, l, x, ValueRange{token, d});
        });
    StackedWeight stacked[3] = {
        {b, loc, a.getGateWeights(), op.getExpertQuantAttr()},
        {b, loc, a.getUpWeights(), op.getExpertQuantAttr()},
        {b, loc, a.getDownWeights(), op.getDownWeightsQuant()}};
    auto perExpert = scf::ForOp::create(
        b, loc, c0, iconst(b, loc, experts), c1,
        ValueRange{empty(b, loc, {dyn, dim}, elt, slots)},
        [&](OpBuilder &nb, Location l, Value e, ValueRange iter) {
          Value n = tensor::ExtractOp::create(nb, l, counts, e);
          Value first = tensor::ExtractOp::create(nb, l, offsets, e);
          Value any = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::ugt,
                                            n, iconst(nb, l, 0));
          auto ifOp = scf::IfOp::create(nb, l, TypeRange{iter[0].getType()},
                                        any, true, true);
          OpBuilder::InsertionGuard guard(nb);
          nb.setInsertionPointToStart(ifOp.thenBlock());
          if (site)
            func::CallOp::create(
                nb, l, "llmc_expert_use", TypeRange{},
                ValueRange{site, arith::IndexCastOp::create(
                                     nb, l, nb.getI64Type(), e)});
          SmallVector<OpFoldResult> offs = {first, nb.getIndexAttr(0)};
          SmallVector<OpFoldResult> sizes = {n, nb.getIndexAttr(dim)};
          SmallVector<OpFoldResult> strides = {nb.getIndexAttr(1),
                                               nb.getIndexAttr(1)};
          Value rows = tensor::ExtractSliceOp::create(
              nb, l, RankedTensorType::get({dyn, dim}, elt), xs, offs, sizes,
              strides);
          Value y = swigluExpert(
              nb, l, rows,
              [&](int which, Value in) {
                return stacked[which].apply(nb, l, in, e, elt);
              },
              elt);
          // Each row times its routing weight, written by a generic into
          // the slice of the grouped rows it replaces (bufferized in place:
          // an insert_slice of the kernel's strided result would become a
          // strided memref.copy).
          Value dest = tensor::ExtractSliceOp::create(
              nb, l, RankedTensorType::get({dyn, dim}, elt), iter[0], offs,
              sizes, strides);
          Value slotsOf = tensor::ExtractSliceOp::create(
              nb, l, RankedTensorType::get({dyn}, idx), order,
              ArrayRef<OpFoldResult>{first}, ArrayRef<OpFoldResult>{n},
              ArrayRef<OpFoldResult>{nb.getIndexAttr(1)});
          Value copied = generic(
              nb, l, ValueRange{y, slotsOf}, dest,
              {map(ctx, 2, {0, 1}), map(ctx, 2, {0}), map(ctx, 2, {0, 1})},
              {par, par}, [&](OpBuilder &bb, Location ll, ValueRange args) {
                Value w = tensor::ExtractOp::create(bb, ll, flatWeights,
                                                    args[1]);
                return arith::MulFOp::create(bb, ll, args[0], w);
              });
          Value updated = tensor::InsertSliceOp::create(
              nb, l, copied, iter[0], offs, sizes, strides);
          scf::YieldOp::create(nb, l, updated);
          nb.setInsertionPointToStart(ifOp.elseBlock());
          scf::YieldOp::create(nb, l, iter[0]);
          nb.setInsertionPointAfter(ifOp);
          scf::YieldOp::create(nb, l, ifOp.getResult(0));
        });
    Value ys = perExpert.getResult(0);

    // The shared expert (every token) seeds the sum.
    Value init;
    if (op.hasSharedExpert()) {
      Value shared[3] = {a.getSharedGateWeights(), a.getSharedUpWeights(),
                         a.getSharedDownWeights()};
      init = swigluExpert(
          b, loc, x,
          [&](int which, Value in) {
            int64_t out =
                cast<RankedTensorType>(shared[which].getType()).getDimSize(0);
            return buildFloatLinear(b, loc, in, shared[which],
                                    RankedTensorType::get({dyn, out}, elt));
          },
          elt);
      if (Value scale = a.getSharedScaleWeights()) {
        Value s = buildFloatLinear(b, loc, x, scale,
                                   RankedTensorType::get({dyn, 1}, elt));
        AffineMap column0 = AffineMap::get(
            2, 0, {b.getAffineDimExpr(0), b.getAffineConstantExpr(0)}, ctx);
        init = generic(b, loc, ValueRange{init, s}, emptyLike(b, loc, init),
                       {map(ctx, 2, {0, 1}), column0, map(ctx, 2, {0, 1})},
                       {par, par},
                       [&](OpBuilder &nb, Location l, ValueRange args) {
                         Value one = fconst(nb, l, elt, 1.0);
                         Value sig = arith::DivFOp::create(
                             nb, l, one,
                             arith::AddFOp::create(
                                 nb, l, one,
                                 math::ExpOp::create(
                                     nb, l,
                                     arith::NegFOp::create(nb, l, args[1]))));
                         return arith::MulFOp::create(nb, l, args[0], sig);
                       });
      }
    } else {
      init = fill(b, loc, empty(b, loc, {dyn, dim}, elt, t), 0.0);
    }
    Value pos2 = tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get({dyn, k}, idx), pos,
        ArrayRef<ReassociationIndices>{{0, 1}},
        ArrayRef<OpFoldResult>{t, b.getIndexAttr(k)});
    Value y = generic(
        b, loc, ValueRange{pos2}, init,
        {map(ctx, 3, {0, 2}), map(ctx, 3, {0, 1})}, {par, par, red},
        [&](OpBuilder &nb, Location l, ValueRange args) {
          Value d = linalg::IndexOp::create(nb, l, 1);
          Value v = tensor::ExtractOp::create(nb, l, ys, ValueRange{args[0], d});
          return arith::AddFOp::create(nb, l, args[1], v);
        });
    rw.replaceOp(op, y);
    return success();
  }
};
} // namespace

bool mlir::llm::lowering::isLowerableMoE(Operation *op) {
  // Weights of any float type are widened in the kernels; the activations
  // are f32.
  auto moe = dyn_cast<MoEOp>(op);
  return moe && moe.getInput().getType().getRank() == 2 &&
         moe.getInput().getType().getElementType().isF32();
}

void mlir::llm::lowering::populateMoEPatterns(TypeConverter &converter,
                                              RewritePatternSet &patterns) {
  patterns.add<LowerMoE>(converter, patterns.getContext());
}
