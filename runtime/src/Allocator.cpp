//===- Allocator.cpp - the allocation functions compiled code calls -------===//
//
// Compiled models allocate their temporaries (activations, attention
// scores) on every forward call. With plain malloc, blocks over glibc's
// mmap threshold go back to the kernel on free and come back as freshly
// zeroed pages on the next call: page faults cost as much as the matmuls in
// prefill. The CPU pipeline lowers memref.alloc/dealloc to the generic
// `_mlir_memref_to_llvm_*` functions instead, implemented here with a cache
// of freed blocks by exact size (the same sizes recur every step), bounded
// so an idle runtime holds at most kMaxCachedBytes.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {
constexpr size_t kHeader = 64; // keeps 64-byte alignment of the payload
constexpr size_t kMaxCachedBytes = size_t(2) << 30;

struct BlockCache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void *>> free;
  size_t cachedBytes = 0;

  void *allocate(size_t size) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = free.find(size);
      if (it != free.end() && !it->second.empty()) {
        void *block = it->second.back();
        it->second.pop_back();
        cachedBytes -= size;
        return static_cast<char *>(block) + kHeader;
      }
    }
    void *block = std::aligned_alloc(kHeader, kHeader + ((size + 63) & ~size_t(63)));
    if (!block)
      return nullptr;
    *static_cast<size_t *>(block) = size;
    return static_cast<char *>(block) + kHeader;
  }

  void release(void *payload) {
    if (!payload)
      return;
    void *block = static_cast<char *>(payload) - kHeader;
    size_t size = *static_cast<size_t *>(block);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (cachedBytes + size <= kMaxCachedBytes) {
        free[size].push_back(block);
        cachedBytes += size;
        return;
      }
    }
    std::free(block);
  }
};

BlockCache &cache() {
  static BlockCache *c = new BlockCache; // never destroyed: code may run late
  return *c;
}
} // namespace

extern "C" {
__attribute__((visibility("default"))) void *
_mlir_memref_to_llvm_alloc(size_t size) {
  return cache().allocate(size);
}

__attribute__((visibility("default"))) void *
_mlir_memref_to_llvm_aligned_alloc(size_t alignment, size_t size) {
  // Payloads are 64-byte aligned; larger alignments are not requested by the
  // CPU pipeline (memref.alloc uses alignment 64).
  if (alignment > kHeader)
    return nullptr;
  return cache().allocate(size);
}

__attribute__((visibility("default"))) void _mlir_memref_to_llvm_free(void *p) {
  cache().release(p);
}
}
