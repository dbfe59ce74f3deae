//===- Emit.h - self-contained executables (--emit exe) ---------*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_EMIT_H
#define LLMC_TOOLS_LLMC_EMIT_H

#include "llvm/Support/Error.h"
#include <string>

namespace llmc {

/// Links the compiled model object (which defines llmc_linked_model) with
/// the llmc runtime archive built for `triple` ("" = the host) into the
/// executable `output`: the runtime and libstdc++ statically, libomp, libm
/// and libc dynamically. Errors name what is missing (cross compiler,
/// target runtime, target libomp) and how to get it.
llvm::Error linkExecutable(llvm::StringRef object, llvm::StringRef output,
                           llvm::StringRef triple);

/// The llmc runtime's static archive for `triple` ("" = the host): the
/// runtime, its tokenizers and an executable's main(); an error says how to
/// get a missing one.
llvm::Expected<std::string> runtimeArchive(llvm::StringRef triple);

/// The C identifier of the descriptor `--emit obj` writes for output file
/// `output`: llmc_model_<file stem, non-identifier characters as _>.
std::string linkedModelSymbol(llvm::StringRef output);

/// The header `--emit obj` writes next to the object: declares `symbol`
/// (an llmc_linked_model_t) and says how to load `artifact` with it.
std::string linkedModelHeader(llvm::StringRef symbol, llvm::StringRef artifact,
                              llvm::StringRef input, llvm::StringRef triple,
                              llvm::StringRef cpu);

/// The Debian multiarch name of `triple` ("" = the host), e.g.
/// aarch64-linux-gnu; an error for targets other than Linux.
llvm::Expected<std::string> debianTriple(llvm::StringRef triple);

} // namespace llmc

#endif
