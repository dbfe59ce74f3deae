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
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

namespace mlir::llm {
#define GEN_PASS_DEF_SKIPLAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

FailureOr<SmallVector<int64_t>>
mlir::llm::readSkipPlan(StringRef path, int64_t count, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = (path + ": cannot read: " + buffer.getError().message()).str();
    return failure();
  }
  llvm::Expected<llvm::json::Value> doc =
      llvm::json::parse((*buffer)->getBuffer());
  if (!doc) {
    error = (path + ": not JSON: " + llvm::toString(doc.takeError())).str();
    return failure();
  }
  const llvm::json::Object *o = doc->getAsObject();
  const llvm::json::Array *plan = o ? o->getArray("skip_plan") : nullptr;
  if (!plan) {
    error = (path + ": no 'skip_plan' (write it with llmc calibrate)").str();
    return failure();
  }
  if (count > static_cast<int64_t>(plan->size())) {
    error = (path + ": the skip plan ranks " + Twine(plan->size()) +
             " layers, " + Twine(count) + " requested")
                .str();
    return failure();
  }
  SmallVector<int64_t> layers;
  for (int64_t i = 0; i < count; ++i) {
    std::optional<int64_t> l = (*plan)[i].getAsInteger();
    if (!l) {
      error = (path + ": skip_plan entry " + Twine(i) + " is not a layer")
                  .str();
      return failure();
    }
    layers.push_back(*l);
  }
  llvm::sort(layers);
  return layers;
}

namespace {

struct SkipLayersPass : llm::impl::SkipLayersBase<SkipLayersPass> {
  using SkipLayersBase::SkipLayersBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<int64_t> plan(layers.begin(), layers.end());
    if (!planFile.empty()) {
      if (!layers.empty() || count < 1) {
        module.emitError("llm-skip-layers: give either layers=... or "
                         "plan=FILE with count >= 1");
        return signalPassFailure();
      }
      std::string error;
      FailureOr<SmallVector<int64_t>> fromFile =
          readSkipPlan(planFile, count, error);
      if (failed(fromFile)) {
        module.emitError() << "llm-skip-layers: " << error;
        return signalPassFailure();
      }
      plan = *fromFile;
    }
    if (plan.empty())
      return;
    auto func = module.lookupSymbol<func::FuncOp>("forward");
    if (!func) {
      module.emitError("llm-skip-layers: no 'forward' function");
      return signalPassFailure();
    }
    FailureOr<DecoderLayers> found = findDecoderLayers(func, "llm-skip-layers");
    if (failed(found))
      return signalPassFailure();
    SmallVector<AttentionOp> &attns = found->attentions;
    SmallVector<Value> &inputs = found->inputs;
    Value last = found->output;
    int64_t n = attns.size();
    llvm::SmallDenseSet<int64_t> skip;
    for (int64_t l : plan) {
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
                  Builder(&getContext()).getDenseI64ArrayAttr(plan));
  }
};
} // namespace
