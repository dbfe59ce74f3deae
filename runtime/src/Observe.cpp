//===- Observe.cpp - the calibration observer hook ------------------------===//
//
// Code compiled with observation points (`llm.observe`, `llmc calibrate`)
// calls llmc_observe(site, address, rows, cols, row_stride) with an
// activation; the runtime forwards it to the observer the program set.
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"

#include <atomic>

namespace {
struct Observer {
  std::atomic<llmc_observer_fn> fn{nullptr};
  std::atomic<void *> user{nullptr};
};
Observer &observer() {
  static Observer *o = new Observer;
  return *o;
}
} // namespace

extern "C" {
void llmc_observer_set(llmc_observer_fn fn, void *user) {
  observer().user = user;
  observer().fn = fn;
}

__attribute__((visibility("default"))) void
llmc_observe(int32_t site, int64_t address, int64_t rows, int64_t cols,
             int64_t rowStride) {
  Observer &o = observer();
  if (llmc_observer_fn fn = o.fn.load())
    fn(o.user.load(), site,
       reinterpret_cast<const float *>(static_cast<intptr_t>(address)), rows,
       cols, rowStride);
}
}
