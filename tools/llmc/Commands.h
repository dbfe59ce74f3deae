//===- Commands.h - llmc subcommands defined outside llmc.cpp ---*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_COMMANDS_H
#define LLMC_TOOLS_LLMC_COMMANDS_H

#include "llvm/Support/CommandLine.h"

namespace llmc {
extern llvm::cl::SubCommand compileCmd;
extern llvm::cl::SubCommand runCmd;
extern llvm::cl::SubCommand benchCmd;
int runBench();
int runCompile();
int runRun();
} // namespace llmc

#endif
