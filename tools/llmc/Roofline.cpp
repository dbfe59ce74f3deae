//===- Roofline.cpp - per-op roofline rows of a model ---------------------===//

#include "Roofline.h"
#include "Compile.h"
#include "importers/BuildIR.h"
#include "dialects/llm/LLMOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace llmc;

double llmc::rooflineField(mlir::DictionaryAttr dict, StringRef key) {
  mlir::Attribute a = dict ? dict.get(key) : mlir::Attribute();
  if (auto i = dyn_cast_or_null<mlir::IntegerAttr>(a))
    return double(i.getInt());
  if (auto f = dyn_cast_or_null<mlir::FloatAttr>(a))
    return f.getValueAsDouble();
  return 0.0;
}

Expected<mlir::OwningOpRef<mlir::ModuleOp>>
llmc::loadAnalysisModule(mlir::MLIRContext &context, StringRef input) {
  if (sys::path::extension(input) == ".mlir")
    return parseModuleFile(context, input);
  prepareContext(context);
  auto source = openModel(input, "");
  if (!source)
    return source.takeError();
  return buildModule(context, **source);
}

Expected<std::vector<RooflineRow>>
llmc::analyzeRoofline(mlir::ModuleOp module,
                      const mlir::llm::RooflineOptions &options,
                      StringRef input) {
  mlir::PassManager pm(module.getContext());
  pm.addPass(mlir::llm::createRoofline(options));
  if (failed(pm.run(module)))
    return fileError(input, "roofline analysis failed (see above)");
  std::vector<RooflineRow> rows;
  int64_t currentLayer = -1;
  module->walk([&](mlir::Operation *op) {
    auto attr = op->getAttrOfType<mlir::DictionaryAttr>("llm.roofline");
    if (!attr)
      return;
    auto num = [&](StringRef key) { return rooflineField(attr, key); };
    RooflineRow r;
    r.op = op->getName().getStringRef().str();
    r.weight = mlir::llm::weightLabel(op);
    StringRef weight = r.weight;
    // GPT-2 names its layers "transformer.h.3." (or "h.3.").
    StringRef gpt2 = weight.starts_with("h.") ? weight.drop_front(2)
                                              : weight.split(".h.").second;
    if (auto a = dyn_cast<mlir::llm::AttentionOp>(op))
      currentLayer = a.getLayer();
    else if (!weight.empty() && !weight.contains("layers.") &&
             !weight.starts_with("blk.") && gpt2.empty())
      currentLayer = -1; // embedding, final norm, classifier
    else if (!weight.empty()) {
      // "model.layers.3.mlp..." / "layers.3...." / "blk.3...." / "h.3...."
      StringRef rest = weight.starts_with("blk.")   ? weight.drop_front(4)
                       : weight.contains("layers.") ? weight.split("layers.").second
                                                    : gpt2;
      int64_t l;
      if (!rest.split('.').first.getAsInteger(10, l))
        currentLayer = l;
    }
    r.layer = currentLayer;
    r.flops = num("flops");
    r.weightBytes = num("weight_bytes");
    r.actLoadBytes = num("act_load_bytes");
    r.actStoreBytes = num("act_store_bytes");
    r.kvLoadBytes = num("kv_load_bytes");
    r.kvStoreBytes = num("kv_store_bytes");
    r.intensity = num("intensity");
    r.attainableFlops = num("attainable_flops");
    r.timeS = num("time_s");
    if (auto b = attr.getAs<mlir::StringAttr>("bound"))
      r.bound = b.getValue().str();
    rows.push_back(std::move(r));
  });
  return rows;
}
