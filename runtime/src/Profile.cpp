//===- Profile.cpp - per-op timers for profiling builds -------------------===//
//
// Code compiled with `--profile` (llmc bench --profile) calls
// llmc_profile_enter/exit(id) around every op of the model; the runtime
// accumulates wall time and calls per id. Ops run one after another on the
// calling thread (their parallel loops inside), so one clock suffices.
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"

#include <chrono>
#include <mutex>
#include <vector>

namespace {
struct Counters {
  std::mutex mutex;
  std::vector<double> seconds;
  std::vector<int64_t> calls;
  std::vector<std::chrono::steady_clock::time_point> started;
};
Counters &counters() {
  static Counters *c = new Counters;
  return *c;
}
} // namespace

extern "C" {
__attribute__((visibility("default"))) void llmc_profile_enter(int32_t id) {
  if (id < 0)
    return;
  Counters &c = counters();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (static_cast<size_t>(id) >= c.started.size()) {
    c.started.resize(id + 1);
    c.seconds.resize(id + 1, 0.0);
    c.calls.resize(id + 1, 0);
  }
  c.started[id] = std::chrono::steady_clock::now();
}

__attribute__((visibility("default"))) void llmc_profile_exit(int32_t id) {
  auto now = std::chrono::steady_clock::now();
  Counters &c = counters();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (id < 0 || static_cast<size_t>(id) >= c.started.size())
    return;
  c.seconds[id] += std::chrono::duration<double>(now - c.started[id]).count();
  c.calls[id] += 1;
}

void llmc_profile_read(int32_t *count, const double **seconds,
                       const int64_t **calls) {
  Counters &c = counters();
  std::lock_guard<std::mutex> lock(c.mutex);
  if (count)
    *count = static_cast<int32_t>(c.seconds.size());
  if (seconds)
    *seconds = c.seconds.data();
  if (calls)
    *calls = c.calls.data();
}

void llmc_profile_reset(void) {
  Counters &c = counters();
  std::lock_guard<std::mutex> lock(c.mutex);
  std::fill(c.seconds.begin(), c.seconds.end(), 0.0);
  std::fill(c.calls.begin(), c.calls.end(), 0);
}
}
