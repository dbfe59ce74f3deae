//===- HFConfig.h - Hugging Face config.json -> ModelConfig -----*- C++ -*-===//
//
// Reads config.json as transformers 4.x writes it (`rope_theta`,
// `rope_scaling`, `torch_dtype`) and as 5.x does (`rope_parameters`, per
// layer type where a model has several, `dtype`), for every architecture
// llmc imports. Used by HuggingFace.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORTERS_HFCONFIG_H
#define LLMC_IMPORTERS_HFCONFIG_H

#include "importers/ModelSource.h"

namespace llmc {

/// A new ModelSource (config, declared dtype; no tensors) for the
/// config.json at `configPath` of the model in `directory`.
llvm::Expected<std::unique_ptr<ModelSource>>
parseHFConfig(llvm::StringRef configPath, llvm::StringRef directory);

/// The `architectures` values llmc reads, for error messages.
llvm::StringRef supportedHFArchitectures();

} // namespace llmc

#endif // LLMC_IMPORTERS_HFCONFIG_H
