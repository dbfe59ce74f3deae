//===- ObserveLayers.cpp - observation points on decoder-layer boundaries -===//
//
// An `llm.observe` of every decoder layer's input hidden state (key
// `hidden.<l>`) and of the last layer's output (`hidden.<L>`), for the
// per-layer similarity `llmc calibrate` turns into a skip plan, and of
// every mixture-of-experts layer's router logits (`router.<l>`) for its
// routing statistics. See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/Builders.h"

namespace mlir::llm {
#define GEN_PASS_DEF_OBSERVELAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct ObserveLayersPass : llm::impl::ObserveLayersBase<ObserveLayersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>("forward");
    if (!func) {
      module.emitError("llm-observe-layers: no 'forward' function");
      return signalPassFailure();
    }
    FailureOr<DecoderLayers> layers =
        findDecoderLayers(func, "llm-observe-layers");
    if (failed(layers))
      return signalPassFailure();
    SmallVector<Value> points(layers->inputs);
    points.push_back(layers->output);
    // Sites continue the module's observation table (llm-observe appends
    // after these).
    Builder b(module.getContext());
    SmallVector<Attribute> table;
    if (auto existing = module->getAttrOfType<ArrayAttr>("llm.observe"))
      table.assign(existing.begin(), existing.end());
    bool observed = false;
    func.walk([&](ObserveOp op) {
      for (Attribute k : op.getKeys())
        observed |= cast<StringAttr>(k).getValue().starts_with("hidden.");
    });
    if (observed) {
      module.emitError("llm-observe-layers: the layers are already observed");
      return signalPassFailure();
    }
    for (auto [l, v] : llvm::enumerate(points)) {
      auto t = cast<RankedTensorType>(v.getType());
      if (t.getRank() != 2 || !t.getElementType().isF32() ||
          t.isDynamicDim(1)) {
        func.emitError() << "llm-observe-layers: hidden state " << l
                         << " is not f32 [tokens, dim]: " << t;
        return signalPassFailure();
      }
      int64_t site = table.size();
      ArrayAttr keys =
          b.getStrArrayAttr({("hidden." + Twine(l)).str()});
      OpBuilder ob(module.getContext());
      ob.setInsertionPointAfterValue(v);
      ObserveOp::create(ob, v.getLoc(), v, site, keys);
      table.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("site", b.getI64IntegerAttr(site)),
           b.getNamedAttr("keys", keys),
           b.getNamedAttr("features", b.getI64IntegerAttr(t.getDimSize(1)))}));
    }
    // Mixture-of-experts layers: the router logits (recomputed next to the
    // llm.moe, which keeps its own), for the routing statistics.
    for (auto [layer, moe] : findMoELayers(func)) {
      auto input = cast<RankedTensorType>(moe.getInput().getType());
      if (layer < 0 || input.getRank() != 2 || !input.getElementType().isF32()) {
        moe.emitError("llm-observe-layers: expected an f32 [tokens, dim] "
                      "llm.moe after a layer's attention");
        return signalPassFailure();
      }
      OpBuilder ob(moe);
      int64_t experts = moe.getNumExperts();
      Value logits = LinearOp::create(
          ob, moe.getLoc(),
          RankedTensorType::get({ShapedType::kDynamic, experts},
                                input.getElementType()),
          moe.getInput(), moe.getRouter(), Value());
      int64_t site = table.size();
      ArrayAttr keys = b.getStrArrayAttr({("router." + Twine(layer)).str()});
      ObserveOp::create(ob, moe.getLoc(), logits, site, keys);
      table.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("site", b.getI64IntegerAttr(site)),
           b.getNamedAttr("keys", keys),
           b.getNamedAttr("features", b.getI64IntegerAttr(experts)),
           b.getNamedAttr("top_k", b.getI64IntegerAttr(moe.getTopK()))}));
    }
    module->setAttr("llm.observe", b.getArrayAttr(table));
  }
};
} // namespace
