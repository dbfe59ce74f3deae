//===- Manifest.h - the artifact manifest's parts --------------*- C++ -*-===//
//
// Pieces of the JSON manifest (docs/artifact.md) that depend only on the
// compile options and the compiled entry, built apart from compileModel.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TOOLS_LLMC_MANIFEST_H
#define LLMC_TOOLS_LLMC_MANIFEST_H

#include "Compile.h"
#include "mlir/IR/Attributes.h"
#include "llvm/Support/JSON.h"
#include <string>
#include <vector>

namespace llmc {

/// An attribute (integers, floats, strings, arrays, dictionaries) as JSON.
llvm::json::Value toJSON(mlir::Attribute a);

template <typename Range> llvm::json::Array toArray(const Range &r) {
  llvm::json::Array a;
  for (const auto &v : r)
    a.push_back(v);
  return a;
}

/// What the code was compiled for: "target" (kind, CPU, options, the
/// attention kernel, GPU targets' kernel facts).
struct TargetFacts {
  std::string arch, triple;
  std::vector<std::string> features;
  bool linkedCode = false;
  int64_t kernelModules = 0; ///< GPU targets: gpu.binary modules
};
llvm::json::Object targetManifest(const CompileOptions &options,
                                  const TargetFacts &facts);

/// "entry_points": the llmc-buffer-v1 forward entry.
llvm::json::Array entryPointsManifest(bool kvInt8);

/// "kv_cache": shape, dtype and layout of a session's cache.
llvm::json::Object kvCacheManifest(llvm::ArrayRef<int64_t> shape, bool kvInt8,
                                   int64_t stateLayers);

} // namespace llmc

#endif
