//===- UnifyParams.cpp - one llm.param per weight name --------------------===//

#include "passes/Passes.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_UNIFYPARAMS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct UnifyParamsPass : llm::impl::UnifyParamsBase<UnifyParamsPass> {
  using Base::Base;

  void runOnOperation() override {
    // First declaration of each name anywhere in the module, to diagnose
    // conflicting declarations across functions too.
    llvm::StringMap<ParamOp> firstDecl;
    bool conflict = false;
    getOperation().walk([&](ParamOp op) {
      auto [it, inserted] = firstDecl.try_emplace(op.getName(), op);
      ParamOp first = it->second;
      if (inserted || (first.getType() == op.getType() &&
                       first.getQuantAttr() == op.getQuantAttr()))
        return;
      InFlightDiagnostic diag = op.emitError()
                                << "weight '" << op.getName()
                                << "' is declared as " << op.getType()
                                << " here and as " << first.getType()
                                << " elsewhere";
      diag.attachNote(first.getLoc()) << "first declaration";
      conflict = true;
    });
    if (conflict)
      return signalPassFailure();

    getOperation().walk([&](FunctionOpInterface func) {
      if (func.isExternal())
        return;
      // Name -> kept op, in first-use (walk) order.
      llvm::MapVector<StringRef, ParamOp> kept;
      SmallVector<ParamOp> duplicates;
      func.walk([&](ParamOp op) {
        if (op->getParentWithTrait<OpTrait::IsIsolatedFromAbove>() != func)
          return; // Belongs to a nested function-like op.
        auto [it, inserted] = kept.insert({op.getName(), op});
        if (!inserted)
          duplicates.push_back(op);
      });
      for (ParamOp dup : duplicates) {
        dup.replaceAllUsesWith(kept.lookup(dup.getName()).getResult());
        dup.erase();
      }
      if (!hoist)
        return;
      Block &entry = func.getFunctionBody().front();
      Operation *insertBefore = &entry.front();
      for (auto &entryPair : kept) {
        Operation *op = entryPair.second;
        if (op == insertBefore) {
          insertBefore = insertBefore->getNextNode();
          continue;
        }
        op->moveBefore(insertBefore);
      }
    });
  }
};
} // namespace
