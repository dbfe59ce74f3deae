//===- CUDAPipeline.h - llm -> NVVM kernels (PTX/cubin) + host code -*- C++ -*-===//

#ifndef LLMC_LOWERING_CUDA_CUDAPIPELINE_H
#define LLMC_LOWERING_CUDA_CUDAPIPELINE_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include <string>
#include <vector>

namespace mlir::llm {

struct CUDAPipelineOptions : PassPipelineOptions<CUDAPipelineOptions> {
  Option<std::string> archs{
      *this, "cuda-arch",
      llvm::cl::desc("GPU architectures to compile for, comma-separated "
                     "(sm_80, sm_86, sm_89, sm_90); each gets PTX and, with "
                     "ptxas, a cubin; the runtime picks one at load time"),
      llvm::cl::init("sm_80")};
  Option<std::string> ptxas{
      *this, "ptxas",
      llvm::cl::desc("ptxas for the cubins: a path, 'auto' (the CUDA "
                     "toolkit's, see findCUDAToolkit, or PATH's) "
                     "or 'none' (embed PTX only)"),
      llvm::cl::init("auto")};
  Option<std::string> mma{
      *this, "mma",
      llvm::cl::desc("Prefill projections on tensor cores: 3xtf32 (f32 "
                     "accuracy), tf32, or none (SIMT only)"),
      llvm::cl::init("3xtf32")};
  Option<int64_t> workgroupSize{
      *this, "workgroup-size",
      llvm::cl::desc("Threads per workgroup along the innermost parallel dim"),
      llvm::cl::init(64)};
  Option<bool> serialize{
      *this, "serialize",
      llvm::cl::desc("Compile the kernels (PTX, cubin) and lower the host "
                     "code to LLVM (false: stop with NVVM-dialect kernels "
                     "beside gpu-dialect host code, for inspection and tests)"),
      llvm::cl::init(true)};
  Option<std::string> dumpDir{
      *this, "dump-dir",
      llvm::cl::desc("Also write each kernel module's PTX and cubins here"),
      llvm::cl::init("")};
};

/// The architectures of a --cuda-arch list; an error message (in `error`)
/// if one is not sm_XY with XY >= 80 (tensor-core MMA and PTX 8.0 need
/// Ampere or newer).
std::vector<std::string> parseCUDAArchs(const std::string &list,
                                        std::string &error);

/// The CUDA toolkit (for libdevice and ptxas): $CUDA_PATH, $CUDA_HOME,
/// $CUDA_ROOT, /usr/local/cuda, or the one ptxas on PATH belongs to; "" if
/// none.
std::string findCUDAToolkit();

/// The ptxas a `ptxas` option names ("" for none, or if 'auto' finds none).
std::string findPtxas(const std::string &option);

/// Appends the passes from the llm dialect (or, with `fromBufferABI`, from
/// the buffer-ABI module) to LLVM-dialect host code launching NVVM kernels.
LogicalResult buildLLMToCUDAPipeline(OpPassManager &pm,
                                     const CUDAPipelineOptions &options,
                                     bool fromBufferABI, std::string &error);

/// Registers the `llm-to-cuda` pipeline.
void registerLLMToCUDAPipeline();

} // namespace mlir::llm

#endif
