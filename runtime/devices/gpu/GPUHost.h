//===- GPUHost.h - the mgpu* calls of compiled GPU host code ----*- C++ -*-===//
//
// GPU artifacts carry host code (LLVM, like the CPU backend's) that MLIR's
// gpu-to-llvm lowered to calls of the mgpu* functions (module load, kernel
// launch, allocation, streams). The runtime defines them (GPUHost.cpp) and
// forwards each to the GPU backend current on the calling thread: the
// device loading or running the artifact sets it for the duration of the
// call (dlopen runs the module-load constructors; forward runs launches).
// Those C functions cannot return a status: a backend keeps the first error
// and reports it when the call returns.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_DEVICES_GPU_GPUHOST_H
#define LLMC_RUNTIME_DEVICES_GPU_GPUHOST_H

#include <cstddef>
#include <cstdint>

namespace llmc::runtime::gpu {

class Backend {
public:
  virtual ~Backend() = default;
  virtual void *moduleLoad(const void *data, size_t size) = 0;
  virtual void moduleUnload(void *module) = 0;
  virtual void *getFunction(void *module, const char *name) = 0;
  virtual void launch(void *function, const int64_t grid[3],
                      const int64_t block[3], void **params,
                      size_t paramCount) = 0;
  virtual void *allocate(uint64_t bytes) = 0;
  virtual void release(void *pointer) = 0;
};

/// The backend of the calling thread (null outside a GPU device's call).
Backend *&currentBackend();

/// Sets the current backend for a scope.
class ScopedBackend {
public:
  explicit ScopedBackend(Backend *b) : saved(currentBackend()) {
    currentBackend() = b;
  }
  ~ScopedBackend() { currentBackend() = saved; }

private:
  Backend *saved;
};

} // namespace llmc::runtime::gpu

#endif
