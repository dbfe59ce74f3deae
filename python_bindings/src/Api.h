//===- Api.h - what the Python module calls in the compiler -----*- C++ -*-===//
//
// The compiler side of the Python bindings, in standard types only: the
// MLIR/LLVM libraries are built without RTTI and nanobind needs it, so
// everything that touches them stays in Api.cpp (compiled like the rest of
// llmc) and the binding translation unit sees only this header. Failures
// return false / null and set `error` to one message naming the input.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PYTHON_API_H
#define LLMC_PYTHON_API_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace llmc::api {

/// An llm-dialect module in its own MLIR context.
class Module {
public:
  struct Impl;
  explicit Module(std::unique_ptr<Impl> impl);
  ~Module();
  /// The IR as text (generic-free, round-trips through parse()).
  std::string str() const;
  Impl &impl() const { return *p; }

private:
  std::unique_ptr<Impl> p;
};

/// Imports a model (llama2.c .bin, Hugging Face directory, GGUF).
std::unique_ptr<Module> importModel(const std::string &path,
                                    const std::string &tokenizer,
                                    std::string &error);
/// Parses llm-dialect (or any registered dialect's) IR text.
std::unique_ptr<Module> parseModule(const std::string &text,
                                    std::string &error);
/// A copy of `module` after the textual pass pipeline `pipeline` (anything
/// llmc-opt accepts, e.g. "llm-optimize" or "builtin.module(llm-fuse-qkv)").
/// `error` carries every error diagnostic, with locations.
std::unique_ptr<Module> runPipeline(const Module &module,
                                    const std::string &pipeline,
                                    std::string &error);

struct CompileArgs {
  std::string target = "cpu";
  std::string cpu = "native";
  int optLevel = 2;
  bool llmOptimize = true;
  int64_t decodeSplits = 2;
  std::string softmax = "unified";
  std::string tokenizer; ///< overrides the model's
  bool progress = false;
  std::string quant; ///< llm-quantize scheme, "" = none
  bool quantAsymmetric = false;
  bool quantClip = false;
  std::vector<std::string> quantKeep;
  std::string calibration; ///< llmc calibrate statistics, "" = none
  std::string kvCache = "f32"; ///< "f32" or "int8"
  std::string earlyExit;           ///< llm-insert-early-exits options
  std::vector<int64_t> skipLayers; ///< llm-skip-layers
  std::string cudaArch = "sm_80";  ///< with target cuda
};

/// Compiles a model path or .mlir file (`input`) or a Module into an
/// artifact at `out`, or into the compile cache when `out` is empty; sets
/// `artifactPath`.
bool compilePath(const std::string &input, const CompileArgs &args,
                 const std::string &out, std::string &artifactPath,
                 std::string &error);
bool compileModule(const Module &module, const CompileArgs &args,
                   const std::string &out, std::string &artifactPath,
                   std::string &error);

struct RooflineArgs {
  std::string hardware = "nvidia-a100-80gb";
  std::string phase = "decode";
  int64_t batch = 1, seq = 1, kvLen = 0, logitsRows = 1;
  int optLevel = 2;
};

struct RooflineRow {
  std::string op, weight, bound;
  int64_t layer;
  double flops, weightBytes, actLoadBytes, actStoreBytes, kvLoadBytes,
      kvStoreBytes, intensity, attainableFlops, timeS;
};

/// Per-op roofline of a model path / .mlir / config.json, or of a Module,
/// as `llmc roofline` computes it.
bool rooflinePath(const std::string &input, const RooflineArgs &args,
                  std::vector<RooflineRow> &rows, std::string &error);
bool rooflineModule(const Module &module, const RooflineArgs &args,
                    std::vector<RooflineRow> &rows, std::string &error);

/// A tokenizer read from an artifact's manifest and "tokenizer" section.
class Tokenizer {
public:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  ~Tokenizer();
  std::vector<int32_t> encode(const std::string &text, bool addBos) const;
  std::string decode(const std::vector<int32_t> &ids) const;
  /// The bytes `id` adds after `prev` (-1 at the start), for streaming.
  std::string decodeToken(int32_t prev, int32_t id) const;
  int64_t vocabSize() const;
  int32_t bos() const;
  int32_t eos() const;

private:
  std::unique_ptr<Impl> p;
};

/// `format` is the manifest's tokenizer format name; `path` names the
/// artifact in errors.
std::unique_ptr<Tokenizer> parseTokenizer(const std::string &format,
                                          const std::string &path,
                                          const std::string &bytes,
                                          std::string &error);

} // namespace llmc::api

#endif
