//===- WeightMemory.cpp - where a CPU artifact's weights live -------------===//
//
// A decode step streams every weight once. Read through the artifact's
// file mapping, the weights sit in 4 KiB page-cache pages: each 4 KiB is
// another TLB entry and page walk, and the speed then depends on where the
// weights section happens to fall (1.1B Q4_K_M decode varied by 5-15 %
// between artifacts that differ only in code size). Copied once into
// anonymous memory advised as transparent huge pages, 2 MiB share a TLB
// entry and the figure is stable and higher (runtime.h:
// llmc_artifact_set_weight_memory). The copy is made by a background
// thread that the first forward starts when it is done, so neither the
// load nor the first token waits for it or shares the cores with it (1.1B
// Q4_0 load + first token: 0.13 s mapped, 0.68 s with the copy at load,
// 0.23-0.45 s with it running beside the first forward); CPU forwards
// switch to the copy when it is complete.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/mman.h>

using namespace llmc::runtime;

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
/// Bytes copied between checks of `stopCopying`.
constexpr size_t kCopyChunk = size_t(64) << 20;

/// Whether the kernel's transparent huge pages can back an madvised range.
bool hugePagesEnabled() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(f, line) && line.find("[never]") == std::string::npos;
}

/// MemAvailable of /proc/meminfo in bytes (0 when unknown).
uint64_t availableMemory() {
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:")
      return kb * 1024;
  return 0;
}

/// Why `a`'s weights cannot go to huge pages ("" when they can).
std::string unsupported(const llmc_artifact_s &a) {
  if (a.targetKind != "cpu")
    return a.path + ": weights in huge pages are for CPU artifacts (a GPU "
                    "device holds its own copy)";
  if (a.experts)
    return a.path + ": its experts are paged from the file (expert cache): "
                    "the weights stay mapped";
  return "";
}

/// 2 MiB-aligned anonymous memory for `size` bytes, advised as huge
/// pages (null on failure).
uint8_t *allocateHuge(size_t size) {
  void *raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return nullptr;
  auto begin = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  // Only the aligned range is kept.
  if (aligned > begin)
    munmap(raw, aligned - begin);
  if (size_t tail = begin + size + kHugePage - (aligned + size))
    munmap(reinterpret_cast<void *>(aligned + size), tail);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void *>(aligned), size, MADV_HUGEPAGE);
#endif
  return reinterpret_cast<uint8_t *>(aligned);
}

/// Copies the weights into `a.weightCopy` and publishes it; false when
/// stopped first.
bool copyAndPublish(llmc_artifact_s &a) {
  auto *copy = static_cast<uint8_t *>(a.weightCopy);
  for (size_t at = 0; at < a.weights.size; at += kCopyChunk) {
    if (a.stopCopying.load(std::memory_order_relaxed))
      return false;
    memcpy(copy + at, a.weights.data + at,
           std::min(kCopyChunk, a.weights.size - at));
  }
  mprotect(copy, a.weightCopySize, PROT_READ);
  a.hugeWeights.store(copy, std::memory_order_release);
  // The mapping's pages are no longer needed by this process (they stay in
  // the page cache; a forward still reading them faults them back).
  auto page = reinterpret_cast<uintptr_t>(a.weights.data) / 4096 * 4096;
  madvise(reinterpret_cast<void *>(page),
          reinterpret_cast<uintptr_t>(a.weights.data) + a.weights.size - page,
          MADV_DONTNEED);
  return true;
}

/// Allocates the copy's memory.
llmc_status_t reserveCopy(llmc_artifact_s &a) {
  size_t size = (a.weights.size + kHugePage - 1) / kHugePage * kHugePage;
  a.weightCopy = allocateHuge(size);
  if (!a.weightCopy)
    return makeStatus(LLMC_IO_ERROR,
                      a.path + ": cannot allocate " + std::to_string(size) +
                          " bytes for the weights: " + strerror(errno));
  a.weightCopySize = size;
  return nullptr;
}
} // namespace

void llmc::runtime::stopWeightCopy(llmc_artifact_s &a) {
  a.copyPending.store(false);
  if (!a.weightCopier.joinable())
    return;
  a.stopCopying.store(true);
  a.weightCopier.join();
  a.stopCopying.store(false);
}

llmc_status_t llmc::runtime::placeWeights(llmc_artifact_s &a,
                                          llmc_weight_memory_t where) {
  if (where != LLMC_WEIGHTS_MAPPED && where != LLMC_WEIGHTS_HUGE_PAGES)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_set_weight_memory: unknown placement " +
                          std::to_string(static_cast<int>(where)));
  stopWeightCopy(a);
  if (where == LLMC_WEIGHTS_MAPPED) {
    a.hugeWeights.store(nullptr, std::memory_order_release);
    if (a.weightCopy)
      munmap(a.weightCopy, a.weightCopySize);
    a.weightCopy = nullptr;
    a.weightCopySize = 0;
    return nullptr;
  }
  if (a.hugeWeights.load())
    return nullptr;
  if (std::string why = unsupported(a); !why.empty())
    return makeStatus(LLMC_UNSUPPORTED, why);
  if (!a.weightCopy)
    if (llmc_status_t s = reserveCopy(a))
      return s;
  copyAndPublish(a);
  return nullptr;
}

void llmc::runtime::placeWeightsAtLoad(llmc_artifact_s &a) {
  const char *env = getenv("LLMC_WEIGHT_MEMORY");
  if (env && !strcmp(env, "mapped"))
    return;
  if (env && !strcmp(env, "huge-pages")) {
    llmc_status_free(placeWeights(a, LLMC_WEIGHTS_HUGE_PAGES));
    return;
  }
  // A copy only where it is cheap next to what it buys: a CPU artifact
  // without paged experts whose weights take at most half the available
  // memory.
  bool pagedExperts = a.manifest.find("\"expert_placement\"") != std::string::npos;
  uint64_t available = availableMemory();
  if (!unsupported(a).empty() || pagedExperts || !hugePagesEnabled() ||
      available == 0 || a.weights.size > available / 2)
    return;
  // Started by the first forward (startWeightCopy): the first token does
  // not share the cores and the memory bus with the copy.
  a.copyPending.store(true);
}

void llmc::runtime::startWeightCopy(llmc_artifact_s &a) {
  if (!a.copyPending.exchange(false))
    return;
  std::lock_guard<std::mutex> lock(a.weightMutex);
  if (a.weightCopier.joinable() || a.hugeWeights.load() || a.experts)
    return;
  if (llmc_status_t s = reserveCopy(a)) {
    llmc_status_free(s); // the mapping serves
    return;
  }
  a.weightCopier = std::thread([&a] { copyAndPublish(a); });
}
