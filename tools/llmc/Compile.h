//===- Compile.h - model -> .llmc artifact ----------------------*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_COMPILE_H
#define LLMC_TOOLS_LLMC_COMPILE_H

#include "importers/ModelSource.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"
#include <memory>
#include <string>
#include <vector>

namespace llmc {

struct CompileOptions {
  std::string target = "cpu"; ///< cpu | vulkan | cuda
  /// With target vulkan: the SPIR-V capability preset (baseline | full).
  std::string vulkanTarget = "baseline";
  /// With target cuda: the architectures to embed (comma-separated).
  std::string cudaArch = "sm_80";
  /// With target cuda: prefill projections on tensor cores (3xtf32, tf32,
  /// none).
  std::string cudaMMA = "3xtf32";
  std::string cpu = "native"; ///< LLVM CPU name; "native" = this machine
  /// Target triple ("" = this machine), e.g. aarch64-linux-gnu.
  std::string triple;
  /// What compileModel writes: "artifact" (.llmc) or "exe" (a
  /// self-contained executable: code linked, runtime included).
  std::string emit = "artifact";
  /// With emit "exe": "embedded" (appended to the executable) or "external"
  /// (the artifact next to it, named <output>.llmc).
  std::string weights = "embedded";
  int optLevel = 3; ///< 0: no llm-dialect passes; 1: fusion; 2-3: + flash attention
  /// false: no llm-dialect passes at any level (LLVM still optimizes per
  /// optLevel): the anchor that isolates what fusion buys.
  bool llmOptimize = true;
  /// CPU: identical decoder layers lowered once (llm-outline-layers).
  bool outlineLayers = true;
  /// Reuse (and store) an artifact's code by what it depends on (shapes,
  /// formats, options, target, compiler; CodeCache.h), not the weights.
  bool codeCache = true;
  int64_t decodeSplits = 2;          ///< flash decoding: cache chunks per head
  std::string decodeSoftmax = "unified"; ///< unified (FlashDecoding++) | online
  /// Weight quantization scheme of llm-quantize ("" = none): w8, w4g32, ...
  std::string quant;
  bool quantAsymmetric = false;        ///< zero points next to the scales
  bool quantClip = false;              ///< clipping search per group
  std::vector<std::string> quantKeep;  ///< weight-name substrings kept float
  bool progress = false; ///< progress lines on stderr
  bool timings = false;  ///< each compile step's wall time on stderr
  bool profile = false;  ///< per-op timers (llmc bench --profile)
  /// KV cache storage: "f32" or "int8" (llm-quantize-kv-cache).
  std::string kvCache = "f32";
  /// Options of llm-insert-early-exits ("" = none), e.g. "layers=1,3
  /// metric=max-prob threshold=0.9".
  std::string earlyExit;
  /// Options of llm-place-experts ("" = no placement), e.g.
  /// "budget=512MiB stats=stats.json".
  std::string placeExperts;
  /// Decoder layers removed by llm-skip-layers (static skipping).
  std::vector<int64_t> skipLayers;
  /// Observation points on the linears' inputs (llmc calibrate).
  bool observe = false;
  /// Calibration statistics (llmc calibrate -o) for the quantizer: "" =
  /// none (weights only).
  std::string calibration;
};

/// Tokenizer bytes carried in the artifact.
struct TokenizerPayload {
  TokenizerFormat format = TokenizerFormat::None;
  std::string name; ///< file name, for messages
  /// The section as the runtime reads it (tokenizerSection): its manifest
  /// format name and bytes.
  std::string formatName;
  std::string bytes;
  int32_t bos = -1, eos = -1;
};

/// A model ready to compile: the llm-dialect module and its weights.
struct LoadedModel {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  std::unique_ptr<ModelSource> source;
  TokenizerPayload tokenizer;
};

/// Registers every dialect, interface and extension compiling needs and
/// loads the ones models are written in.
void prepareContext(mlir::MLIRContext &context);

/// Parses the IR file `input` into `context` (prepared).
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
parseModuleFile(mlir::MLIRContext &context, llvm::StringRef input);

/// Loads `input`: an llm-dialect .mlir file (weights and tokenizer from its
/// llm.model / llm.tokenizer paths) or a model path (imported).
llvm::Error loadModel(mlir::MLIRContext &context, llvm::StringRef input,
                      llvm::StringRef tokenizerPath, LoadedModel &out);

/// `module`, an llm-dialect module whose `llm.model {path}` names the
/// weights (and `llm.tokenizer {path}` the tokenizer unless `tokenizerPath`
/// is given), with its weights and tokenizer; `name` labels errors.
llvm::Error loadModule(mlir::OwningOpRef<mlir::ModuleOp> module,
                       llvm::StringRef name, llvm::StringRef tokenizerPath,
                       LoadedModel &out);

/// Runs the llm-dialect pipeline `options` selects (-O1+: llm-optimize)
/// on `module`; checks the option values.
llvm::Error optimizeModel(mlir::ModuleOp module, const CompileOptions &options,
                          llvm::StringRef input);

/// Lowers, emits code, packs the weights and writes the artifact to
/// `output` atomically.
llvm::Error compileModel(LoadedModel &model, const CompileOptions &options,
                         llvm::StringRef output);

/// The artifact for `input`, compiled once and cached under
/// $XDG_CACHE_HOME/llmc (or ~/.cache/llmc) by a hash of the model and
/// tokenizer bytes and the options.
llvm::Expected<std::string> compileCached(llvm::StringRef input,
                                          llvm::StringRef tokenizerPath,
                                          const CompileOptions &options);

/// compileModel into the cache directory ($XDG_CACHE_HOME/llmc or
/// ~/.cache/llmc), keyed by a hash of the compiler, the model and tokenizer
/// bytes, the IR and the options; reuses an existing artifact.
llvm::Expected<std::string> compileWithCache(LoadedModel &model,
                                             const CompileOptions &options,
                                             llvm::StringRef stem);

/// The built-in demo: a small deterministic synthetic Llama (random weights,
/// a printable-ASCII-and-words tokenizer), compiled and cached.
llvm::Expected<std::string> compileDemo(const CompileOptions &options);

} // namespace llmc

#endif
