//===- CPUPipeline.h - llm -> LLVM for the host CPU -------------*- C++ -*-===//

#ifndef LLMC_LOWERING_CPU_CPUPIPELINE_H
#define LLMC_LOWERING_CPU_CPUPIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include <string>
#include <vector>

namespace mlir::llm {

struct CPUPipelineOptions : PassPipelineOptions<CPUPipelineOptions> {
  Option<bool> parallel{*this, "parallel",
                        llvm::cl::desc("Run parallel loops on all cores (OpenMP)"),
                        llvm::cl::init(true)};
  Option<bool> profile{*this, "profile",
                       llvm::cl::desc("Per-op timers (llmc bench --profile)"),
                       llvm::cl::init(false)};
  Option<bool> vectorize{*this, "vectorize",
                         llvm::cl::desc("Tile and vectorize linalg ops"),
                         llvm::cl::init(true)};
  Option<std::string> dotIsa{
      *this, "dot-isa",
      llvm::cl::desc("The target's byte dot products (see targetDotIsa): "
                     "vnni, avx2, neon-dot, neon-i8mm, or empty for the "
                     "portable form"),
      llvm::cl::init("")};
  Option<bool> outlineLayers{
      *this, "outline-layers",
      llvm::cl::desc("Lower identical decoder layers once, as a function "
                     "called per layer (--llm-outline-layers)"),
      llvm::cl::init(true)};
};

/// The machine code is generated for: `triple` "" = the host's (e.g.
/// aarch64-linux-gnu to cross-compile); `cpu` an LLVM CPU name, "" or
/// "native" = the host CPU with all its features (host triple only; other
/// triples then get "generic").
struct CPUTarget {
  std::string triple;
  std::string cpu = "native";
};

/// The `llm-cpu-vnni` isa for `target`'s byte dot products: "vnni"
/// (AVX-VNNI, or AVX512-VNNI with AVX512VL), "avx2" (AVX2 without VNNI),
/// "neon-i8mm" (aarch64 with dotprod and i8mm), "neon-dot" (aarch64 with
/// dotprod), "" otherwise (the portable form).
std::string targetDotIsa(const CPUTarget &target);

/// Every dialect, interface model and extension the pipeline touches (append
/// to a context before loading or parsing the module).
void registerCPUPipelineDialects(DialectRegistry &registry);

/// Registers the `llm-to-cpu` pipeline.
void registerLLMToCPUPipeline();

/// Which part of llm-to-cpu to build: the tensor lowering up to the buffer
/// ABI (after which the entry carries its weight layout), the rest, or both.
enum class CPUPipelineStage { ToBufferABI, FromBufferABI, All };

/// Appends llm dialect -> LLVM dialect passes for the CPU to `pm`.
LogicalResult buildLLMToCPUPipeline(OpPassManager &pm,
                                    const CPUPipelineOptions &options,
                                    CPUPipelineStage stage =
                                        CPUPipelineStage::All);

/// Code linked into a program (--emit exe / obj): the object defines
/// `symbol`, an llmc_linked_model_t (runtime.h) naming the entry and the
/// artifact file holding the weights ("" = appended to the executable);
/// every other symbol it defines becomes local, so several models link into
/// one program.
struct LinkedModel {
  std::string symbol = "llmc_linked_model";
  std::string artifact;
};

/// Translates an LLVM-dialect module to LLVM IR, optimizes it at `optLevel`
/// for `target` and emits relocatable objects into `objects`: one for a
/// program's code (`linked`), else the module split by function among the
/// cores' threads, each part optimized and compiled in parallel. `arch` gets the
/// architecture name and `features` the CPU features the code may use that a
/// runtime must check (see runtime/src/ArtifactFormat.h). `linked`: see
/// LinkedModel (null: a loadable code object's entry). `phase`, when set,
/// is told when LLVM IR optimization and machine-code generation start
/// (progress and --timings); `partDone(n, total)` as each of the parallel
/// parts is compiled (from its thread, one call at a time). Returns an error
/// message on failure.
std::string emitCPUObject(ModuleOp module, const CPUTarget &target,
                          int optLevel, const LinkedModel *linked,
                          std::vector<std::string> &objects,
                          std::string &arch,
                          std::vector<std::string> &features,
                          llvm::function_ref<void(llvm::StringRef)> phase = {},
                          llvm::function_ref<void(unsigned, unsigned)> partDone = {});

/// Links relocatable objects into a shared library with ld.lld.
std::string linkSharedObject(llvm::ArrayRef<std::string> objectPaths,
                             llvm::StringRef outputPath);

} // namespace mlir::llm

#endif
