//===- CacheOps.cpp - the KV cache's pending-state ops --------------------===//
//
// Verifiers of llm.cache_filled / cache_pending / cache_stash / cache_mark,
// the ops of early exit's recompute KV policy (kept apart from LLMOps.cpp:
// they concern the cache's decode state, not a layer's math).
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include <optional>

using namespace mlir;
using namespace mlir::llm;

static LogicalResult verifyPendingCache(Operation *op, KVCacheType cache,
                                        std::optional<int64_t> layer,
                                        Value rows = {}) {
  if (!cache.getPending())
    return op->emitOpError() << "needs a cache with a pending state, got "
                             << cache;
  if (layer && (*layer < 0 || *layer >= cache.getLayers()))
    return op->emitOpError() << "layer " << *layer << " is out of range [0, "
                             << cache.getLayers() << ")";
  if (rows) {
    auto t = cast<RankedTensorType>(rows.getType());
    if (t.getRank() != 2 || !t.getElementType().isF32() ||
        t.getDimSize(1) != cache.getPending())
      return op->emitOpError() << "rows must be f32 [tokens, "
                               << cache.getPending() << "], got " << t;
  }
  return success();
}

LogicalResult CacheFilledOp::verify() {
  return verifyPendingCache(*this, getCache().getType(), getLayer());
}

LogicalResult CachePendingOp::verify() {
  if (failed(verifyPendingCache(*this, getCache().getType(), std::nullopt,
                                getInput())))
    return failure();
  auto result = getResult().getType();
  if (result.getRank() != 2 || !result.isDynamicDim(0) ||
      result.getDimSize(1) != getCache().getType().getPending() ||
      result.getElementType() != getInput().getType().getElementType())
    return emitOpError() << "result must be f32 [?, "
                         << getCache().getType().getPending() << "], got "
                         << result;
  return success();
}

LogicalResult CacheStashOp::verify() {
  return verifyPendingCache(*this, getCache().getType(), std::nullopt,
                            getInput());
}

LogicalResult CacheMarkOp::verify() {
  return verifyPendingCache(*this, getCache().getType(), getLayer());
}

