//===- CPUOpenMPLoops.cpp - when and how OpenMP threads share a loop ------===//
//
// See the pass description in LoweringPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/OpenMP/OpenMPDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/TypeUtilities.h"

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
/// one iteration: ub - lb > step for a positive step; null where that is
/// known from constant bounds, or cannot be computed at `at`.
Value moreThanOneIteration(OpBuilder &b, omp::LoopNestOp nest, Operation *at) {
  if (nest.getLoopLowerBounds().size() != 1 || nest.getLoopInclusive())
    return {};
  Value lb = nest.getLoopLowerBounds()[0], ub = nest.getLoopUpperBounds()[0],
        step = nest.getLoopSteps()[0];
  for (Value v : {lb, ub, step})
    if (at->isAncestor(v.getParentRegion()->getParentOp()) ||
        (v.getDefiningOp() && at->isAncestor(v.getDefiningOp())))
      return {};
  std::optional<int64_t> clb = getConstantIntValue(lb),
                         cub = getConstantIntValue(ub),
                         cstep = getConstantIntValue(step);
  // Known to share iterations (a projection's row tasks): no test.
  if (clb && cub && cstep && *cub - *clb > *cstep)
    return {};
  b.setInsertionPoint(at);
  Location l = at->getLoc();
  Value span = arith::SubIOp::create(b, l, ub, lb);
  return arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, span, step);
}

/// Whether `parallel`'s region can run as plain code on the calling
/// thread: one block, its only OpenMP op the work-sharing loop around `nest`
/// (no reductions, no other clauses), the loop body one block and not a
/// kernel's.
bool hasSequentialForm(omp::ParallelOp parallel, omp::LoopNestOp nest) {
  auto ws = dyn_cast<omp::WsloopOp>(nest->getParentOp());
  if (!ws || ws->getParentOp() != parallel ||
      !parallel.getRegion().hasOneBlock() ||
      parallel.getRegion().front().getNumArguments() != 0 ||
      !nest.getRegion().hasOneBlock() ||
      nest.getRegion().front().getNumArguments() != 1 ||
      !ws.getReductionVars().empty() || !ws.getPrivateVars().empty() ||
      !parallel.getReductionVars().empty() ||
      !parallel.getPrivateVars().empty())
    return false;
  for (Operation &op : parallel.getRegion().front().without_terminator())
    if (&op != ws.getOperation() &&
        op.walk([](Operation *inner) {
            return isa_and_nonnull<omp::OpenMPDialect>(inner->getDialect())
                       ? WalkResult::interrupt()
                       : WalkResult::advance();
          }).wasInterrupted())
      return false;
  // A kernel keeps one copy, in its own function: its one-iteration case
  // is rare and long next to a serialized region's cost. Kernels are told
  // by their byte dot products: intrinsic calls (llm-cpu-vnni) or, where
  // the backend forms them (aarch64 sdot), bytes widened to i32 lanes.
  return !nest.walk([](Operation *inner) {
                bool widensBytes =
                    isa<arith::ExtSIOp, arith::ExtUIOp>(inner) &&
                    getElementTypeOrSelf(inner->getOperand(0).getType())
                        .isInteger(8) &&
                    isa<VectorType>(inner->getOperand(0).getType());
                return widensBytes || isa<LLVM::CallIntrinsicOp>(inner)
                           ? WalkResult::interrupt()
                           : WalkResult::advance();
              })
              .wasInterrupted();
}

/// `scf.if %many { parallel } else { the region's code, its loop an
/// scf.for }`: a loop of at most one iteration (a one-token step's
/// elementwise ops) then costs no OpenMP call. An `if(false)` region still
/// goes through the runtime's serialized-team setup, and while the calling
/// thread does that (over a thousand times per 1.1B decode step) the other
/// threads wait.
void splitSequential(OpBuilder &b, omp::ParallelOp parallel,
                     omp::LoopNestOp nest, Value many) {
  Location l = parallel.getLoc();
  b.setInsertionPoint(parallel);
  auto branch = scf::IfOp::create(b, l, many, /*withElseRegion=*/true);
  parallel->moveBefore(branch.thenBlock()->getTerminator());
  b.setInsertionPoint(branch.elseBlock()->getTerminator());
  IRMapping map;
  for (Operation &op : parallel.getRegion().front().without_terminator()) {
    if (!isa<omp::WsloopOp>(op)) {
      b.clone(op, map);
      continue;
    }
    auto loop = scf::ForOp::create(
        b, l, map.lookupOrDefault(nest.getLoopLowerBounds()[0]),
        map.lookupOrDefault(nest.getLoopUpperBounds()[0]),
        map.lookupOrDefault(nest.getLoopSteps()[0]));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Block &body = nest.getRegion().front();
    map.map(body.getArgument(0), loop.getInductionVar());
    for (Operation &inner : body.without_terminator())
      b.clone(inner, map);
  }
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
    SmallVector<omp::ParallelOp> regions;
    getOperation().walk([&](omp::ParallelOp p) { regions.push_back(p); });
    for (omp::ParallelOp parallel : regions) {
      if (parallel.getIfExpr())
        continue;
      omp::LoopNestOp nest = onlyLoop(parallel);
      Value many = nest ? moreThanOneIteration(b, nest, parallel) : Value();
      if (!many)
        continue;
      if (hasSequentialForm(parallel, nest))
        splitSequential(b, parallel, nest, many);
      else
        parallel.getIfExprMutable().assign(many);
    }
  }
};
} // namespace
