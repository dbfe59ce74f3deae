//===- DecodeGGUFBlocks.cpp - GGUF blocks decoded at pack time ------------===//
//
// See the pass description in QuantPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_DECODEGGUFBLOCKS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct QLinearOnDecodedBlocks : OpRewritePattern<QLinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(QLinearOp op,
                                PatternRewriter &rw) const override {
    QuantAttr quant = op.getQuant();
    if (!quant.isPackTimeDecodable() || op.getScales() || op.getZeros())
      return rw.notifyMatchFailure(op, "not a format the packer decodes");
    auto w = cast<RankedTensorType>(op.getWeight().getType());
    Value decoded = DequantizeOp::create(rw, op.getLoc(),
                                         w.clone(rw.getF16Type()),
                                         op.getWeight(), Value(), Value(), quant);
    rw.replaceOpWithNewOp<LinearOp>(op, op.getType(), op.getInput(), decoded,
                                    op.getBias(), op.getResidual(),
                                    op.getActivationAttr());
    return success();
  }
};

struct DecodeGGUFBlocks : llm::impl::DecodeGGUFBlocksBase<DecodeGGUFBlocks> {
  using DecodeGGUFBlocksBase::DecodeGGUFBlocksBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<QLinearOnDecodedBlocks>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
