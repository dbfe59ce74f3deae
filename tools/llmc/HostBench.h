//===- HostBench.h - measured roofline of the current CPU -------*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_HOSTBENCH_H
#define LLMC_TOOLS_LLMC_HOSTBENCH_H

#include "llvm/Support/Error.h"
#include <string>

namespace llmc {

/// Returns the path of a hardware-presets JSON file holding one entry,
/// "host": memory read bandwidth and f32 FMA peak measured on all cores of
/// this machine. The result is cached per CPU model and core count under
/// $XDG_CACHE_HOME/llmc (or ~/.cache/llmc); `remeasure` ignores the cache.
llvm::Expected<std::string> hostHardwareFile(bool remeasure);

} // namespace llmc

#endif // LLMC_TOOLS_LLMC_HOSTBENCH_H
