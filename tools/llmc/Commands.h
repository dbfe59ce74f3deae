//===- Commands.h - llmc subcommands defined outside llmc.cpp ---*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_COMMANDS_H
#define LLMC_TOOLS_LLMC_COMMANDS_H

#include "llmc/runtime.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/ADT/Twine.h"

namespace llmc {
struct CompileOptions;
/// Prints "llmc: error: <message>" and returns the exit status 1.
int fail(llvm::Error e);
int fail(const llvm::Twine &message);
/// The runtime status's message as an Error (frees the status).
llvm::Error statusError(llmc_status_t s);

extern llvm::cl::SubCommand compileCmd;
extern llvm::cl::SubCommand runCmd;
extern llvm::cl::SubCommand benchCmd;
/// The compile flags shared by compile, run and bench (-O, --cpu,
/// --decode-splits, --softmax, ...).
CompileOptions compileOptions();
int runBench();
int runCompile();
int runRun();
} // namespace llmc

#endif
