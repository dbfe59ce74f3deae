//===- EarlyDealloc.cpp - free buffers right after their last use ---------===//
//
// The ownership-based deallocation pipeline frees a buffer where its
// ownership ends, which for a buffer yielded out of an `scf.if` (every
// lowering that branches on one token vs several) is the end of the
// function: a 22-layer prefill then holds every layer's activations at once.
// This pass moves each `memref.dealloc` (or the `scf.if` that only guards
// one) up to just after the last operation in its block that uses the
// buffer through any alias, so the runtime's caching allocator can hand the
// memory to the next layer.
//
// Aliases come from upstream `BufferViewFlowAnalysis`: the allocations the
// freed value may come from (`resolveReverse`), then every view, region
// result, block argument or unknown op result derived from them
// (`resolve`). A dealloc stays where it is when it frees something that is
// not traced back to an allocation, or when an alias is used outside the
// dealloc's block or turned into a raw pointer.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/BufferViewFlowAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::llm {
#define GEN_PASS_DEF_EARLYDEALLOC
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {

/// True if `v` is the result of an op that allocates it.
bool isAllocation(Value v) {
  Operation *def = v.getDefiningOp();
  return def && hasEffect<MemoryEffects::Allocate>(def, v);
}

/// The op to move for `dealloc`: the dealloc itself, or an `scf.if` without
/// results or else-branch whose then-branch holds only the dealloc.
Operation *movableOp(memref::DeallocOp dealloc) {
  auto guard = dyn_cast<scf::IfOp>(dealloc->getParentOp());
  if (guard && guard.getNumResults() == 0 && guard.getElseRegion().empty() &&
      guard.thenBlock()->getOperations().size() == 2)
    return guard;
  return dealloc;
}

/// The `memref.extract_strided_metadata` that produced `freed` when nothing
/// but `dealloc` uses its results: it moves with the dealloc (the
/// deallocation pipeline puts it at the end of the function too).
Operation *carriedDef(memref::DeallocOp dealloc, Operation *moved) {
  auto meta =
      dealloc.getMemref().getDefiningOp<memref::ExtractStridedMetadataOp>();
  if (!meta || meta->getBlock() != moved->getBlock())
    return nullptr;
  for (Value result : meta->getResults())
    for (Operation *user : result.getUsers())
      if (user != dealloc.getOperation())
        return nullptr;
  return meta;
}

struct EarlyDeallocPass : llm::impl::EarlyDeallocBase<EarlyDeallocPass> {
  using Base::Base;

  void runOnOperation() override {
    BufferViewFlowAnalysis flow(getOperation());
    SmallVector<memref::DeallocOp> deallocs;
    getOperation().walk([&](memref::DeallocOp op) { deallocs.push_back(op); });
    for (memref::DeallocOp dealloc : deallocs)
      hoist(flow, dealloc);
  }

  /// The op of the block of `moved` after which the buffer `dealloc` frees
  /// is no longer used, or null if that cannot be established. `carried`
  /// (if any) moves along and does not count as a use.
  static Operation *lastUse(const BufferViewFlowAnalysis &flow,
                            memref::DeallocOp dealloc, Operation *moved,
                            Operation *carried) {
    Block *block = moved->getBlock();
    SmallVector<Value> allocations;
    for (Value v : flow.resolveReverse(dealloc.getMemref()))
      if (isAllocation(v))
        allocations.push_back(v);
    if (allocations.empty())
      return nullptr;

    Operation *last = nullptr;
    auto after = [&](Operation *op) {
      if (op != carried && (!last || last->isBeforeInBlock(op)))
        last = op;
    };
    // Nothing moves above what it reads (the guard's condition, the freed
    // value or the operand of the carried metadata op).
    SmallVector<Value> reads(moved->getOperands());
    reads.push_back(dealloc.getMemref());
    if (carried)
      llvm::append_range(reads, carried->getOperands());
    for (Value v : reads)
      if (Operation *def = v.getDefiningOp())
        if (Operation *anc = block->findAncestorOpInBlock(*def))
          after(anc);
    for (Value allocation : allocations) {
      for (Value alias : flow.resolve(allocation)) {
        for (Operation *user : alias.getUsers()) {
          if (moved->isAncestor(user))
            continue;
          if (isa<memref::ExtractAlignedPointerAsIndexOp>(user))
            return nullptr;
          Operation *anc = block->findAncestorOpInBlock(*user);
          if (!anc)
            return nullptr;
          after(anc);
        }
      }
    }
    return last;
  }

  static void hoist(const BufferViewFlowAnalysis &flow,
                    memref::DeallocOp dealloc) {
    Operation *moved = movableOp(dealloc);
    Operation *carried = carriedDef(dealloc, moved);
    Operation *last = lastUse(flow, dealloc, moved, carried);
    if (!last || last == moved || !last->isBeforeInBlock(moved))
      return;
    moved->moveAfter(last);
    if (carried)
      carried->moveBefore(moved);
  }
};

} // namespace
