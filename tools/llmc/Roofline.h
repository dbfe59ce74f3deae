//===- Roofline.h - per-op roofline rows of a model -------------*- C++ -*-===//
//
// What `llmc roofline` and the Python bindings' `llmc.roofline` share: load
// the module to analyse and turn `--llm-roofline`'s annotations into rows.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TOOLS_LLMC_ROOFLINE_H
#define LLMC_TOOLS_LLMC_ROOFLINE_H

#include "passes/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include <string>
#include <vector>

namespace llmc {

/// One op's cost, in program order.
struct RooflineRow {
  std::string op;     ///< "llm.linear"
  std::string weight; ///< its first weight ("" for weightless ops)
  int64_t layer = -1; ///< decoder layer; -1: embedding, final norm, head
  double flops = 0, weightBytes = 0, actLoadBytes = 0, actStoreBytes = 0,
         kvLoadBytes = 0, kvStoreBytes = 0, intensity = 0,
         attainableFlops = 0, timeS = 0;
  std::string bound; ///< "memory" or "compute"
};

/// The module to analyse: a parsed .mlir file, or imported from a model
/// path or a bare config.json.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
loadAnalysisModule(mlir::MLIRContext &context, llvm::StringRef input);

/// Runs `--llm-roofline` with `options` on `module` (leaving its
/// annotations, `llm.roofline.total` included) and returns one row per
/// annotated op. Ops are attributed to the layer of the last
/// layer-numbered op seen, so norms and residuals join theirs.
llvm::Expected<std::vector<RooflineRow>>
analyzeRoofline(mlir::ModuleOp module, const mlir::llm::RooflineOptions &options,
                llvm::StringRef input);

/// A numeric field of an `llm.roofline` dictionary (i64 counts, f64 rates);
/// 0 when absent.
double rooflineField(mlir::DictionaryAttr dict, llvm::StringRef key);

} // namespace llmc

#endif
