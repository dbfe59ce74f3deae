//===- Layers.cpp - the decoder-layer structure of an imported graph ------===//
//
// Shared by the passes that work on whole layers (llm-skip-layers,
// llm-observe-layers, llm-place-experts): each layer's attention and input,
// the hidden state the final head reads, and the layer of each llm.moe.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::llm;

FailureOr<DecoderLayers> mlir::llm::findDecoderLayers(func::FuncOp func,
                                                      StringRef pass) {
  if (func.isExternal() || !func.getBody().hasOneBlock())
    return func.emitError() << pass << ": expected a single-block 'forward'";
  DecoderLayers d;
  Block &body = func.getBody().front();
  for (Operation &op : body)
    if (auto a = dyn_cast<AttentionOp>(op)) {
      Value in = layerInput(a);
      if (a.getLayer() != d.attentions.size() || !in)
        return a.emitError() << pass
                             << ": expected layers 0, 1, ... in order, each "
                                "rms_norm -> projection -> rope -> attention";
      d.attentions.push_back(a);
      d.inputs.push_back(in);
    }
  // The hidden state after the last layer: the final norm's input.
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value logits = ret.getNumOperands() ? ret.getOperand(0) : Value();
  auto cls = logits ? logits.getDefiningOp<LinearOp>() : nullptr;
  auto finalNorm = cls ? cls.getInput().getDefiningOp<RMSNormOp>() : nullptr;
  d.finalNorm = finalNorm;
  d.classifier = cls;
  d.output = finalNorm ? finalNorm.getInput() : Value();
  while (d.output && d.output.getDefiningOp<tensor::ExtractSliceOp>())
    d.output = d.output.getDefiningOp<tensor::ExtractSliceOp>().getSource();
  if (!d.output)
    return func.emitError() << pass
                            << ": the logits must be linear(rms_norm(x), "
                               "classifier)";
  if (d.attentions.empty())
    return func.emitError() << pass << ": the model has no decoder layer";
  return d;
}

SmallVector<std::pair<int64_t, MoEOp>>
mlir::llm::findMoELayers(Operation *root) {
  SmallVector<std::pair<int64_t, MoEOp>> found;
  int64_t layer = -1;
  root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (auto a = dyn_cast<AttentionOp>(op))
      layer = a.getLayer();
    else if (auto m = dyn_cast<MoEOp>(op))
      found.push_back({layer, m});
  });
  return found;
}
