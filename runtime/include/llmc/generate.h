//===- generate.h - prompt -> streamed text (C++, no LLVM) ------*- C++ -*-===//
//
// The generation loop of `llmc run`, shared with self-contained executables
// (`llmc compile --emit exe`): encode the prompt, prefill, then sample and
// decode one token at a time, streaming text as it is produced.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_GENERATE_H
#define LLMC_GENERATE_H

#include "llmc/runtime.h"
#include "llmc/tokenizer.h"
#include <cstdio>
#include <string>

namespace llmc {

struct GenerateOptions {
  std::string prompt;
  int steps = 256; ///< tokens to generate (>= 1)
  llmc_sampler_params_t sampler{0.0f, 0, 1.0f, 0};
  int32_t maxContext = 0; ///< KV cache positions (0 = compiled)
  bool stats = false;     ///< prefill/decode speed on `err`
  /// Logits of every computed position (float32 LE rows) written to this
  /// file, atomically (a temporary renamed at the end); "" = none.
  std::string dumpLogits;
};

/// Generates from `artifact`, writing the prompt and then the text to `out`
/// as it is produced and, with `stats`, speeds to `err`. A generated BOS or
/// EOS ends the text (llama2.c's convention).
llmc_status_t generate(llmc_artifact_t *artifact, const Tokenizer &tokenizer,
                       const GenerateOptions &options, std::FILE *out,
                       std::FILE *err);

/// With early-exit heads (an artifact compiled with --early-exit): prints
/// "early exit: E of D decode steps exited (after layer l: k, ...); average
/// layers run X of L" from the runtime's exit counters
/// (llmc_early_exit_read) to `err`; nothing otherwise.
void printExitStats(llmc_artifact_t *artifact, const llmc_model_info_t &info,
                    int decoded, std::FILE *err);

/// With an expert cache (llmc_artifact_set_expert_cache): prints its hit
/// rate, prefetch accuracy, bytes loaded per token and measured residency
/// to `err`; nothing otherwise.
void printExpertStats(llmc_artifact_t *artifact, std::FILE *err);

/// The tokenizer an artifact carries (its "tokenizer" section); null with
/// `error` set when it has none or it is malformed.
std::unique_ptr<Tokenizer> artifactTokenizer(const llmc_artifact_t *artifact,
                                             const std::string &path,
                                             std::string &error);

} // namespace llmc

#endif // LLMC_GENERATE_H
