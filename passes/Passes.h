//===- Passes.h - llmc passes -----------------------------------*- C++ -*-===//

#ifndef LLMC_PASSES_PASSES_H
#define LLMC_PASSES_PASSES_H

#include "dialects/llm/LLMOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::llm {

/// The attention attribute `--llm-flash-attention` sets.
inline constexpr llvm::StringLiteral kFlashAttrName = "llm.flash";

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::llm

#endif // LLMC_PASSES_PASSES_H
