//===- FuseEpilogue.cpp - activation and residual add into the linear -----===//
//
// `silu(linear(x))` / `gelu(linear(x))` become `linear(x) activation ...`,
// and `add(linear(x), r)` becomes `linear(x) residual(r)`: the backend
// applies them while the output tile is in registers (the residual seeds
// the accumulator), instead of another pass over the activations. The
// linear must be the only producer its result feeds.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_FUSEEPILOGUE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
/// The linear (float or quantized) producing `v` when `v` has no other use.
Operation *soleLinearProducer(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || !isa<LinearOp, QLinearOp>(def) || !v.hasOneUse())
    return nullptr;
  return def;
}

/// A copy of `linear` (LinearOp or QLinearOp) at the rewriter's insertion
/// point with the given residual and activation.
Value rebuild(PatternRewriter &rw, Operation *linear, Value residual,
              ActivationAttr act) {
  if (auto l = dyn_cast<LinearOp>(linear))
    return LinearOp::create(rw, l.getLoc(), l.getType(), l.getInput(),
                            l.getWeight(), l.getBias(), residual, act);
  auto q = cast<QLinearOp>(linear);
  return QLinearOp::create(rw, q.getLoc(), q.getType(), q.getInput(),
                           q.getWeight(), q.getScales(), q.getZeros(),
                           q.getBias(), residual, q.getQuant(), act);
}

Value residualOf(Operation *op) {
  if (auto l = dyn_cast<LinearOp>(op))
    return l.getResidual();
  return cast<QLinearOp>(op).getResidual();
}
ActivationAttr activationOf(Operation *op) {
  if (auto l = dyn_cast<LinearOp>(op))
    return l.getActivationAttr();
  return cast<QLinearOp>(op).getActivationAttr();
}

template <typename ActOp>
struct FuseActivation : OpRewritePattern<ActOp> {
  using OpRewritePattern<ActOp>::OpRewritePattern;
  LogicalResult matchAndRewrite(ActOp op,
                                PatternRewriter &rw) const override {
    Operation *lin = soleLinearProducer(op.getInput());
    if (!lin || residualOf(lin) || activationOf(lin))
      return rw.notifyMatchFailure(op, "not the sole user of a plain linear");
    Activation act = Activation::silu;
    if constexpr (std::is_same_v<ActOp, GeLUOp>)
      act = op.getApproximate() == GeluApproximation::tanh
                ? Activation::gelu_tanh
                : Activation::gelu;
    rw.setInsertionPoint(lin);
    rw.replaceOp(op, rebuild(rw, lin, Value(),
                             ActivationAttr::get(rw.getContext(), act)));
    rw.eraseOp(lin);
    return success();
  }
};

struct FuseResidual : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    for (unsigned i = 0; i < 2; ++i) {
      Operation *lin = soleLinearProducer(op->getOperand(i));
      if (!lin || residualOf(lin))
        continue;
      // Built where the add is: the residual may be defined after the
      // linear, and the linear's own operands are available there.
      rw.setInsertionPoint(op);
      rw.replaceOp(op, rebuild(rw, lin, op->getOperand(1 - i),
                               activationOf(lin)));
      rw.eraseOp(lin);
      return success();
    }
    return rw.notifyMatchFailure(op, "no operand is a linear used only here");
  }
};

struct FuseEpilogue : llm::impl::FuseEpilogueBase<FuseEpilogue> {
  using FuseEpilogueBase::FuseEpilogueBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (activation)
      patterns.add<FuseActivation<SiLUOp>, FuseActivation<GeLUOp>>(
          &getContext());
    if (residual)
      patterns.add<FuseResidual>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
