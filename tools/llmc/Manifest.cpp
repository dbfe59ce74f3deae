//===- Manifest.cpp - the artifact manifest's parts -----------------------===//

#include "Manifest.h"
#include "lowering/cuda/CUDAPipeline.h"
#include "lowering/vulkan/VulkanPipeline.h"
#include "runtime/src/ArtifactFormat.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

json::Value llmc::toJSON(mlir::Attribute a) {
  if (auto i = dyn_cast<mlir::IntegerAttr>(a))
    return i.getType().isInteger(1) ? json::Value(i.getValue().getBoolValue())
                                    : json::Value(i.getInt());
  if (auto b = dyn_cast<mlir::BoolAttr>(a))
    return b.getValue();
  if (auto f = dyn_cast<mlir::FloatAttr>(a))
    return f.getValueAsDouble();
  if (auto s = dyn_cast<mlir::StringAttr>(a))
    return s.getValue().str();
  if (auto arr = dyn_cast<mlir::ArrayAttr>(a)) {
    json::Array out;
    for (mlir::Attribute e : arr)
      out.push_back(toJSON(e));
    return out;
  }
  if (auto d = dyn_cast<mlir::DictionaryAttr>(a)) {
    json::Object out;
    for (mlir::NamedAttribute n : d)
      out[n.getName().getValue()] = toJSON(n.getValue());
    return out;
  }
  std::string s;
  raw_string_ostream(s) << a;
  return s;
}

json::Object llmc::targetManifest(const CompileOptions &options,
                                  const TargetFacts &facts) {
  // Flash attention is selected at -O2 for the CPU only (the GPU backends
  // lower the reference attention).
  bool flash = options.optLevel >= 2 && options.llmOptimize &&
               options.target == "cpu";
  json::Object target{
      {"kind", options.target},
      {"arch", facts.arch},
      {"cpu", options.cpu},
      {"opt_level", options.optLevel},
      {"llm_optimize", options.optLevel >= 1 && options.llmOptimize},
      {"outline_layers", options.outlineLayers && options.target == "cpu" &&
                             !options.profile},
      {"quant", options.quant.empty()
                    ? std::string("none")
                    : options.quant + (options.quantAsymmetric ? "-asym" : "") +
                          (options.quantClip ? "-clip" : "")},
      {"kv_cache", options.kvCache},
      {"skipped_layers", toArray(options.skipLayers)},
      {"early_exit", options.earlyExit.empty()
                         ? json::Value(nullptr)
                         : json::Value(options.earlyExit)},
      {"attention", flash ? json::Value(json::Object{
                                {"kernel", "flash"},
                                {"decode_splits", options.decodeSplits},
                                {"softmax", options.decodeSoftmax}})
                          : json::Value(json::Object{{"kernel", "reference"}})},
      {"triple", facts.triple},
      {"features", toArray(facts.features)},
      {"code", facts.linkedCode ? "linked" : "code.cpu"}};
  if (!facts.linkedCode)
    target["code_section"] = "code.cpu";
  if (options.target == "vulkan")
    target["vulkan"] = json::Object{
        {"preset", options.vulkanTarget},
        {"spirv", "1.3"},
        {"capabilities",
         toArray(mlir::llm::vulkanTargetCapabilities(options.vulkanTarget))},
        {"kernel_modules", facts.kernelModules}};
  if (options.target == "cuda") {
    std::string error;
    target["cuda"] = json::Object{
        {"archs", toArray(mlir::llm::parseCUDAArchs(options.cudaArch, error))},
        {"ptx", "8.0"},
        {"cubin", !mlir::llm::findPtxas("auto").empty()},
        {"mma", options.cudaMMA},
        {"kernel_modules", facts.kernelModules}};
  }
  return target;
}

json::Array llmc::entryPointsManifest(bool kvInt8) {
  return json::Array{json::Object{
      {"name", "forward"},
      {"symbol", "_mlir_ciface_forward"},
      {"abi", artifact::kEntryABI},
      {"args", json::Array{"tokens: i32[n]", "start_pos: i64",
                           kvInt8 ? "kv_cache: i8[kv_cache.shape]"
                                  : "kv_cache: f32[kv_cache.shape]",
                           "num_logits: i64 (1..n, the last positions)",
                           "weights: u8[weights.bytes]",
                           "logits: f32[num_logits, vocab_size]"}}}};
}

/// The kv_cache section's layout, in words (see cacheTensorType).
static std::string kvCacheLayout(ArrayRef<int64_t> shape, bool kvInt8) {
  bool shared = shape.size() == 5 && shape[1] == 1;
  std::string s = shared ? "layers, 1 (shared: one vector per position is "
                           "key and value), kv_heads, capacity, head_dim"
                         : "layers, k|v, kv_heads, capacity, head_dim";
  if (kvInt8)
    return s + " + 4; every (layer, k|v, head) holds capacity rows of "
               "head_dim int8 values followed by their f32 scale";
  s += shared ? "; rows of capacity x head_dim"
              : "; a layer's keys are stored transposed (head_dim x "
                "capacity), its values as rows (capacity x head_dim)";
  return s + "; state_layers more slots hold early exit's pending hidden "
             "states and per-layer fill counters (kv-policy=recompute), "
             "zero-filled at session start";
}

json::Object llmc::kvCacheManifest(ArrayRef<int64_t> shape, bool kvInt8,
                                   int64_t stateLayers) {
  return json::Object{
      {"shape", toArray(shape)},
      {"dtype", kvInt8 ? "i8" : "f32"},
      {"state_layers", stateLayers},
      {"layout", kvCacheLayout(shape, kvInt8)}};
}
