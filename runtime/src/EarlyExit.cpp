//===- EarlyExit.cpp - counting early exits -------------------------------===//
//
// Code compiled with early-exit heads (`llmc compile --early-exit`, pass
// llm-insert-early-exits) calls llmc_early_exit(layer) when a decode step
// leaves after `layer`; `llmc run --stats` reads the counts.
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"

#include <atomic>
#include <vector>

namespace {
constexpr int32_t kMaxLayers = 1024;
struct Counts {
  std::atomic<int64_t> exits[kMaxLayers] = {};
  std::atomic<int32_t> used{0}; ///< 1 + the largest layer seen
  std::vector<int64_t> snapshot;
};
Counts &counts() {
  static Counts *c = new Counts;
  return *c;
}
} // namespace

extern "C" {
__attribute__((visibility("default"))) void llmc_early_exit(int32_t layer) {
  if (layer < 0 || layer >= kMaxLayers)
    return;
  Counts &c = counts();
  c.exits[layer].fetch_add(1, std::memory_order_relaxed);
  int32_t used = c.used.load();
  while (layer + 1 > used && !c.used.compare_exchange_weak(used, layer + 1)) {
  }
}

void llmc_early_exit_read(int32_t *count, const int64_t **exits) {
  Counts &c = counts();
  int32_t n = c.used.load();
  c.snapshot.resize(n);
  for (int32_t l = 0; l < n; ++l)
    c.snapshot[l] = c.exits[l].load();
  if (count)
    *count = n;
  if (exits)
    *exits = c.snapshot.data();
}

void llmc_early_exit_reset(void) {
  Counts &c = counts();
  for (auto &e : c.exits)
    e.store(0);
  c.used.store(0);
}
}
