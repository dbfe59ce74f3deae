//===- FakeCUDADriver.cpp - a libcuda stand-in for the runtime's tests ----===//
//
// Implements the driver API functions the CUDA device looks up, on the CPU
// and without running anything: memory is host memory, copies are memcpy,
// a module "loads" if its image looks like PTX or a cubin (ELF), a launch
// is checked for parameters, and stream capture records launches into a
// graph (an executable graph updates when the node count is unchanged). LLMC_FAKE_CUDA_ARCH picks the one device's
// architecture (sm_XY) or "none" (cuInit reports no device). This proves
// the host side (driver loading, image choice, module loading from the
// host code's constructors, allocation, launches, copies) where no GPU is.
//
//===----------------------------------------------------------------------===//

#include <cstdlib>
#include <cstring>
#include <string>

namespace {
int archNumber() {
  const char *a = std::getenv("LLMC_FAKE_CUDA_ARCH");
  if (!a || std::strncmp(a, "sm_", 3) != 0)
    return 0;
  return std::atoi(a + 3);
}
int dummy;
// Stream capture: launches while capturing become nodes of the graph.
bool capturing = false;
int nodes = 0;
struct Graph {
  int nodes;
};
} // namespace

#define FAKE extern "C" __attribute__((visibility("default"))) int
using ptr = unsigned long long;

FAKE cuInit(unsigned) { return archNumber() ? 0 : 100; }
FAKE cuDriverGetVersion(int *v) { *v = 13000; return 0; }
FAKE cuDeviceGetCount(int *n) { *n = archNumber() ? 1 : 0; return 0; }
FAKE cuDeviceGet(int *d, int i) { *d = i; return i == 0 ? 0 : 101; }
FAKE cuDeviceGetName(char *name, int len, int) {
  std::strncpy(name, "Fake CUDA GPU", len);
  return 0;
}
FAKE cuDeviceGetAttribute(int *v, int attr, int) {
  *v = attr == 75 ? archNumber() / 10 : archNumber() % 10;
  return 0;
}
FAKE cuDeviceTotalMem_v2(size_t *b, int) { *b = size_t(1) << 30; return 0; }
FAKE cuDevicePrimaryCtxRetain(void **c, int) { *c = &dummy; return 0; }
FAKE cuDevicePrimaryCtxRelease_v2(int) { return 0; }
FAKE cuCtxSetCurrent(void *) { return 0; }
FAKE cuModuleLoadDataEx(void **m, const void *image, unsigned, int *, void **) {
  const char *p = static_cast<const char *>(image);
  bool ptx = std::strstr(p, ".version") != nullptr;
  bool elf = std::memcmp(p, "\x7f" "ELF", 4) == 0;
  if (!ptx && !elf)
    return 200; // CUDA_ERROR_INVALID_IMAGE
  *m = &dummy;
  return 0;
}
FAKE cuModuleUnload(void *) { return 0; }
FAKE cuModuleGetFunction(void **f, void *, const char *) { *f = &dummy; return 0; }
FAKE cuLaunchKernel(void *, unsigned, unsigned, unsigned, unsigned, unsigned,
                    unsigned, unsigned, void *, void **params, void **) {
  if (capturing)
    ++nodes;
  return params ? 0 : 1;
}
FAKE cuStreamBeginCapture_v2(void *, int mode) {
  if (mode != 2 || capturing)
    return 1;
  capturing = true;
  nodes = 0;
  return 0;
}
FAKE cuStreamEndCapture(void *, Graph **g) {
  if (!capturing)
    return 1;
  capturing = false;
  *g = new Graph{nodes};
  return 0;
}
FAKE cuGraphInstantiateWithFlags(Graph **exec, Graph *g, unsigned long long) {
  *exec = new Graph{g->nodes};
  return 0;
}
// An update succeeds for the same topology (here: node count).
FAKE cuGraphExecUpdate_v2(Graph *exec, Graph *g, void *) {
  return exec->nodes == g->nodes ? 0 : 910;
}
FAKE cuGraphLaunch(Graph *exec, void *) { return exec && exec->nodes ? 0 : 1; }
FAKE cuGraphDestroy(Graph *g) { delete g; return 0; }
FAKE cuGraphExecDestroy(Graph *g) { delete g; return 0; }
FAKE cuMemAlloc_v2(ptr *p, size_t n) {
  *p = reinterpret_cast<ptr>(std::calloc(1, n));
  return *p ? 0 : 2;
}
FAKE cuMemFree_v2(ptr p) { std::free(reinterpret_cast<void *>(p)); return 0; }
FAKE cuMemcpyHtoDAsync_v2(ptr d, const void *s, size_t n, void *) {
  std::memcpy(reinterpret_cast<void *>(d), s, n);
  return 0;
}
FAKE cuMemcpyDtoHAsync_v2(void *d, ptr s, size_t n, void *) {
  std::memcpy(d, reinterpret_cast<void *>(s), n);
  return 0;
}
FAKE cuMemsetD8Async(ptr d, unsigned char v, size_t n, void *) {
  std::memset(reinterpret_cast<void *>(d), v, n);
  return 0;
}
FAKE cuStreamCreate(void **s, unsigned) { *s = &dummy; return 0; }
FAKE cuStreamDestroy_v2(void *) { return 0; }
FAKE cuStreamSynchronize(void *) { return 0; }
FAKE cuGetErrorString(int r, const char **s) {
  *s = r == 200 ? "device kernel image is invalid" : "fake CUDA error";
  return 0;
}
