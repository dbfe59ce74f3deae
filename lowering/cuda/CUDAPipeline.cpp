//===- CUDAPipeline.cpp - llm -> NVVM kernels (PTX/cubin) + host code -----===//
//
// As the Vulkan backend, the host function stays LLVM code that launches
// kernels through the runtime's mgpu* functions (here backed by the CUDA
// driver API); the kernels become NVVM, then PTX per --cuda-arch:
//
//   bufferize -> llm-gpu-mma (prefill on tensor cores) ->
//   llm-gpu-map-loops (GEMV with warp-shuffle all-reduce, 128-bit loads) ->
//   convert-parallel-loops-to-gpu -> gpu-kernel-outlining ->
//   llm-gpu-merge-modules (one module) -> nvvm-attach-target (per arch) -> convert-nvgpu/gpu-to-nvvm ->
//   gpu-module-to-binary (PTX) -> llm-cuda-bundle (ptxas: cubins) ->
//   gpu-to-llvm + LLVM lowering of the host code
//
//===----------------------------------------------------------------------===//

#include "lowering/cuda/CUDAPipeline.h"
#include "lowering/gpu/GPUPipeline.h"
#include "passes/Passes.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include <cstdlib>
#include <mutex>

using namespace mlir;

std::vector<std::string> mlir::llm::parseCUDAArchs(const std::string &list,
                                                   std::string &error) {
  std::vector<std::string> archs;
  SmallVector<StringRef> parts;
  StringRef(list).split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef p : parts) {
    p = p.trim();
    unsigned sm = 0;
    if (!p.starts_with("sm_") || p.drop_front(3).getAsInteger(10, sm) ||
        sm < 80) {
      error = "unknown CUDA architecture '" + p.str() +
              "' (sm_80, sm_86, sm_89, sm_90, ...: Ampere or newer)";
      return {};
    }
    if (llvm::find(archs, p.str()) == archs.end())
      archs.push_back(p.str());
  }
  if (archs.empty())
    error = "no CUDA architecture given";
  return archs;
}

std::string mlir::llm::findCUDAToolkit() {
  for (const char *env : {"CUDA_PATH", "CUDA_HOME", "CUDA_ROOT"})
    if (const char *p = std::getenv(env))
      if (*p && llvm::sys::fs::is_directory(p))
        return p;
  if (llvm::sys::fs::is_directory("/usr/local/cuda"))
    return "/usr/local/cuda";
  // The toolkit ptxas on PATH belongs to.
  if (auto p = llvm::sys::findProgramByName("ptxas"))
    return llvm::sys::path::parent_path(llvm::sys::path::parent_path(*p)).str();
  return "";
}

std::string mlir::llm::findPtxas(const std::string &option) {
  if (option == "none")
    return "";
  if (option != "auto")
    return option;
  std::string toolkit = findCUDAToolkit();
  if (!toolkit.empty() && llvm::sys::fs::can_execute(toolkit + "/bin/ptxas"))
    return toolkit + "/bin/ptxas";
  if (auto p = llvm::sys::findProgramByName("ptxas"))
    return *p;
  return "";
}

LogicalResult mlir::llm::buildLLMToCUDAPipeline(OpPassManager &pm,
                                                const CUDAPipelineOptions &o,
                                                bool fromBufferABI,
                                                std::string &error) {
  static std::once_flag registered;
  std::call_once(registered, [] {
    registerAllPasses();
    registerLLMPasses();
  });
  std::vector<std::string> archs = parseCUDAArchs(o.archs, error);
  if (archs.empty())
    return failure();
  if (o.mma != "3xtf32" && o.mma != "tf32" && o.mma != "none") {
    error = "unknown mma '" + o.mma + "' (3xtf32, tf32, none)";
    return failure();
  }
  std::string p;
  llvm::raw_string_ostream os(p);
  os << gpuBufferizeStages(fromBufferABI) << "func.func(";
  if (o.mma != "none")
    os << "llm-gpu-mma{precision=" << o.mma << "},";
  os << "llm-gpu-map-loops{workgroup-size=" << o.workgroupSize
     << " reduction=all-reduce vector-width=4},"
     << "convert-parallel-loops-to-gpu),canonicalize,"
     << "func.func(gpu-launch-sink-index-computations),gpu-kernel-outlining,"
     << "llm-gpu-merge-modules,gpu.module(expand-strided-metadata,lower-affine,convert-scf-to-cf,"
     << "canonicalize,cse),";
  // PTX 8.0 (CUDA 12) for every target: sm_90 needs it.
  for (const std::string &a : archs)
    os << "nvvm-attach-target{chip=" << a << " features=+ptx80 O=3},";
  os << "gpu.module(convert-nvgpu-to-nvvm,convert-gpu-to-nvvm,"
     << "llvm-optimize-for-nvvm-target,canonicalize,cse,"
     << "reconcile-unrealized-casts),"
     << "func.func(canonicalize,cse)";
  if (o.serialize)
    // The toolkit's libdevice is linked for the math functions.
    os << ",gpu-module-to-binary{format=isa toolkit=" << findCUDAToolkit()
       << "},llm-cuda-bundle{ptxas="
       << findPtxas(o.ptxas) << " dump-dir=" << o.dumpDir << "},"
       << gpuHostToLLVMStages();
  if (failed(parsePassPipeline(p, pm))) {
    error = "invalid CUDA pass pipeline";
    return failure();
  }
  return success();
}

void mlir::llm::registerLLMToCUDAPipeline() {
  // Registered by hand (not PassPipelineRegistration) so that a bad option
  // value (an unknown architecture) fails the pipeline with its message.
  registerPassPipeline(
      "llm-to-cuda",
      "Lower an llm-dialect model to NVVM kernels (PTX, cubin per "
      "--cuda-arch) and LLVM host code launching them",
      [](OpPassManager &pm, StringRef text,
         function_ref<LogicalResult(const Twine &)> errorHandler) {
        CUDAPipelineOptions o;
        if (failed(o.parseFromString(text)))
          return failure();
        std::string error;
        if (failed(buildLLMToCUDAPipeline(pm, o, /*fromBufferABI=*/false,
                                          error)))
          return errorHandler("llm-to-cuda: " + error);
        return success();
      },
      [](function_ref<void(const mlir::detail::PassOptions &)> optHandler) {
        optHandler(CUDAPipelineOptions());
      });
}
