//===- BuildIR.h - ModelSource -> llm dialect -------------------*- C++ -*-===//

#ifndef LLMC_IMPORTERS_BUILDIR_H
#define LLMC_IMPORTERS_BUILDIR_H

#include "importers/ModelSource.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llmc {

/// Builds the llm-dialect module of a model: one `forward(tokens,
/// start_pos, kv) -> (logits, kv)` function whose llm.param ops name the
/// source file's tensors. Module attributes `llm.model` (config + source)
/// and `llm.tokenizer` let `llmc compile` find weights and tokenizer.
mlir::OwningOpRef<mlir::ModuleOp> buildModule(mlir::MLIRContext &context,
                                              const ModelSource &source);

} // namespace llmc

#endif // LLMC_IMPORTERS_BUILDIR_H
