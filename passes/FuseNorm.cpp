//===- FuseNorm.cpp - residual add + RMSNorm, and scale folding -----------===//
//
// Two rewrites around RMSNorm:
//  - `llm.add` feeding `llm.rms_norm` becomes one `llm.add_rms_norm` that
//    yields the sum (the next residual) and the normalized value;
//  - the norm's scale `g` moves into the weights of the linears consuming
//    the norm, `rms(x) * g · Wᵀ = rms(x) · (W diag(g))ᵀ`, as the symbolic
//    transform `llm.scale_columns` (evaluated at pack time), leaving an
//    unscaled norm. Legal when every user of the norm is such a linear and
//    each weight is f32 (exact: no rounding into a narrower type) and used
//    by that linear only (folding a shared weight, e.g. tied embeddings,
//    would store a second copy). Gemma's `(1 + g)` scales
//    (`weight_offset`) stay in the norm.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_FUSENORM
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct FuseResidualNorm : OpRewritePattern<RMSNormOp> {
  FuseResidualNorm(MLIRContext *ctx, DominanceInfo &dom)
      : OpRewritePattern(ctx), dom(dom) {}
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rw) const override {
    auto add = op.getInput().getDefiningOp<AddOp>();
    if (!add)
      return rw.notifyMatchFailure(op, "input is not a residual add");
    // The fused op takes the add's place (the sum's other users may come
    // before the norm), so the norm weight must be available there.
    if (op.getWeight() && !dom.properlyDominates(op.getWeight(), add))
      return rw.notifyMatchFailure(op, "weight defined after the add");
    rw.setInsertionPoint(add);
    auto fused = AddRMSNormOp::create(rw, op.getLoc(), add.getType(),
                                      add.getType(), add.getLhs(),
                                      add.getRhs(), op.getWeight(),
                                      op.getEpsAttr(), op.getWeightOffsetAttr());
    rw.replaceOp(op, fused.getResult());
    rw.replaceOp(add, fused.getSum());
    return success();
  }
  DominanceInfo &dom;
};

/// Folds the scale of an RMSNorm-like op (`llm.rms_norm`,
/// `llm.add_rms_norm`) into its consuming linears.
template <typename NormOp>
struct FoldNormScale : OpRewritePattern<NormOp> {
  using OpRewritePattern<NormOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(NormOp op,
                                PatternRewriter &rw) const override {
    Value g = op.getWeight();
    // Gemma's (1 + g) has no column-scaling transform (yet): left in place.
    if (op.getWeightOffset())
      return rw.notifyMatchFailure(op, "scale has a weight offset");
    if (!g || !isPackTimeWeight(g) ||
        !cast<RankedTensorType>(g.getType()).getElementType().isF32())
      return rw.notifyMatchFailure(op, "no f32 pack-time scale");
    Value normed = op.getResult();
    SmallVector<LinearOp> users;
    for (OpOperand &use : normed.getUses()) {
      auto lin = dyn_cast<LinearOp>(use.getOwner());
      if (!lin || use.getOperandNumber() != 0)
        return rw.notifyMatchFailure(op, "a user is not a linear's input");
      Value w = lin.getWeight();
      if (!isPackTimeWeight(w) || !w.hasOneUse() ||
          !cast<RankedTensorType>(w.getType()).getElementType().isF32())
        return rw.notifyMatchFailure(
            op, "a linear's weight is shared, not f32 or not known at pack "
                "time");
      users.push_back(lin);
    }
    if (users.empty())
      return rw.notifyMatchFailure(op, "unused");
    for (LinearOp lin : users) {
      rw.setInsertionPoint(lin);
      Value scaled = ScaleColumnsOp::create(rw, lin.getLoc(), lin.getWeight(),
                                            g);
      rw.modifyOpInPlace(lin, [&] { lin.getWeightMutable().assign(scaled); });
    }
    rw.modifyOpInPlace(op, [&] { op.getWeightMutable().clear(); });
    return success();
  }
};

struct FuseNorm : llm::impl::FuseNormBase<FuseNorm> {
  using FuseNormBase::FuseNormBase;
  void runOnOperation() override {
    DominanceInfo &dom = getAnalysis<DominanceInfo>();
    RewritePatternSet patterns(&getContext());
    if (residual)
      patterns.add<FuseResidualNorm>(&getContext(), dom);
    if (foldScale)
      patterns.add<FoldNormScale<RMSNormOp>, FoldNormScale<AddRMSNormOp>>(
          &getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
