//===- Observe.cpp - observation points for calibration -------------------===//
//
// An `llm.observe` of the input of every linear over a pack-time weight,
// one per distinct input value; the module's `llm.observe` attribute lists
// the sites. See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_OBSERVE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct ObservePass : llm::impl::ObserveBase<ObservePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The weight keys each observed input feeds, in program order.
    llvm::MapVector<Value, SmallVector<Attribute>> sites;
    Builder b(module.getContext());
    module.walk([&](Operation *op) {
      Value input, weight;
      if (auto l = dyn_cast<LinearOp>(op)) {
        input = l.getInput();
        weight = l.getWeight();
      } else if (auto q = dyn_cast<QLinearOp>(op)) {
        input = q.getInput();
        weight = q.getWeight();
        while (weight.getDefiningOp<QuantizeOp>())
          weight = weight.getDefiningOp<QuantizeOp>().getInput();
      } else {
        return;
      }
      auto t = cast<RankedTensorType>(input.getType());
      if (!isPackTimeWeight(weight) || t.getRank() != 2 ||
          !t.getElementType().isF32() || t.isDynamicDim(1))
        return;
      StringAttr key = b.getStringAttr(weightKey(weight));
      auto &keys = sites[input];
      if (!llvm::is_contained(keys, key))
        keys.push_back(key);
    });
    // After the sites already in the table (llm-observe-layers').
    SmallVector<Attribute> table;
    if (auto existing = module->getAttrOfType<ArrayAttr>("llm.observe"))
      table.assign(existing.begin(), existing.end());
    for (auto &[input, keys] : sites) {
      int64_t site = table.size();
      OpBuilder ob(module.getContext());
      ob.setInsertionPointAfterValue(input);
      ObserveOp::create(ob, input.getLoc(), input, site, ob.getArrayAttr(keys));
      table.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("site", b.getI64IntegerAttr(site)),
           b.getNamedAttr("keys", b.getArrayAttr(keys)),
           b.getNamedAttr("features",
                          b.getI64IntegerAttr(cast<RankedTensorType>(
                                                  input.getType())
                                                  .getDimSize(1)))}));
    }
    module->setAttr("llm.observe", b.getArrayAttr(table));
  }
};
} // namespace
