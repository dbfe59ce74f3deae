//===- llmc-opt.cpp - the llmc optimizer driver ---------------------------===//
//
// mlir-opt with every upstream dialect, pass and extension plus the llm
// dialect and llmc's passes.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "lowering/cpu/CPUPipeline.h"
#include "lowering/cuda/CUDAPipeline.h"
#include "lowering/vulkan/VulkanPipeline.h"
#include "passes/Passes.h"
#include "passes/Optimize.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::llm::registerLLMPasses();
  mlir::llm::registerLLMToCPUPipeline();
  mlir::llm::registerLLMToVulkanPipeline();
  mlir::llm::registerLLMToCUDAPipeline();
  mlir::llm::registerLLMOptimizePipeline();

  mlir::DialectRegistry registry;
  mlir::llm::registerCPUPipelineDialects(registry);

  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "llmc optimizer driver: the llm dialect and its passes\n",
      registry));
}
