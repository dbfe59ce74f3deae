//===- FuseDequant.cpp - dequantize -> linear becomes a quantized linear --===//
//
// `llm.linear(x, llm.dequantize(q, scales, zeros))` reads a dequantized copy
// of the weight; `llm.qlinear(x, q, scales, zeros)` reads the quantized
// weight and dequantizes in registers. The dequantize stays for any other
// user (and is erased as dead otherwise).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_FUSEDEQUANT
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct DequantIntoLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rw) const override {
    auto dq = op.getWeight().getDefiningOp<DequantizeOp>();
    if (!dq)
      return rw.notifyMatchFailure(op, "weight is not dequantized");
    if (dq.getResult().getType().getElementType() !=
        op.getInput().getType().getElementType())
      return rw.notifyMatchFailure(
          op, "dequantizes to a type other than the activations'");
    rw.replaceOpWithNewOp<QLinearOp>(
        op, op.getType(), op.getInput(), dq.getInput(), dq.getScales(),
        dq.getZeros(), op.getBias(), op.getResidual(), dq.getQuant(),
        op.getActivationAttr());
    if (dq->use_empty())
      rw.eraseOp(dq);
    return success();
  }
};

struct FuseDequant : llm::impl::FuseDequantBase<FuseDequant> {
  using FuseDequantBase::FuseDequantBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DequantIntoLinear>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
