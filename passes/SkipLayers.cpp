//===- SkipLayers.cpp - static layer skipping -----------------------------===//
//
// Removes whole decoder layers (ShortGPT / TrimLLM style): each skipped
// layer's output is replaced by its input and its KV-cache write by the
// cache it received, so the layer's ops become dead and are erased. The KV
// cache keeps its shape (skipped layers' slots are never written or read).
// See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::llm {
#define GEN_PASS_DEF_SKIPLAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

struct SkipLayersPass : llm::impl::SkipLayersBase<SkipLayersPass> {
  using SkipLayersBase::SkipLayersBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (layers.empty())
      return;
    auto func = module.lookupSymbol<func::FuncOp>("forward");
    if (!func || func.isExternal() || !func.getBody().hasOneBlock()) {
      module.emitError("llm-skip-layers: no single-block 'forward' function");
      return signalPassFailure();
    }
    Block &body = func.getBody().front();
    SmallVector<AttentionOp> attns;
    SmallVector<Value> inputs;
    for (Operation &op : body)
      if (auto a = dyn_cast<AttentionOp>(op)) {
        Value in = layerInput(a);
        if (a.getLayer() != attns.size() || !in) {
          a.emitError("llm-skip-layers: expected layers 0, 1, ... in order, "
                      "each rms_norm -> projection -> rope -> attention");
          return signalPassFailure();
        }
        attns.push_back(a);
        inputs.push_back(in);
      }
    // The hidden state after the last layer: the final norm's input.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    Value logits = ret.getNumOperands() ? ret.getOperand(0) : Value();
    auto cls = logits ? logits.getDefiningOp<LinearOp>() : nullptr;
    auto finalNorm = cls ? cls.getInput().getDefiningOp<RMSNormOp>() : nullptr;
    Value last = finalNorm ? finalNorm.getInput() : Value();
    while (last && last.getDefiningOp<tensor::ExtractSliceOp>())
      last = last.getDefiningOp<tensor::ExtractSliceOp>().getSource();
    if (!last) {
      func.emitError("llm-skip-layers: the logits must be "
                     "linear(rms_norm(x), classifier)");
      return signalPassFailure();
    }
    int64_t n = attns.size();
    llvm::SmallDenseSet<int64_t> skip;
    for (int64_t l : layers) {
      if (l < 0 || l >= n) {
        func.emitError() << "llm-skip-layers: layer " << l
                         << " does not exist (the model has " << n
                         << " layers)";
        return signalPassFailure();
      }
      skip.insert(l);
    }
    if (static_cast<int64_t>(skip.size()) == n) {
      func.emitError("llm-skip-layers: cannot skip every layer");
      return signalPassFailure();
    }
    // From the last layer down, so a skipped layer's input is already the
    // input of the run of skipped layers before it.
    for (int64_t l = n - 1; l >= 0; --l) {
      if (!skip.contains(l))
        continue;
      Value out = l + 1 < n ? inputs[l + 1] : last;
      out.replaceAllUsesWith(inputs[l]);
      attns[l].getNewCache().replaceAllUsesWith(attns[l].getCache());
      attns[l]->setAttr("llm.skipped", UnitAttr::get(&getContext()));
    }
    // The skipped layers' ops are dead now (their attention writes only a
    // cache nobody reads: erase it explicitly, it is not side-effect free).
    for (int64_t l : skip)
      attns[l].erase();
    IRRewriter rewriter(&getContext());
    (void)runRegionDCE(rewriter, func.getBody());
    func->setAttr("llm.skipped_layers",
                  Builder(&getContext()).getDenseI64ArrayAttr(
                      SmallVector<int64_t>(layers.begin(), layers.end())));
  }
};
} // namespace
