//===- Internal.h - runtime objects behind the C API ------------*- C++ -*-===//

#ifndef LLMC_RUNTIME_SRC_INTERNAL_H
#define LLMC_RUNTIME_SRC_INTERNAL_H

#include "llmc/runtime.h"
#include <cstdint>
#include <map>
#include <memory>
#include <atomic>
#include <mutex>
#include <thread>
#include <string>
#include <vector>

struct llmc_status_s {
  llmc_status_code_t code;
  std::string message;
};

namespace llmc::runtime {
llmc_status_t makeStatus(llmc_status_code_t code, std::string message);

struct Section {
  const uint8_t *data = nullptr;
  size_t size = 0;
};

/// Zero-filled memory of `bytes` from an anonymous mapping: pages are
/// zero until written and only written pages are ever touched (a KV cache
/// allocated with std::vector is zeroed page by page up front: ~90 MB and
/// tens of milliseconds for a 1.1B session before its first token).
class ZeroPages {
public:
  ZeroPages() = default;
  ZeroPages(const ZeroPages &) = delete;
  ZeroPages &operator=(const ZeroPages &) = delete;
  ~ZeroPages() { reset(); }
  /// Allocates `bytes` of zeros (releasing what was held); false if the
  /// mapping fails.
  bool allocate(size_t bytes);
  void reset();
  float *data() const { return ptr; }
  size_t size() const { return bytes; }

private:
  float *ptr = nullptr;
  size_t bytes = 0;
};

/// A backend that runs an artifact's compiled entry. One per artifact,
/// shared by its sessions.
class Device {
public:
  virtual ~Device() = default;
  /// Runs forward for `n` tokens at the session's position, writing the
  /// session's KV cache and the logits of the last `rows` positions.
  virtual llmc_status_t forward(llmc_session_s &session, const int32_t *tokens,
                                int32_t n, int32_t rows) = 0;
  /// Whether sessions keep their KV cache in host memory (session.kv); a
  /// GPU device keeps it on the device instead.
  virtual bool hostKV() const { return true; }
  /// A session of this device's artifact is freed.
  virtual void releaseSession(llmc_session_s &) {}
  /// The device and its counters, for --stats ("" = nothing to say).
  virtual std::string describe() const { return ""; }
};

/// MLIR's strided memref descriptor, as the entry (llmc-buffer-v1) takes
/// its arguments.
template <int N> struct MemRef {
  const void *allocated;
  const void *aligned;
  int64_t offset;
  int64_t sizes[N];
  int64_t strides[N];
};

/// A contiguous row-major descriptor of `shape` at `data`.
template <int N>
MemRef<N> memref(const void *data, const int64_t (&shape)[N]) {
  MemRef<N> m{data, data, 0, {}, {}};
  int64_t stride = 1;
  for (int d = N - 1; d >= 0; --d) {
    m.sizes[d] = shape[d];
    m.strides[d] = stride;
    stride *= shape[d];
  }
  return m;
}

/// The entry: forward(tokens, start_pos, kv, num_logits, weights, logits).
using EntryFn = void (*)(MemRef<1> *, int64_t, MemRef<5> *, int64_t,
                         MemRef<1> *, MemRef<2> *);

/// Where a forward step's buffers are (host or device addresses).
struct EntryBuffers {
  const void *tokens, *kv, *weights, *logits;
};

/// An artifact's host code object (the shared library in its code
/// section), loaded through an anonymous memory file.
struct CodeObject {
  ~CodeObject();
  /// Loads it and finds the artifact's entry symbol.
  llmc_status_t load(llmc_artifact_s &artifact, void *&entry);
  void *handle = nullptr;
  int fd = -1;
};

/// Pages the `storage` experts of an artifact with an expert placement
/// (ExpertCache.cpp). Entry points from compiled code: routed (a MoE layer's
/// per-expert row counts for this step) and use (an expert is about to be
/// read).
class ExpertCache {
public:
  virtual ~ExpertCache() = default;
  virtual void routed(int32_t site, const int64_t *counts, int64_t n) = 0;
  virtual void use(int32_t site, int64_t expert) = 0;
  /// A forward step of `tokens` tokens begins / ended.
  virtual void beginStep(int32_t tokens) = 0;
  virtual void endStep() = 0;
  virtual llmc_expert_stats_t stats() = 0;
  virtual void resetStats() = 0;
};
llmc_status_t createExpertCache(llmc_artifact_s &artifact, uint64_t capacity,
                                bool prefetch,
                                std::unique_ptr<ExpertCache> &out);
/// The cache the calling thread's forward step uses (null: none).
ExpertCache *&currentExpertCache();

/// Creates a device of type T (which has `llmc_status_t open(artifact)`).
template <typename T>
llmc_status_t openDevice(llmc_artifact_s &artifact,
                         std::unique_ptr<Device> &out) {
  auto d = std::make_unique<T>();
  if (llmc_status_t s = d->open(artifact))
    return s;
  out = std::move(d);
  return nullptr;
}

/// Creates the CPU device: loads the artifact's code object.
llmc_status_t createCPUDevice(llmc_artifact_s &artifact,
                              std::unique_ptr<Device> &out);
/// Creates the Vulkan device (devices/vulkan): the artifact's host code
/// launches its SPIR-V kernels there.
llmc_status_t createVulkanDevice(llmc_artifact_s &artifact,
                                 std::unique_ptr<Device> &out);
/// Describes the Vulkan devices the loader sees, one per line.
std::string describeVulkanDevices();
/// Creates the CUDA device (devices/cuda): the artifact's host code
/// launches its PTX/cubin kernels through the driver API.
llmc_status_t createCUDADevice(llmc_artifact_s &artifact,
                               std::unique_ptr<Device> &out);
/// Describes the CUDA devices the driver sees, one per line, or why none.
std::string describeCUDADevices();
/// One image of a CUDA kernel module bundle (lowering/cuda/BundleCUDA.cpp).
struct CUDAImage {
  std::string arch, format; ///< "sm_80", "cubin" | "ptx"
  const void *data = nullptr;
  size_t size = 0;
};
/// Reads a bundle's images; "" or what is wrong with it.
std::string parseCUDABundle(const void *data, size_t size,
                            std::vector<CUDAImage> &images);
/// The image a device of `deviceArch` runs: the cubin of the newest
/// architecture of its major version not above it, else the newest PTX not
/// above it; -1 if none.
int pickCUDAImage(const std::vector<CUDAImage> &images,
                  const std::string &deviceArch);
/// Checks the artifact's target against this machine.
llmc_status_t checkTarget(llmc_artifact_s &artifact);
/// Creates the artifact's device on first use.
llmc_status_t ensureDevice(llmc_artifact_s &artifact);
/// Moves the artifact's weights to `where` now (WeightMemory.cpp).
llmc_status_t placeWeights(llmc_artifact_s &artifact,
                           llmc_weight_memory_t where);
/// At load: a CPU artifact's weights are to be copied into huge pages in
/// the background, from the end of the first forward, when they take at
/// most half the available memory (the steps until the copy is complete
/// read the mapping); LLMC_WEIGHT_MEMORY=mapped|huge-pages overrides
/// (huge-pages: copied before the load returns).
void placeWeightsAtLoad(llmc_artifact_s &artifact);
/// Starts the copy placeWeightsAtLoad left pending (after a forward).
void startWeightCopy(llmc_artifact_s &artifact);
/// Stops and joins a background copy (before the artifact goes).
void stopWeightCopy(llmc_artifact_s &artifact);
} // namespace llmc::runtime

