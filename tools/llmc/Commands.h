//===- Commands.h - llmc subcommands defined outside llmc.cpp ---*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_COMMANDS_H
#define LLMC_TOOLS_LLMC_COMMANDS_H

#include "llmc/runtime.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/ADT/Twine.h"
#include <memory>
#include <string>

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
int runCompile();
int runRun();
} // namespace llmc

#endif
