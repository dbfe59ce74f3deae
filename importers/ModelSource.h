//===- ModelSource.h - an opened model: config, tensors, tokenizer -*- C++ -*-===//
//
// Every importer (llama2.c, Hugging Face safetensors, GGUF) produces a
// ModelSource: the architecture-neutral config, the tensor table (names as
// in the source file, bytes left in the mmapped file) and where the
// tokenizer comes from. The IR builder and the weight packer only see this.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORTERS_MODELSOURCE_H
#define LLMC_IMPORTERS_MODELSOURCE_H

#include "importers/Tensor.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

/// llvm::Error "PATH: MESSAGE" — every importer error names the file.
llvm::Error fileError(llvm::StringRef path, const llvm::Twine &message);

enum class RopeStyle { Interleaved, Half };

struct RopeScaling {
  enum Kind { Linear, Llama3 } kind = Linear;
  double factor = 1.0;
  double lowFreqFactor = 0, highFreqFactor = 0;
  int64_t originalMaxPositions = 0;
};

/// Architecture-neutral decoder-only transformer configuration.
struct ModelConfig {
  std::string arch; // "llama", "mistral", "qwen2", "mixtral"
  int64_t dim = 0, hiddenDim = 0, numLayers = 0, numHeads = 0,
          numKvHeads = 0, headDim = 0, vocabSize = 0, maxSeq = 0;
  double normEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeStyle ropeStyle = RopeStyle::Interleaved;
  std::optional<RopeScaling> ropeScaling;
  bool tiedEmbeddings = false;
  bool qkvBias = false;
  std::optional<int64_t> slidingWindow;
  int64_t numExperts = 0, expertsPerToken = 0; // MoE when numExperts > 0
  /// A routed expert's hidden size (0: hiddenDim, as Mixtral).
  int64_t expertHiddenDim = 0;
  /// The shared expert's hidden size (0: none); with sharedExpertGate its
  /// output is scaled by sigmoid(w · x) (Qwen2-MoE).
  int64_t sharedHiddenDim = 0;
  bool sharedExpertGate = false;
  /// How router logits become expert weights: softmax over the top k
  /// (Mixtral), or softmax over all then the top k (Qwen2-MoE), optionally
  /// renormalised.
  enum class Routing { TopKSoftmax, SoftmaxTopK, SoftmaxTopKNorm };
  Routing routing = Routing::TopKSoftmax;
  /// Layers of an MoE model that keep a dense MLP (hiddenDim).
  std::vector<int64_t> denseLayers;

  bool isMoELayer(int64_t layer) const {
    return numExperts > 0 && llvm::find(denseLayers, layer) == denseLayers.end();
  }
  int64_t expertHidden() const {
    return expertHiddenDim > 0 ? expertHiddenDim : hiddenDim;
  }

  int64_t kvDim() const { return numKvHeads * headDim; }
  int64_t qDim() const { return numHeads * headDim; }
  /// Checks positivity and divisibility; `path` names the file in errors.
  llvm::Error validate(llvm::StringRef path) const;
};

/// What a weight is for in the decoder; the source maps roles to its names.
enum class Role {
  TokenEmbedding, AttnNorm, Wq, Wk, Wv, Wo, Bq, Bk, Bv, FfnNorm,
  FfnGate, FfnUp, FfnDown, FinalNorm, Output,
  Router, ExpertGate, ExpertUp, ExpertDown,
  SharedGate, SharedUp, SharedDown, SharedScale
};

enum class TokenizerFormat { None, Llama2C, SentencePieceModel, HFJson, GGUF };

struct TokenizerSpec {
  TokenizerFormat format = TokenizerFormat::None;
  std::string path; // file holding it (the model file for GGUF)
};

class ModelSource {
public:
  std::string format; // "llama2c", "hf", "gguf"
  std::string path;   // what the user named (file or directory)
  ModelConfig config;
  TokenizerSpec tokenizer;

  /// Source tensor name of `role` in `layer` (and `expert`); empty when the
  /// source has no such tensor (e.g. no bias, tied output).
  std::function<std::string(Role, int64_t layer, int64_t expert)> nameOf;
  /// True when the experts of a layer are stacked in one [E, ...] tensor
  /// (GGUF) rather than one tensor per expert (Hugging Face).
  bool stackedExperts = false;
  /// Storage type a config-only source describes its weights with.
  DType declaredDType = DType::F16;

  const TensorInfo *lookup(llvm::StringRef name) const;
  const std::vector<TensorInfo> &tensors() const { return tensorList; }
  /// The stored bytes of a tensor (bounds were checked at open time).
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &t) const;
  /// All elements converted to float.
  std::vector<float> readF32(const TensorInfo &t) const;

  /// Checks that `name` exists with `shape` (and a dtype llmc reads).
  llvm::Error expectTensor(llvm::StringRef name,
                           llvm::ArrayRef<int64_t> shape) const;
  /// Checks every tensor the config implies (roles by layer).
  llvm::Error checkTensors() const;
  /// Calls `fn` with the name and shape of every tensor the config implies.
  llvm::Error forEachExpectedTensor(
      llvm::function_ref<llvm::Error(const std::string &,
                                     llvm::ArrayRef<int64_t>)>
          fn) const;
  /// For analysis without weights (a bare config.json): describes every
  /// tensor the config implies as `dtype`, with no bytes behind it.
  /// `hasWeights()` is then false.
  void addDescribedTensors(DType dtype);
  bool hasWeights() const { return !files.empty(); }
  unsigned numFiles() const { return files.size(); }

  // Used by the readers while opening.
  unsigned addFile(std::unique_ptr<llvm::MemoryBuffer> buffer);
  llvm::ArrayRef<uint8_t> fileBytes(unsigned file) const;
  llvm::Error addTensor(TensorInfo info, llvm::StringRef fileForErrors);

private:
  std::vector<std::unique_ptr<llvm::MemoryBuffer>> files;
  std::vector<TensorInfo> tensorList;
  llvm::StringMap<size_t> byName;
};

/// Opens a model: a llama2.c `.bin`, a GGUF file, or a Hugging Face
/// directory (config.json + safetensors). `tokenizerPath` overrides or
/// supplies the tokenizer (required for llama2.c).
llvm::Expected<std::unique_ptr<ModelSource>>
openModel(llvm::StringRef path, llvm::StringRef tokenizerPath = "");

// Format readers (each also used directly by the fuzz targets).
llvm::Expected<std::unique_ptr<ModelSource>>
openLlama2C(llvm::StringRef path, std::unique_ptr<llvm::MemoryBuffer> buffer);
llvm::Expected<std::unique_ptr<ModelSource>>
openGGUF(llvm::StringRef path, std::unique_ptr<llvm::MemoryBuffer> buffer);
llvm::Expected<std::unique_ptr<ModelSource>>
openHuggingFace(llvm::StringRef directory);
/// A bare Hugging Face config.json: config and tensor descriptions (dtype
/// from torch_dtype), no weights. Enough for IR and roofline analysis.
llvm::Expected<std::unique_ptr<ModelSource>>
openHuggingFaceConfig(llvm::StringRef configPath);

/// Parses a safetensors file's header into `source` (file index `file`).
llvm::Error readSafetensorsHeader(ModelSource &source, unsigned file,
                                  llvm::StringRef path);

/// Reads a whole file (mmapped when large); error names the file.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readFile(llvm::StringRef path);

} // namespace llmc

#endif // LLMC_IMPORTERS_MODELSOURCE_H
