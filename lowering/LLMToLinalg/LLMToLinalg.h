//===- LLMToLinalg.h - tensor-level lowering of the llm dialect -*- C++ -*-===//

#ifndef LLMC_LOWERING_LLMTOLINALG_LLMTOLINALG_H
#define LLMC_LOWERING_LLMTOLINALG_LLMTOLINALG_H

#include "dialects/llm/LLMTypes.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::llm {
/// Attention reads keys in blocks of this many positions.
constexpr int64_t kKeyBlock = 16;

/// The tensor a `!llm.kv_cache` lowers to:
/// [layers, kinds (keys, values), kv_heads, capacity, head_dim], capacity =
/// max_seq rounded up to kKeyBlock. A layer's keys are stored transposed
/// in their slot ([kv_heads, head_dim, capacity]); values are not.
/// int8 caches: [layers, 2, kv_heads, capacity, head_dim + 4] i8: keys and
/// values alike, each position a row of head_dim int8 values followed by
/// the 4 little-endian bytes of its f32 scale.
/// A `shared` cache (keys are the values) has 1 instead of 2 kinds.
/// A cache with a pending state has KVCacheType::getStateLayers() more
/// layer slots holding it (see PendingState.cpp).
RankedTensorType cacheTensorType(KVCacheType type);
} // namespace mlir::llm

#endif
