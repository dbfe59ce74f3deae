//===- GPUPipeline.h - pipeline stages the GPU backends share ---*- C++ -*-===//
//
// The CUDA and Vulkan pipelines differ only in how kernels are mapped and
// compiled; the bufferization in front and the LLVM lowering of the host
// code behind are the same text.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LOWERING_GPU_GPUPIPELINE_H
#define LLMC_LOWERING_GPU_GPUPIPELINE_H

#include <string>

namespace mlir::llm {

/// From the llm dialect (or, with `fromBufferABI`, from the buffer-ABI
/// module) to bufferized, deallocated functions with scf.parallel loops.
inline std::string gpuBufferizeStages(bool fromBufferABI) {
  return std::string(fromBufferABI ? ""
                                   : "convert-llm-to-linalg,llm-buffer-abi,") +
         "canonicalize,eliminate-empty-tensors,one-shot-bufferize,"
         "canonicalize,cse,canonicalize,"
         "func.func(buffer-deallocation-pipeline),scf-forall-to-parallel,";
}

/// Host code with gpu.launch_func / gpu.alloc (kernels already gpu.binary)
/// to the LLVM dialect, as the CPU backend lowers it, with launches and
/// allocations as calls of the runtime's mgpu* functions.
inline std::string gpuHostToLLVMStages() {
  return "expand-strided-metadata,lower-affine,convert-scf-to-cf,"
         "finalize-memref-to-llvm{use-generic-functions=true},"
         "convert-math-to-llvm,convert-arith-to-llvm,convert-index-to-llvm,"
         "convert-func-to-llvm,convert-cf-to-llvm,gpu-to-llvm,"
         "reconcile-unrealized-casts";
}

} // namespace mlir::llm

#endif
