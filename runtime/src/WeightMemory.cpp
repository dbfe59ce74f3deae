//===- WeightMemory.cpp - where a CPU artifact's weights live -------------===//
//
// A decode step streams every weight once. Read through the artifact's
// file mapping, the weights sit in 4 KiB page-cache pages: each 4 KiB is
// another TLB entry and page walk, and the speed then depends on where the
// weights section happens to fall (1.1B Q4_K_M decode varied by 5-15 %
// between artifacts that differ only in code size). Copied once into
// anonymous memory advised as transparent huge pages, 2 MiB share a TLB
// entry and the figure is stable and higher (runtime.h:
// llmc_artifact_set_weight_memory).
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

/// Whether the kernel's transparent huge pages can back an madvised range.
bool hugePagesEnabled() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  return std::getline(f, line) && line.find("[never]") == std::string::npos;
}

/// MemAvailable of /proc/meminfo in bytes (0 when unknown).
uint64_t availableMemory() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:")
      return kb * 1024;
  return 0;
}

void releaseCopy(llmc_artifact_s &a) {
  if (!a.weightCopy)
    return;
  a.weights.data = a.mappedWeights;
  munmap(a.weightCopy, a.weightCopySize);
  a.weightCopy = nullptr;
  a.weightCopySize = 0;
}
} // namespace

llmc_status_t llmc::runtime::placeWeights(llmc_artifact_s &a,
                                          llmc_weight_memory_t where) {
  if (where == LLMC_WEIGHTS_MAPPED) {
    releaseCopy(a);
    return nullptr;
  }
  if (where != LLMC_WEIGHTS_HUGE_PAGES)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_artifact_set_weight_memory: unknown placement " +
                          std::to_string(static_cast<int>(where)));
  if (a.weightCopy)
    return nullptr;
  if (a.targetKind != "cpu")
    return makeStatus(LLMC_UNSUPPORTED,
                      a.path + ": weights in huge pages are for CPU "
                               "artifacts (a GPU device holds its own copy)");
  if (a.experts)
    return makeStatus(LLMC_UNSUPPORTED,
                      a.path + ": its experts are paged from the file (expert "
                               "cache): the weights stay mapped");
  // Aligned to 2 MiB so that every huge page can be a whole one.
  size_t size = (a.weights.size + kHugePage - 1) / kHugePage * kHugePage;
  void *raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED)
    return makeStatus(LLMC_IO_ERROR,
                      a.path + ": cannot allocate " + std::to_string(size) +
                          " bytes for the weights: " + strerror(errno));
  auto begin = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (begin + kHugePage - 1) / kHugePage * kHugePage;
  // Only the aligned range is kept.
  if (aligned > begin)
    munmap(raw, aligned - begin);
  if (size_t tail = begin + size + kHugePage - (aligned + size))
    munmap(reinterpret_cast<void *>(aligned + size), tail);
  auto *copy = reinterpret_cast<uint8_t *>(aligned);
#ifdef MADV_HUGEPAGE
  madvise(copy, size, MADV_HUGEPAGE);
#endif
  memcpy(copy, a.weights.data, a.weights.size);
  // The mapping's pages are no longer needed by this process (they stay
  // in the page cache for the next load).
  auto page = reinterpret_cast<uintptr_t>(a.weights.data) / 4096 * 4096;
  madvise(reinterpret_cast<void *>(page),
          reinterpret_cast<uintptr_t>(a.weights.data) + a.weights.size - page,
          MADV_DONTNEED);
  mprotect(copy, size, PROT_READ);
  a.mappedWeights = a.weights.data;
  a.weightCopy = copy;
  a.weightCopySize = size;
  a.weights.data = copy;
  return nullptr;
}

llmc_weight_memory_t llmc::runtime::defaultWeightMemory(const llmc_artifact_s &a) {
  if (const char *env = getenv("LLMC_WEIGHT_MEMORY")) {
    if (!strcmp(env, "mapped"))
      return LLMC_WEIGHTS_MAPPED;
    if (!strcmp(env, "huge-pages"))
      return LLMC_WEIGHTS_HUGE_PAGES;
  }
  // A copy only where it is cheap next to what it buys: a CPU artifact
  // without paged experts whose weights take at most half the available
  // memory.
  bool pagedExperts = a.manifest.find("\"expert_placement\"") != std::string::npos;
  uint64_t available = availableMemory();
  if (a.targetKind != "cpu" || pagedExperts || !hugePagesEnabled() ||
      available == 0 || a.weights.size > available / 2)
    return LLMC_WEIGHTS_MAPPED;
  return LLMC_WEIGHTS_HUGE_PAGES;
}