struct llmc_artifact_s {
  ~llmc_artifact_s();
  std::string path;
  const uint8_t *base = nullptr; ///< the artifact's first byte
  size_t size = 0;               ///< its bytes
  void *map = nullptr;           ///< the mapping (from a page boundary)
  size_t mapSize = 0;
  int fd = -1;                   ///< the file, kept for remapping experts
  uint64_t fileOffset = 0;       ///< where the mapping starts in it
  /// Entry of code linked into the program (--emit exe); null: the code
  /// section is loaded.
  void (*linkedForward)(void) = nullptr;
  std::string manifest;
  std::map<std::string, llmc::runtime::Section> sections;
  llmc_model_info_t info{};
  std::vector<int64_t> kvShape;
  int kvElemBytes = 4; ///< f32 cache, or 1: i8 (scales inside the shape)
  llmc::runtime::Section weights;
  /// The weights' copy in huge pages once it is complete (WeightMemory.cpp;
  /// a CPU forward reads it when set, else `weights.data`, the mapping),
  /// the copy's memory, and the thread making it in the background.
  std::atomic<const uint8_t *> hugeWeights{nullptr};
  void *weightCopy = nullptr;
  size_t weightCopySize = 0;
  std::thread weightCopier;
  std::atomic<bool> stopCopying{false};
  std::atomic<bool> copyPending{false}; ///< the first forward starts it
  std::mutex weightMutex;
  std::string targetKind, arch, codeSection, entrySymbol;
  std::vector<std::string> features;
  std::mutex deviceMutex;
  std::unique_ptr<llmc::runtime::Device> device;
  std::unique_ptr<llmc::runtime::ExpertCache> experts;
};

namespace llmc::runtime {
/// Calls the artifact's entry on `n` tokens at `position`, writing `rows`
/// rows of logits; the descriptors describe `b`'s buffers with the
/// artifact's shapes.
inline void callEntry(EntryFn entry, const llmc_artifact_s &a,
                      const EntryBuffers &b, int32_t n, int64_t position,
                      int32_t rows) {
  auto tok = memref<1>(b.tokens, {n});
  int64_t kvShape[5];
  for (int i = 0; i < 5; ++i)
    kvShape[i] = a.kvShape[i];
  auto kv = memref<5>(b.kv, kvShape);
  auto w = memref<1>(b.weights, {static_cast<int64_t>(a.weights.size)});
  auto logits = memref<2>(b.logits, {rows, a.info.vocab_size});
  entry(&tok, position, &kv, rows, &w, &logits);
}

/// Bytes of one session's KV cache.
inline uint64_t kvCacheBytes(const llmc_artifact_s &a) {
  uint64_t bytes = static_cast<uint64_t>(a.kvElemBytes);
  for (int64_t d : a.kvShape)
    bytes *= static_cast<uint64_t>(d);
  return bytes;
}
} // namespace llmc::runtime

struct llmc_session_s {
  llmc_artifact_s *artifact = nullptr;
  int32_t maxContext = 0;
  int32_t position = 0;
  /// The cache's bytes (f32 or i8), float-aligned (ZeroPages: a fresh
  /// session does not write its whole cache before the first token).
  llmc::runtime::ZeroPages kv;
  std::vector<float> logits;
};

#endif
