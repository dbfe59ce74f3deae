//===- VulkanPipeline.cpp - llm -> SPIR-V kernels + host code -------------===//
//
// The host function stays LLVM code (emitted like the CPU backend's); every
// buffer access moves into SPIR-V kernels it launches through the runtime's
// mgpu* functions, which the Vulkan device implements:
//
//   bufferize -> llm-gpu-map-loops -> convert-parallel-loops-to-gpu ->
//   gpu-kernel-outlining -> llm-gpu-kernel-abi -> convert-gpu-to-spirv ->
//   llm-vulkan-serialize (gpu.binary) -> gpu-to-llvm + LLVM lowering
//
//===----------------------------------------------------------------------===//

#include "lowering/vulkan/VulkanPipeline.h"
#include "lowering/gpu/GPUPipeline.h"
#include "passes/Passes.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include <mutex>

using namespace mlir;

namespace {
const char *kBaselineCaps = "Shader";
const char *kFullCaps =
    "Shader,Float16,Int8,Int16,Int64,StorageBuffer16BitAccess,"
    "StorageBuffer8BitAccess,GroupNonUniform,GroupNonUniformArithmetic,"
    "GroupNonUniformShuffle";
const char *kBaselineExts = "SPV_KHR_storage_buffer_storage_class";
const char *kFullExts = "SPV_KHR_storage_buffer_storage_class,"
                        "SPV_KHR_16bit_storage,SPV_KHR_8bit_storage";
} // namespace

std::string mlir::llm::vulkanTargetOptions(const std::string &preset) {
  auto opts = [](const char *caps, const char *exts) {
    return std::string("ver=v1.3 client_api=Vulkan caps=") + caps +
           " exts=" + exts;
  };
  if (preset == "baseline")
    return opts(kBaselineCaps, kBaselineExts);
  if (preset == "full")
    return opts(kFullCaps, kFullExts);
  return "";
}

std::vector<std::string>
mlir::llm::vulkanTargetCapabilities(const std::string &preset) {
  std::vector<std::string> caps;
  StringRef list = preset == "full" ? kFullCaps : kBaselineCaps;
  SmallVector<StringRef> parts;
  list.split(parts, ',');
  for (StringRef p : parts)
    caps.push_back(p.str());
  return caps;
}

LogicalResult
mlir::llm::buildLLMToVulkanPipeline(OpPassManager &pm,
                                    const VulkanPipelineOptions &o,
                                    bool fromBufferABI) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    registerAllPasses();
    registerLLMPasses();
  });
  std::string target = vulkanTargetOptions(o.target);
  if (target.empty())
    return failure();
  std::string p;
  llvm::raw_string_ostream os(p);
  os << gpuBufferizeStages(fromBufferABI)
     << "func.func(llm-gpu-map-loops{workgroup-size=" << o.workgroupSize << "}"
     << ",convert-parallel-loops-to-gpu),canonicalize,"
     << "func.func(gpu-launch-sink-index-computations),gpu-kernel-outlining,"
     << "llm-gpu-kernel-abi,gpu.module(lower-affine,canonicalize,cse),"
     << "spirv-attach-target{" << target << "},"
     << "gpu.module(convert-math-to-spirv),convert-gpu-to-spirv,"
     << "spirv.module(spirv-lower-abi-attrs,spirv-update-vce,canonicalize),"
     // The host code (launch operands: strided metadata, extents).
     << "func.func(canonicalize,cse)";
  if (!o.serialize)
    return parsePassPipeline(p, pm);
  os << ",llm-vulkan-serialize{dump-dir=" << o.dumpDir << "},"
     << gpuHostToLLVMStages();
  return parsePassPipeline(p, pm);
}

void mlir::llm::registerLLMToVulkanPipeline() {
  PassPipelineRegistration<VulkanPipelineOptions>(
      "llm-to-vulkan",
      "Lower an llm-dialect model to SPIR-V kernels (Vulkan) and LLVM host "
      "code launching them",
      [](OpPassManager &pm, const VulkanPipelineOptions &o) {
        (void)buildLLMToVulkanPipeline(pm, o, /*fromBufferABI=*/false);
      });
}
