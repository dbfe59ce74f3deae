//===- GPUHost.cpp - mgpu* entry points for compiled GPU host code --------===//
//
// Signatures as MLIR's gpu-to-llvm emits them (and its CUDA runtime
// wrappers define them). Streams are the backend's single in-order queue:
// work is recorded and submitted when the device's call returns, so the
// stream functions only hand out a token.
//
//===----------------------------------------------------------------------===//

#include "runtime/devices/gpu/GPUHost.h"
#include <cstdio>

using llmc::runtime::gpu::Backend;
using llmc::runtime::gpu::currentBackend;

Backend *&llmc::runtime::gpu::currentBackend() {
  static thread_local Backend *backend = nullptr;
  return backend;
}

namespace {
Backend *backend(const char *fn) {
  Backend *b = currentBackend();
  if (!b)
    std::fprintf(stderr, "llmc: %s called outside a GPU device call\n", fn);
  return b;
}
int streamToken;
} // namespace

#define LLMC_GPU_EXPORT extern "C" __attribute__((visibility("default")))

LLMC_GPU_EXPORT void *mgpuModuleLoad(void *data, size_t size) {
  Backend *b = backend("mgpuModuleLoad");
  return b ? b->moduleLoad(data, size) : nullptr;
}

LLMC_GPU_EXPORT void mgpuModuleUnload(void *module) {
  // Modules live as long as their device; unloading at dlclose is a no-op.
  (void)module;
}

LLMC_GPU_EXPORT void *mgpuModuleGetFunction(void *module, const char *name) {
  Backend *b = backend("mgpuModuleGetFunction");
  return b ? b->getFunction(module, name) : nullptr;
}

LLMC_GPU_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                      intptr_t gridY, intptr_t gridZ,
                                      intptr_t blockX, intptr_t blockY,
                                      intptr_t blockZ, int32_t smem,
                                      void *stream, void **params,
                                      void **extra, size_t paramCount) {
  (void)smem, (void)stream, (void)extra;
  if (Backend *b = backend("mgpuLaunchKernel")) {
    const int64_t grid[3] = {gridX, gridY, gridZ};
    const int64_t block[3] = {blockX, blockY, blockZ};
    b->launch(function, grid, block, params, paramCount);
  }
}

LLMC_GPU_EXPORT void *mgpuStreamCreate() { return &streamToken; }
LLMC_GPU_EXPORT void mgpuStreamDestroy(void *) {}
LLMC_GPU_EXPORT void mgpuStreamSynchronize(void *) {}

LLMC_GPU_EXPORT void *mgpuMemAlloc(uint64_t bytes, void *stream,
                                   bool hostShared) {
  (void)stream, (void)hostShared;
  Backend *b = backend("mgpuMemAlloc");
  return b ? b->allocate(bytes) : nullptr;
}

LLMC_GPU_EXPORT void mgpuMemFree(void *pointer, void *stream) {
  (void)stream;
  if (Backend *b = backend("mgpuMemFree"))
    b->release(pointer);
}
