//===- VulkanPipeline.h - llm -> SPIR-V kernels + host code -----*- C++ -*-===//

#ifndef LLMC_LOWERING_VULKAN_VULKANPIPELINE_H
#define LLMC_LOWERING_VULKAN_VULKANPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include <string>

namespace mlir::llm {

struct VulkanPipelineOptions : PassPipelineOptions<VulkanPipelineOptions> {
  Option<std::string> target{
      *this, "vulkan-target",
      llvm::cl::desc("SPIR-V capabilities the kernels may use: baseline "
                     "(Vulkan 1.1, SPIR-V 1.3, Shader only) or full "
                     "(+ 8/16-bit storage, Float16, Int8/16/64, subgroup "
                     "arithmetic and shuffles)"),
      llvm::cl::init("baseline")};
  Option<int64_t> workgroupSize{
      *this, "workgroup-size",
      llvm::cl::desc("Threads per workgroup along the innermost parallel dim"),
      llvm::cl::init(64)};
  Option<bool> serialize{
      *this, "serialize",
      llvm::cl::desc("Serialize the kernels and lower the host code to LLVM "
                     "(false: stop with spirv.module kernels beside gpu "
                     "dialect host code, for inspection and tests)"),
      llvm::cl::init(true)};
  Option<std::string> dumpDir{
      *this, "dump-dir",
      llvm::cl::desc("Also write each kernel module's SPIR-V here"),
      llvm::cl::init("")};
};

/// The spirv-attach-target options of a --vulkan-target preset; empty if
/// the name is unknown.
std::string vulkanTargetOptions(const std::string &preset);

/// The SPIR-V capabilities a preset declares (recorded in the manifest and
/// checked against the device by the runtime).
std::vector<std::string> vulkanTargetCapabilities(const std::string &preset);

/// Appends the passes from a buffer-ABI module (after convert-llm-to-linalg
/// and llm-buffer-abi) to LLVM-dialect host code launching SPIR-V kernels.
LogicalResult buildLLMToVulkanPipeline(OpPassManager &pm,
                                       const VulkanPipelineOptions &options,
                                       bool fromBufferABI);

/// Registers the `llm-to-vulkan` pipeline.
void registerLLMToVulkanPipeline();

} // namespace mlir::llm

#endif
