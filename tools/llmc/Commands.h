//===- Commands.h - llmc subcommands defined outside llmc.cpp ---*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_COMMANDS_H
#define LLMC_TOOLS_LLMC_COMMANDS_H

#include "llmc/runtime.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include <memory>
#include <string>
#include <vector>

namespace llmc {
struct CompileOptions;
class Tokenizer;
/// Prints "llmc: error: <message>" and returns the exit status 1.
int fail(llvm::Error e);
int fail(const llvm::Twine &message);
/// The runtime status's message as an Error (frees the status).
llvm::Error statusError(llmc_status_t s);

/// Subcommands whose options live in several files: constructed on first
/// use, so every file's options can name them during static
/// initialization (whatever order the files initialize in).
llvm::cl::SubCommand &compileCmd();
llvm::cl::SubCommand &runCmd();
llvm::cl::SubCommand &benchCmd();
llvm::cl::SubCommand &rooflineCmd();
llvm::cl::SubCommand &perplexityCmd();
llvm::cl::SubCommand &calibrateCmd();
/// The compile flags shared by compile, run and bench (-O, --cpu,
/// --decode-splits, --softmax, ...).
CompileOptions compileOptions();
/// --tokenizer (compile, run, perplexity, calibrate).
std::string tokenizerOption();
/// --expert-cache / --no-prefetch (run, bench): sets the artifact's
/// expert cache; `path` names it in errors.
llvm::Error setExpertCache(llmc_artifact_t *artifact, llvm::StringRef path);
/// Checks --device (run, bench) against the artifact's target.
llvm::Error checkDevice(llmc_artifact_t *artifact, llvm::StringRef path);
int runBench();
int runPerplexity();
int runCalibrate();
/// The tokenizer an artifact carries.
llvm::Expected<std::unique_ptr<Tokenizer>>
artifactTokenizer(llmc_artifact_t *artifact, llvm::StringRef path);
/// `input` itself when it is a .llmc artifact, else compiled (cached)
/// with `options`.
llvm::Expected<std::string> resolveArtifact(llvm::StringRef input,
                                            llvm::StringRef tokenizer,
                                            const CompileOptions &options);
/// An artifact with one session, freed together.
struct LoadedArtifact {
  llmc_artifact_t *artifact = nullptr;
  llmc_session_t *session = nullptr;
  llmc_model_info_t info{};
  ~LoadedArtifact() {
    llmc_session_free(session);
    llmc_artifact_free(artifact);
  }
  llvm::Error load(const std::string &path) {
    if (llmc_status_t s = llmc_artifact_load(path.c_str(), &artifact))
      return statusError(s);
    if (llmc_status_t s = llmc_artifact_info(artifact, &info))
      return statusError(s);
    return llvm::Error::success();
  }
  llvm::Error startSession(int ctx) {
    if (llmc_status_t s = llmc_session_create(artifact, ctx, &session))
      return statusError(s);
    return llvm::Error::success();
  }
  /// Logits of every position of `tokens`, in a fresh context: one
  /// forward over all of them, or with `stepwise` one token per forward (as
  /// generation runs them; what early-exit heads act on).
  llvm::Expected<const float *> run(llvm::ArrayRef<int32_t> tokens,
                                    bool stepwise = false) {
    llmc_session_reset(session);
    const float *logits;
    if (!stepwise) {
      if (llmc_status_t s = llmc_session_forward(session, tokens.data(),
                                                 tokens.size(), &logits))
        return statusError(s);
      return logits;
    }
    rows.resize(tokens.size() * size_t(info.vocab_size));
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (llmc_status_t s =
              llmc_session_forward(session, &tokens[i], 1, &logits))
        return statusError(s);
      std::copy(logits, logits + info.vocab_size,
                rows.begin() + i * info.vocab_size);
    }
    return rows.data();
  }
  std::vector<float> rows; ///< stepwise logits
};

int runCompile();
int runRun();
} // namespace llmc

#endif
