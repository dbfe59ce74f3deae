//===- CPUVectorMath.cpp - vector exp as an inline polynomial -------------===//
//
// See the pass description in LoweringPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_CPUVECTORMATH
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
struct CPUVectorMath : llm::impl::CPUVectorMathBase<CPUVectorMath> {
  void runOnOperation() override {
    // Only the vector exps: a scalar exp is one libm call either way, and
    // keeps libm's accuracy.
    SmallVector<Operation *> exps;
    getOperation().walk([&](math::ExpOp op) {
      auto t = dyn_cast<VectorType>(op.getType());
      if (t && t.getElementType().isF32())
        exps.push_back(op);
    });
    if (exps.empty())
      return;
    RewritePatternSet patterns(&getContext());
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          return name == "exp" || name == math::ExpOp::getOperationName();
        });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(exps, std::move(patterns), config)))
      return signalPassFailure();
  }
};
} // namespace
