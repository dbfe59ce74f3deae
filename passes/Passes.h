//===- Passes.h - llmc passes -----------------------------------*- C++ -*-===//

#ifndef LLMC_PASSES_PASSES_H
#define LLMC_PASSES_PASSES_H

#include "dialects/llm/LLMOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::llm {

/// The attention attribute `--llm-flash-attention` sets.
inline constexpr llvm::StringLiteral kFlashAttrName = "llm.flash";

/// The hidden state entering a decoder layer of an imported graph: the
/// input of the RMSNorm that feeds its attention's key through the
/// projection and rope; null when the layer does not have that shape.
inline Value layerInput(AttentionOp attn) {
  Value v = attn.getKey();
  while (Operation *def = v.getDefiningOp()) {
    if (auto norm = dyn_cast<RMSNormOp>(def))
      return norm.getInput();
    if (!isa<RoPEOp, LinearOp, QLinearOp>(def))
      return {};
    v = def->getOperand(0);
  }
  return {};
}

/// Gives every !llm.kv_cache value under `root` (block arguments, results,
/// function signatures) the type `retype` returns for it.
void retypeKVCaches(Operation *root, function_ref<Type(KVCacheType)> retype);

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::llm

#endif // LLMC_PASSES_PASSES_H
