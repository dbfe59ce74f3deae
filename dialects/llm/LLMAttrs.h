//===- LLMAttrs.h - llm dialect attributes and enums ------------*- C++ -*-===//

#ifndef LLMC_DIALECTS_LLM_LLMATTRS_H
#define LLMC_DIALECTS_LLM_LLMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/SmallVector.h"
#include <optional>

#include "dialects/llm/LLMEnums.h.inc"

namespace mlir::llm {
/// Shortest round-trippable-looking form of a double for diagnostics ("1.5",
/// "1e-05"), rather than raw_ostream's "1.500000e+00".
std::string formatNumber(double value);
} // namespace mlir::llm

#define GET_ATTRDEF_CLASSES
#include "dialects/llm/LLMAttrs.h.inc"

#endif // LLMC_DIALECTS_LLM_LLMATTRS_H
