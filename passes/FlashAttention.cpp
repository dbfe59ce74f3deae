//===- FlashAttention.cpp - select the flash attention kernel -------------===//
//
// Marks llm.attention with the `llm.flash` kernel choice the backends'
// attention lowering reads (see Passes.td for the kernel). A pass rather
// than a lowering option, so -O levels and users choose it per model like
// any other rewrite, and the IR says which kernel every layer gets.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include <cmath>
#include "mlir/IR/Builders.h"

namespace mlir::llm {
#define GEN_PASS_DEF_FLASHATTENTION
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct FlashAttention : llm::impl::FlashAttentionBase<FlashAttention> {
  using FlashAttentionBase::FlashAttentionBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (decodeSplits < 1 || decodeSplits > 64) {
      module.emitError() << "decode-splits must be 1..64, got "
                         << static_cast<int64_t>(decodeSplits);
      return signalPassFailure();
    }
    if (softmax != "unified" && softmax != "online") {
      module.emitError() << "softmax must be 'unified' or 'online', got '"
                         << softmax << "'";
      return signalPassFailure();
    }
    if (!std::isfinite(unifiedMax)) {
      module.emitError("unified-max must be finite");
      return signalPassFailure();
    }
    Builder b(&getContext());
    DictionaryAttr flash = b.getDictionaryAttr(
        {b.getNamedAttr("decode_splits", b.getI64IntegerAttr(decodeSplits)),
         b.getNamedAttr("softmax", b.getStringAttr(softmax)),
         b.getNamedAttr("unified_max", b.getF64FloatAttr(unifiedMax))});
    module.walk([&](AttentionOp op) { op->setAttr(kFlashAttrName, flash); });
  }
};
} // namespace
