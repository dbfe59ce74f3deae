//===- CUDADriver.h - the CUDA driver API, dlopened -------------*- C++ -*-===//
//
// The runtime builds and loads without CUDA: libcuda.so.1 (the driver's
// library, not the toolkit's) is opened on first use and the few driver
// API functions the device needs are looked up by name. The declarations
// follow cuda.h (driver API, CUDA 12/13, 64-bit); LLMC_CUDA_LIBRARY names
// another library (tests use a fake driver).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_DEVICES_CUDA_CUDADRIVER_H
#define LLMC_RUNTIME_DEVICES_CUDA_CUDADRIVER_H

#include <cstddef>
#include <cstdlib>
#include <dlfcn.h>
#include <string>

namespace llmc::runtime::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;
using CUgraphNode = struct CUgraphNode_st *;

/// cuGraphExecUpdate's report (CUgraphExecUpdateResultInfo).
struct GraphUpdateInfo {
  int result;
  CUgraphNode errorNode, errorFromNode;
};

constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr int CU_JIT_ERROR_LOG_BUFFER = 5;
constexpr int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
constexpr unsigned CU_STREAM_NON_BLOCKING = 1;
constexpr int CU_STREAM_CAPTURE_MODE_RELAXED = 2;

// X(name, symbol, return, parameters)
#define LLMC_CUDA_FNS(X)                                                       \
  X(cuInit, "cuInit", CUresult, (unsigned))                                    \
  X(cuDriverGetVersion, "cuDriverGetVersion", CUresult, (int *))               \
  X(cuDeviceGetCount, "cuDeviceGetCount", CUresult, (int *))                   \
  X(cuDeviceGet, "cuDeviceGet", CUresult, (CUdevice *, int))                   \
  X(cuDeviceGetName, "cuDeviceGetName", CUresult, (char *, int, CUdevice))     \
  X(cuDeviceGetAttribute, "cuDeviceGetAttribute", CUresult,                    \
    (int *, int, CUdevice))                                                    \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", CUresult, (size_t *, CUdevice))   \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", CUresult,            \
    (CUcontext *, CUdevice))                                                   \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", CUresult,       \
    (CUdevice))                                                                \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", CUresult, (CUcontext))                 \
  X(cuModuleLoadDataEx, "cuModuleLoadDataEx", CUresult,                        \
    (CUmodule *, const void *, unsigned, int *, void **))                      \
  X(cuModuleUnload, "cuModuleUnload", CUresult, (CUmodule))                    \
  X(cuModuleGetFunction, "cuModuleGetFunction", CUresult,                      \
    (CUfunction *, CUmodule, const char *))                                    \
  X(cuLaunchKernel, "cuLaunchKernel", CUresult,                                \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,   \
     unsigned, CUstream, void **, void **))                                    \
  X(cuMemAlloc, "cuMemAlloc_v2", CUresult, (CUdeviceptr *, size_t))            \
  X(cuMemFree, "cuMemFree_v2", CUresult, (CUdeviceptr))                        \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", CUresult,                       \
    (CUdeviceptr, const void *, size_t, CUstream))                             \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", CUresult,                       \
    (void *, CUdeviceptr, size_t, CUstream))                                   \
  X(cuMemsetD8Async, "cuMemsetD8Async", CUresult,                              \
    (CUdeviceptr, unsigned char, size_t, CUstream))                            \
  X(cuStreamCreate, "cuStreamCreate", CUresult, (CUstream *, unsigned))        \
  X(cuStreamDestroy, "cuStreamDestroy_v2", CUresult, (CUstream))               \
  X(cuStreamSynchronize, "cuStreamSynchronize", CUresult, (CUstream))          \
  X(cuGetErrorString, "cuGetErrorString", CUresult, (CUresult, const char **))

// CUDA graphs (CUDA 12+ drivers); optional: without them launches go to the
// stream one by one.
#define LLMC_CUDA_GRAPH_FNS(X)                                                 \
  X(cuStreamBeginCapture, "cuStreamBeginCapture_v2", CUresult,                 \
    (CUstream, int))                                                           \
  X(cuStreamEndCapture, "cuStreamEndCapture", CUresult, (CUstream, CUgraph *)) \
  X(cuGraphInstantiate, "cuGraphInstantiateWithFlags", CUresult,               \
    (CUgraphExec *, CUgraph, unsigned long long))                              \
  X(cuGraphExecUpdate, "cuGraphExecUpdate_v2", CUresult,                       \
    (CUgraphExec, CUgraph, GraphUpdateInfo *))                                 \
  X(cuGraphLaunch, "cuGraphLaunch", CUresult, (CUgraphExec, CUstream))         \
  X(cuGraphDestroy, "cuGraphDestroy", CUresult, (CUgraph))                     \
  X(cuGraphExecDestroy, "cuGraphExecDestroy", CUresult, (CUgraphExec))

/// The driver library and its functions.
struct Driver {
#define X(name, sym, ret, params) ret(*name) params = nullptr;
  LLMC_CUDA_FNS(X)
  LLMC_CUDA_GRAPH_FNS(X)
#undef X
  void *handle = nullptr;
  bool hasGraphs = false;

  ~Driver() {
    if (handle)
      dlclose(handle);
  }

  /// Opens the library and initializes the driver; "" or why it cannot
  /// ("no CUDA driver: ..." / "no CUDA device ...").
  std::string open() {
    const char *env = std::getenv("LLMC_CUDA_LIBRARY");
    std::string lib = env && *env ? env : "libcuda.so.1";
    handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char *why = dlerror();
      return "no CUDA driver (" + (why ? std::string(why) : lib + ": cannot load") +
             "; install the NVIDIA driver)";
    }
#define X(name, sym, ret, params)                                              \
  name = reinterpret_cast<ret(*) params>(dlsym(handle, sym));                  \
  if (!name)                                                                   \
    return "no CUDA driver (" + lib + " lacks " + sym + ")";
    LLMC_CUDA_FNS(X)
#undef X
    hasGraphs = true;
#define X(name, sym, ret, params)                                              \
  name = reinterpret_cast<ret(*) params>(dlsym(handle, sym));                  \
  hasGraphs = hasGraphs && name;
    LLMC_CUDA_GRAPH_FNS(X)
#undef X
    CUresult r = cuInit(0);
    if (r == CUDA_ERROR_NO_DEVICE)
      return "no CUDA device (the driver found none)";
    if (r != CUDA_SUCCESS)
      return "no CUDA device (cuInit: " + errorString(r) + ")";
    int count = 0;
    if (cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0)
      return "no CUDA device (the driver found none)";
    return "";
  }

  std::string errorString(CUresult r) const {
    const char *s = nullptr;
    if (cuGetErrorString && cuGetErrorString(r, &s) == CUDA_SUCCESS && s)
      return s + (" (CUresult " + std::to_string(r) + ")");
    return "CUresult " + std::to_string(r);
  }

  /// "sm_XY" of a device.
  std::string arch(CUdevice d) const {
    int major = 0, minor = 0;
    cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d);
    cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d);
    return "sm_" + std::to_string(major) + std::to_string(minor);
  }
};

} // namespace llmc::runtime::cuda

#endif
