//===- CPUPipeline.h - llm -> LLVM for the host CPU -------------*- C++ -*-===//

#ifndef LLMC_LOWERING_CPU_CPUPIPELINE_H
#define LLMC_LOWERING_CPU_CPUPIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include <string>
#include <vector>

namespace mlir::llm {

struct CPUPipelineOptions : PassPipelineOptions<CPUPipelineOptions> {
  Option<bool> parallel{*this, "parallel",
                        llvm::cl::desc("Run parallel loops on all cores (OpenMP)"),
                        llvm::cl::init(true)};
  Option<bool> profile{*this, "profile",
                       llvm::cl::desc("Per-op timers (llmc bench --profile)"),
                       llvm::cl::init(false)};
  Option<bool> vectorize{*this, "vectorize",
                         llvm::cl::desc("Tile and vectorize linalg ops"),
                         llvm::cl::init(true)};
  Option<bool> vnni{*this, "vnni",
                    llvm::cl::desc("The target has AVX(512)-VNNI byte dot "
                                   "products (see targetHasVNNI)"),
                    llvm::cl::init(false)};
};

/// Whether `cpu` ("" or "native": the host) has AVX-VNNI or AVX512-VNNI
/// (with AVX512VL), i.e. the 256-bit vpdpbusd.
bool targetHasVNNI(llvm::StringRef cpu);

/// Every dialect, interface model and extension the pipeline touches (append
/// to a context before loading or parsing the module).
void registerCPUPipelineDialects(DialectRegistry &registry);

/// Registers the `llm-to-cpu` pipeline.
void registerLLMToCPUPipeline();

/// Which part of llm-to-cpu to build: the tensor lowering up to the buffer
/// ABI (after which the entry carries its weight layout), the rest, or both.
enum class CPUPipelineStage { ToBufferABI, FromBufferABI, All };

/// Appends llm dialect -> LLVM dialect passes for the CPU to `pm`.
LogicalResult buildLLMToCPUPipeline(OpPassManager &pm,
                                    const CPUPipelineOptions &options,
                                    CPUPipelineStage stage =
                                        CPUPipelineStage::All);

/// Translates an LLVM-dialect module to LLVM IR, optimizes it at `optLevel`
/// for `cpu` ("" or "native" = the host CPU with all its features) and emits a
/// relocatable object into `object`. `arch` gets the architecture name and
/// `features` the CPU features the code may use that a runtime must check
/// (see runtime/src/ArtifactFormat.h). Returns an error message on failure.
std::string emitCPUObject(ModuleOp module, llvm::StringRef cpu, int optLevel,
                          std::string &object, std::string &arch,
                          std::vector<std::string> &features);

/// Links a relocatable object into a shared library with ld.lld.
std::string linkSharedObject(llvm::StringRef objectPath,
                             llvm::StringRef outputPath);

} // namespace mlir::llm

#endif
