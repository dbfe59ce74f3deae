//===- CPUDevice.cpp - runs an artifact's CPU code object -----------------===//
//
// The code object is a shared library inside the artifact. It is handed to
// the dynamic loader through an anonymous memory file (memfd), so nothing is
// written to disk. The entry follows the llmc-buffer-v1 ABI, i.e. MLIR's C
// interface of
//   forward(tokens: memref<?xi32>, start_pos: index,
//           kv: memref<L x 2 x KVH x S x D x f32> (or x (D + 4) x i8),
//           num_logits: index,
//           weights: memref<?xi8>, logits: memref<num_logits x V x f32>)
//
//===----------------------------------------------------------------------===//

#include "runtime/src/ArtifactFormat.h"
#include "runtime/src/Internal.h"

#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace llmc::runtime;

namespace {
class CPUDevice : public Device {
public:
  llmc_status_t open(llmc_artifact_s &a) {
    if (a.linkedForward) { // compiled into this program (--emit exe)
      entry = reinterpret_cast<EntryFn>(a.linkedForward);
      return nullptr;
    }
    void *sym = nullptr;
    if (llmc_status_t s = code.load(a, sym))
      return s;
    entry = reinterpret_cast<EntryFn>(sym);
    return nullptr;
  }

  llmc_status_t forward(llmc_session_s &s, const int32_t *tokens, int32_t n,
                        int32_t rows) override {
    llmc_artifact_s &a = *s.artifact;
    // The huge-page copy once it is complete, else the mapping.
    const uint8_t *weights = a.hugeWeights.load(std::memory_order_acquire);
    callEntry(entry, a,
              {tokens, s.kv.data(), weights ? weights : a.weights.data,
               s.logits.data()},
              n, s.position, rows);
    startWeightCopy(a);
    return nullptr;
  }

private:
  CodeObject code;
  EntryFn entry = nullptr;
};
} // namespace

CodeObject::~CodeObject() {
  if (handle)
    dlclose(handle);
  if (fd >= 0)
    close(fd);
}

llmc_status_t CodeObject::load(llmc_artifact_s &a, void *&entry) {
  // The code calls the runtime's functions (_mlir_memref_to_llvm_*,
  // mgpu*): make this library's symbols global even when it was itself
  // loaded RTLD_LOCAL (e.g. by Python's ctypes).
  Dl_info self;
  if (dladdr(reinterpret_cast<void *>(&llmc_artifact_load), &self) &&
      self.dli_fname)
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
  const Section &code = a.sections.at(a.codeSection);
  int memfd = memfd_create("llmc-code", MFD_CLOEXEC);
  if (memfd < 0)
    return makeStatus(LLMC_IO_ERROR,
                      a.path + ": memfd_create failed: " + strerror(errno));
  size_t done = 0;
  while (done < code.size) {
    ssize_t w = write(memfd, code.data + done, code.size - done);
    if (w <= 0) {
      close(memfd);
      return makeStatus(LLMC_IO_ERROR,
                        a.path + ": cannot stage code: " + strerror(errno));
    }
    done += static_cast<size_t>(w);
  }
  // The descriptor stays open while the code is loaded: the loader
  // identifies objects by path, and a closed descriptor's number (hence
  // "/proc/self/fd/N") is reused by the next artifact's code, which
  // dlopen would then take for the one already loaded.
  std::string fdPath = "/proc/self/fd/" + std::to_string(memfd);
  handle = dlopen(fdPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle)
    fd = memfd;
  else
    close(memfd);
  if (!handle)
    return makeStatus(LLMC_BAD_ARTIFACT,
                      a.path + ": cannot load the code object: " + dlerror());
  entry = dlsym(handle, a.entrySymbol.c_str());
  if (!entry)
    return makeStatus(LLMC_BAD_ARTIFACT, a.path + ": code object has no '" +
                                             a.entrySymbol + "'");
  return nullptr;
}

namespace {
bool hostHas(const std::string &f) {
#if defined(__x86_64__)
  __builtin_cpu_init();
#define LLMC_FEATURE(name)                                                     \
  if (f == name)                                                               \
    return __builtin_cpu_supports(name);
  LLMC_FEATURE("sse4.2") LLMC_FEATURE("sse4a") LLMC_FEATURE("avx") LLMC_FEATURE("avx2")
  LLMC_FEATURE("fma") LLMC_FEATURE("bmi") LLMC_FEATURE("bmi2")
  LLMC_FEATURE("popcnt") LLMC_FEATURE("avx512f") LLMC_FEATURE("avx512bw")
  LLMC_FEATURE("avx512vl") LLMC_FEATURE("avx512dq") LLMC_FEATURE("avx512cd")
  LLMC_FEATURE("avx512vnni") LLMC_FEATURE("avx512bf16")
  LLMC_FEATURE("avxvnni") LLMC_FEATURE("f16c") LLMC_FEATURE("avx512vbmi")
  LLMC_FEATURE("avx512vbmi2") LLMC_FEATURE("avx512ifma")
  LLMC_FEATURE("avx512bitalg") LLMC_FEATURE("avx512vpopcntdq")
  LLMC_FEATURE("avx512fp16")
#undef LLMC_FEATURE
#endif
  return false;
}
} // namespace

llmc_status_t llmc::runtime::checkTarget(llmc_artifact_s &a) {
  if (a.targetKind != "cpu" && a.targetKind != "vulkan" &&
      a.targetKind != "cuda")
    return makeStatus(LLMC_UNSUPPORTED, a.path + ": target '" + a.targetKind +
                                            "' is not supported by this runtime");
#if defined(__x86_64__)
  const char *hostArch = "x86_64";
#elif defined(__aarch64__)
  const char *hostArch = "aarch64";
#else
  const char *hostArch = "unknown";
#endif
  if (a.arch != hostArch)
    return makeStatus(LLMC_UNSUPPORTED, a.path + ": compiled for " + a.arch +
                                            ", this machine is " + hostArch);
  std::string missing;
  for (const std::string &f : a.features)
    if (!hostHas(f))
      missing += (missing.empty() ? "" : ", ") + f;
  if (!missing.empty())
    return makeStatus(LLMC_UNSUPPORTED,
                      a.path + ": compiled for CPU features this CPU lacks: " +
                          missing + " (recompile with --cpu)");
  return nullptr;
}

llmc_status_t llmc::runtime::createCPUDevice(llmc_artifact_s &a,
                                             std::unique_ptr<Device> &out) {
  return openDevice<CPUDevice>(a, out);
}

llmc_status_t llmc::runtime::ensureDevice(llmc_artifact_s &a) {
  std::lock_guard<std::mutex> lock(a.deviceMutex);
  if (a.device)
    return nullptr;
  if (a.targetKind == "vulkan")
    return createVulkanDevice(a, a.device);
  if (a.targetKind == "cuda")
    return createCUDADevice(a, a.device);
  return createCPUDevice(a, a.device);
}
