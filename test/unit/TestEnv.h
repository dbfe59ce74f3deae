//===- TestEnv.h - helpers the runtime unit tests share ---------*- C++ -*-===//

#ifndef LLMC_TEST_UNIT_TESTENV_H
#define LLMC_TEST_UNIT_TESTENV_H

#include "llmc/runtime.h"
#include <cstdlib>
#include <string>

namespace llmc::test {
/// A status's message ("ok" for success), freeing it; its code in `code`.
inline std::string take(llmc_status_t s, llmc_status_code_t *code = nullptr) {
  if (code)
    *code = llmc_status_code(s);
  std::string m = llmc_status_message(s);
  llmc_status_free(s);
  return m;
}

/// Sets an environment variable for a scope.
struct ScopedEnv {
  ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *old = getenv(name))
      saved = old, had = true;
    setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had)
      setenv(name, saved.c_str(), 1);
    else
      unsetenv(name);
  }
  const char *name;
  std::string saved;
  bool had = false;
};
} // namespace llmc::test

#endif
