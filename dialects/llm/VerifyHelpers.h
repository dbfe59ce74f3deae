//===- VerifyHelpers.h - shape checks shared by the op verifiers -*- C++ -*-===//
//
// Used by LLMOps.cpp and MoEOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_VERIFYHELPERS_H
#define LLMC_DIALECTS_LLM_VERIFYHELPERS_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Operation.h"

namespace mlir::llm::verify {
/// Equal, or either is dynamic.
inline bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Same rank and pairwise compatible dimensions.
inline bool shapesCompatible(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip_equal(a, b))
    if (!dimsCompatible(x, y))
      return false;
  return true;
}

/// The last dimension of a ranked tensor value.
inline int64_t lastDim(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape().back();
}

/// Every float activation must have rank >= 1 (a feature dimension).
inline LogicalResult verifyHasFeatureDim(Operation *op, Value v,
                                         StringRef name) {
  if (cast<RankedTensorType>(v.getType()).getRank() < 1)
    return op->emitOpError() << "'" << name << "' must have rank >= 1, got "
                             << v.getType();
  return success();
}
} // namespace mlir::llm::verify

#endif // LLMC_DIALECTS_LLM_VERIFYHELPERS_H
