//===- CPUOpenMPLoops.cpp - when and how OpenMP threads share a loop ------===//
//
// See the pass description in LoweringPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"

namespace mlir::llm {
#define GEN_PASS_DEF_CPUOPENMPLOOPS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {

/// The only work-sharing loop of `parallel` (possibly nested in scopes
/// that run once), or null.
omp::LoopNestOp onlyLoop(omp::ParallelOp parallel) {
  omp::LoopNestOp found;
  int count = 0;
  parallel.walk([&](omp::LoopNestOp nest) {
    ++count;
    found = nest;
  });
  return count == 1 ? found : omp::LoopNestOp();
}

/// `i1` true when `nest` (1-D, bounds defined above `at`) runs more than
/// one iteration: ub - lb > step for a positive step.
Value moreThanOneIteration(OpBuilder &b, omp::LoopNestOp nest, Operation *at) {
  if (nest.getLoopLowerBounds().size() != 1 || nest.getLoopInclusive())
    return {};
  Value lb = nest.getLoopLowerBounds()[0], ub = nest.getLoopUpperBounds()[0],
        step = nest.getLoopSteps()[0];
  for (Value v : {lb, ub, step})
    if (at->isAncestor(v.getParentRegion()->getParentOp()) ||
        (v.getDefiningOp() && at->isAncestor(v.getDefiningOp())))
      return {};
  b.setInsertionPoint(at);
  Location l = at->getLoc();
  Value span = arith::SubIOp::create(b, l, ub, lb);
  return arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, span, step);
}

struct CPUOpenMPLoops : llm::impl::CPUOpenMPLoopsBase<CPUOpenMPLoops> {
  using CPUOpenMPLoopsBase::CPUOpenMPLoopsBase;

  void runOnOperation() override {
    std::optional<omp::ClauseScheduleKind> kind =
        omp::symbolizeClauseScheduleKind(schedule);
    if (!kind || (*kind != omp::ClauseScheduleKind::Static &&
                  *kind != omp::ClauseScheduleKind::Dynamic &&
                  *kind != omp::ClauseScheduleKind::Guided)) {
      getOperation().emitError("llm-cpu-openmp-loops: unknown schedule '")
          << schedule << "' (static, dynamic or guided)";
      return signalPassFailure();
    }
    auto attr = omp::ClauseScheduleKindAttr::get(&getContext(), *kind);
    // Loops that already say how to share their iterations keep it.
    getOperation().walk([&](omp::WsloopOp loop) {
      if (!loop.getScheduleKindAttr())
        loop.setScheduleKindAttr(attr);
    });
    OpBuilder b(&getContext());
    getOperation().walk([&](omp::ParallelOp parallel) {
      if (parallel.getIfExpr())
        return;
      if (omp::LoopNestOp nest = onlyLoop(parallel))
        if (Value many = moreThanOneIteration(b, nest, parallel))
          parallel.getIfExprMutable().assign(many);
    });
  }
};
} // namespace
