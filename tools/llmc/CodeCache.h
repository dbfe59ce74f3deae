//===- CodeCache.h - compiled code cached by what it depends on -*- C++ -*-===//
//
// An artifact's code depends on the architecture, shapes, quantization
// formats, options, target and compiler, never on the weight values (they
// are read through the weights pointer at run time). After the tensor
// lowering has fixed the weight table, the IR holds exactly that, so the
// code is cached under $XDG_CACHE_HOME/llmc/code keyed by a hash of that IR
// (the model's file path left out), the code-generation options, the
// target CPU and this compiler's binary: a fine-tune, another seed or a
// re-download of a compiled architecture only packs its weights.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TOOLS_LLMC_CODECACHE_H
#define LLMC_TOOLS_LLMC_CODECACHE_H

#include "Compile.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

/// What code generation hands the artifact writer.
struct GeneratedCode {
  std::string code; ///< the linked shared object (the code.cpu section)
  std::string arch;
  std::vector<std::string> features;
  int64_t kernelCount = 0; ///< GPU binaries embedded in it
};

/// $XDG_CACHE_HOME/llmc (or the platform cache directory, or /tmp/llmc).
std::string cacheDirectory();
/// Identifies this llmc build (a hash of its executable).
uint64_t compilerHash();

/// The cache key of the code `options` generate from `module`, lowered up
/// to the buffer ABI (weight table fixed).
std::string codeCacheKey(mlir::ModuleOp module, const CompileOptions &options);
/// The cached code for `key`, if any (a damaged entry is a miss).
std::optional<GeneratedCode> lookupCode(llvm::StringRef key);
/// Stores `code` under `key` (temporary file + rename) and keeps the
/// directory under its size bound, dropping the least recently used
/// entries; returns the entry's path, or "" when it cannot be written
/// (the cache is an optimization: a compile never fails for it).
std::string storeCode(llvm::StringRef key, const GeneratedCode &code);

} // namespace llmc

#endif
