//===- CPUPrefetch.cpp - software prefetch for streaming weight loops -----===//
//
// See the pass description in LoweringPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_CPUPREFETCH
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
constexpr int64_t kCacheLine = 64;

/// The 1-D memref and index a vector read in a loop body reads from.
std::pair<Value, Value> readAddress(Operation &op) {
  if (auto r = dyn_cast<vector::TransferReadOp>(op))
    if (r.getIndices().size() == 1 && isa<MemRefType>(r.getBase().getType()))
      return {r.getBase(), r.getIndices()[0]};
  if (auto r = dyn_cast<vector::LoadOp>(op))
    if (r.getIndices().size() == 1)
      return {r.getBase(), r.getIndices()[0]};
  return {};
}

/// `index` as base + constant (a constant of 0 when it is no addition).
std::pair<Value, int64_t> splitOffset(Value index) {
  if (auto add = index.getDefiningOp<arith::AddIOp>()) {
    if (std::optional<int64_t> c = getConstantIntValue(add.getRhs()))
      return {add.getLhs(), *c};
    if (std::optional<int64_t> c = getConstantIntValue(add.getLhs()))
      return {add.getRhs(), *c};
  }
  return {index, 0};
}

struct CPUPrefetch : llm::impl::CPUPrefetchBase<CPUPrefetch> {
  void runOnOperation() override {
    getOperation().walk([&](scf::ForOp loop) {
      auto ahead = loop->getAttrOfType<IntegerAttr>(llm::kPrefetchBytesAttrName);
      if (!ahead)
        return;
      loop->removeAttr(llm::kPrefetchBytesAttrName);
      // Per (memref, base index): each cache line its reads touch, with the
      // first read of it, where its prefetch goes (spread over the body
      // as the reads are, not a burst that would hold every fill buffer).
      using Stream = llvm::MapVector<int64_t, Operation *>;
      llvm::MapVector<std::pair<Value, Value>, Stream> streams;
      for (Operation &op : *loop.getBody()) {
        auto [memref, index] = readAddress(op);
        auto type = memref ? dyn_cast<MemRefType>(memref.getType()) : MemRefType();
        if (!type || type.getRank() != 1 || !type.getElementType().isInteger(8))
          continue;
        auto [base, offset] = splitOffset(index);
        streams[{memref, base}].insert(
            {llvm::divideFloorSigned(offset, kCacheLine), &op});
      }
      OpBuilder b(loop);
      for (auto &[key, stream] : streams)
        for (auto [line, first] : stream) {
          b.setInsertionPoint(first);
          Location l = first->getLoc();
          Value at = arith::AddIOp::create(
              b, l, key.second,
              arith::ConstantIndexOp::create(b, l,
                                             line * kCacheLine + ahead.getInt()));
          memref::PrefetchOp::create(b, l, key.first, ValueRange{at},
                                     /*isWrite=*/false, /*localityHint=*/3,
                                     /*isDataCache=*/true);
        }
    });
  }
};
} // namespace
