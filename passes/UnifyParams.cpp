//===- UnifyParams.cpp - one llm.param per weight name --------------------===//

#include "passes/Passes.h"
#include "mlir/IR/Dominance.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_UNIFYPARAMS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

/// "tensor<4x32xi4> with #llm.quant<...>" for diagnostics.
static std::string describe(ParamOp op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "'" << op.getType() << "'";
  if (QuantAttr quant = op.getQuantAttr())
    os << " with " << quant;
  return s;
}

namespace {
struct UnifyParamsPass : llm::impl::UnifyParamsBase<UnifyParamsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (failed(checkConsistentDeclarations()))
      return signalPassFailure();
    getOperation().walk([&](FunctionOpInterface func) {
      if (!func.isExternal())
        unify(func);
    });
  }

  /// A weight name must mean one tensor: same type and quantization
  /// everywhere in the module, or packing would be ambiguous.
  LogicalResult checkConsistentDeclarations() {
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
                                << "' is declared as " << describe(op)
                                << " here and as " << describe(first)
                                << " elsewhere";
      diag.attachNote(first.getLoc()) << "first declaration";
      conflict = true;
    });
    return failure(conflict);
  }

  void unify(FunctionOpInterface func) {
    // The params of this function (not of nested function-like ops), in
    // first-use (walk) order.
    SmallVector<ParamOp> params;
    func.walk([&](ParamOp op) {
      if (op->getParentWithTrait<OpTrait::IsIsolatedFromAbove>() == func)
        params.push_back(op);
    });
    if (hoist) {
      // A param has no operands, so the entry block start dominates all
      // uses; after hoisting, the first of each name serves every use.
      Block &entry = func.getFunctionBody().front();
      Operation *insertPoint = &entry.front();
      llvm::StringMap<ParamOp> kept;
      for (ParamOp op : params) {
        auto [it, inserted] = kept.try_emplace(op.getName(), op);
        if (!inserted) {
          op.replaceAllUsesWith(it->second.getResult());
          op.erase();
          continue;
        }
        if (op.getOperation() == insertPoint)
          insertPoint = insertPoint->getNextNode();
        else
          op->moveBefore(insertPoint);
      }
      return;
    }
    // Without hoisting, merge a duplicate only into a declaration that
    // dominates it.
    DominanceInfo dominance(func);
    llvm::StringMap<SmallVector<ParamOp, 1>> kept;
    for (ParamOp op : params) {
      SmallVector<ParamOp, 1> &candidates = kept[op.getName()];
      auto dominating = llvm::find_if(candidates, [&](ParamOp k) {
        return dominance.properlyDominates(k.getOperation(), op.getOperation());
      });
      if (dominating == candidates.end()) {
        candidates.push_back(op);
        continue;
      }
      op.replaceAllUsesWith(dominating->getResult());
      op.erase();
    }
  }
};
} // namespace
