//===- LLMToLinalg.h - tensor-level lowering of the llm dialect -*- C++ -*-===//

#ifndef LLMC_LOWERING_LLMTOLINALG_LLMTOLINALG_H
#define LLMC_LOWERING_LLMTOLINALG_LLMTOLINALG_H

#include "dialects/llm/LLMTypes.h"
#include "mlir/IR/BuiltinTypes.h"

namespace mlir::llm {
/// The tensor a `!llm.kv_cache` lowers to:
/// [layers, 2 (keys, values), kv_heads, max_seq, head_dim].
RankedTensorType cacheTensorType(KVCacheType type);
} // namespace mlir::llm

#endif
