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
#include <cmath>
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
  enum Kind { Linear, Llama3, LongRope, Yarn } kind = Linear;
  double factor = 1.0;
  double lowFreqFactor = 0, highFreqFactor = 0;
  int64_t originalMaxPositions = 0;
  /// LongRoPE (Phi-3): per-pair factors and the cos/sin multiplier (also
  /// YaRN's).
  std::vector<double> shortFactor, longFactor;
  double attentionFactor = 1.0;
  /// YaRN: the rotation counts bounding its interpolation ramp.
  double betaFast = 0, betaSlow = 0;
};

/// YaRN's mscale (Eq. 21 of the paper; transformers' yarn_get_mscale):
/// 0.1 * mscale * ln(factor) + 1, or 1 without extrapolation.
inline double yarnMscale(double factor, double mscale = 1.0) {
  return factor <= 1 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

/// The RoPE of one kind of layer: base frequency and optional scaling.
struct RopeParams {
  double theta = 10000.0;
  std::optional<RopeScaling> scaling;
  /// The fraction of each head that rotates (partial_rotary_factor).
  double partialRotary = 1.0;
};

/// Architecture-neutral decoder-only transformer configuration.
struct ModelConfig {
  std::string arch; // "llama", "qwen3", "gemma2", ... (docs/importers.md)
  int64_t dim = 0, hiddenDim = 0, numLayers = 0, numHeads = 0,
          numKvHeads = 0, headDim = 0, vocabSize = 0, maxSeq = 0;
  double normEps = 1e-5;
  double ropeTheta = 10000.0;
  RopeStyle ropeStyle = RopeStyle::Interleaved;
  /// Elements of each head that RoPE rotates (0: the whole head).
  int64_t rotaryDim = 0;
  std::optional<RopeScaling> ropeScaling;
  /// RoPE of the sliding-window layers where it differs from the global
  /// one above (Gemma 3's local base frequency).
  std::optional<RopeParams> slidingRope;
  bool tiedEmbeddings = false;
  bool qkvBias = false;
  /// One [q; k; v] projection (Phi-3's qkv_proj) and one [gate; up]
  /// projection (gate_up_proj) instead of separate weights.
  bool fusedQKV = false, fusedGateUp = false;
  /// GPT-2: LayerNorm with bias instead of RMSNorm, learned absolute
  /// positions instead of RoPE, an ungated MLP (act(up) -> down), a bias on
  /// every linear, and weights stored [in, out] (Conv1D).
  bool layerNorm = false, learnedPositions = false, gatedFFN = true,
       linearBias = false, transposedWeights = false;
  std::optional<int64_t> slidingWindow;
  /// Which layers use `slidingWindow` (empty: all of them); Gemma 2/3
  /// alternate sliding-window and global layers.
  std::vector<bool> slidingLayers;

  // What sets the newer families apart from Llama (all off for Llama):
  /// RMSNorm on the projected queries and keys before RoPE: per head
  /// (Qwen3, Gemma 3: weight [head_dim]) or over all heads (OLMo 2).
  enum class QKNorm { None, PerHead, Whole };
  QKNorm qkNorm = QKNorm::None;
  /// Norms before attention and MLP (input_layernorm, ...) and after them
  /// (Gemma 2/3 have both; OLMo 2 only the post-norms).
  bool preNorms = true, postNorms = false;
  /// RMSNorm scales by (normWeightOffset + w): Gemma stores w - 1.
  double normWeightOffset = 0;
  /// Embeddings multiplied by this (Gemma: sqrt(dim)); 0 = not scaled.
  double embeddingScale = 0;
  /// The gated MLP's activation: silu(gate) * up or gelu(gate) * up.
  enum class Activation { SiLU, GeLU, GeLUTanh };
  Activation ffnActivation = Activation::SiLU;
  /// Attention score scale (default 1/sqrt(head_dim)) and the soft caps of
  /// attention scores and final logits (Gemma 2).
  std::optional<double> attentionScale, attentionSoftcap, finalSoftcap;

  bool isSlidingLayer(int64_t layer) const {
    return slidingWindow &&
           (slidingLayers.empty() ||
            (layer < int64_t(slidingLayers.size()) && slidingLayers[layer]));
  }
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

  /// Multi-head latent attention (DeepSeek-V2): keys and values are
  /// expanded from a `kvLora`-wide latent (normalised) per position, plus
  /// one `ropeDim` RoPE key shared by all heads; queries come from the
  /// hidden state, or from a `qLora`-wide normalised latent. Each head's
  /// query is `nopeDim + ropeDim` wide, its value `valueDim`.
  struct LatentAttention {
    int64_t kvLora = 0, qLora = 0, nopeDim = 0, ropeDim = 0, valueDim = 0;
  };
  std::optional<LatentAttention> mla;
  /// DeepSeek routing: routed experts' weights times routedScale (0: 1);
  /// with expertGroups > 0 only the experts of the topGroups best groups
  /// compete.
  double routedScale = 0;
  int64_t expertGroups = 0, topGroups = 0;

  int64_t kvDim() const { return numKvHeads * headDim; }
  int64_t qDim() const { return numHeads * headDim; }
  /// Checks positivity and divisibility; `path` names the file in errors.
  llvm::Error validate(llvm::StringRef path) const;
};

/// What a weight is for in the decoder; the source maps roles to its names.
enum class Role {
  TokenEmbedding, PositionEmbedding, AttnNorm, Wq, Wk, Wv, Wqkv, Wo, Bq, Bk,
  Bv, Bqkv, Bo, QNorm, KNorm, PostAttnNorm, FfnNorm, FfnGate, FfnUp,
  FfnGateUp, FfnDown, BUp, BDown, PostFfnNorm, FinalNorm, Output,
  // LayerNorm biases (GPT-2).
  AttnNormBias, FfnNormBias, FinalNormBias,
  Router, ExpertGate, ExpertUp, ExpertDown,
  SharedGate, SharedUp, SharedDown, SharedScale,
  // Multi-head latent attention (DeepSeek-V2): the query latent's down
  // projection, norm and up projection; the KV latent (+ RoPE key) down
  // projection, norm and up projection to per-head keys and values (one
  // tensor in Hugging Face; llama.cpp splits it into KB, per head [latent,
  // nope], and VB, per head [v, latent]).
  QA, QANorm, QB, KVA, KVANorm, KVB, KB, VB
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
  /// Drops this process's resident pages of the model files mapped from
  /// disk (they stay in the page cache and fault in again when read), so
  /// packing weight by weight never holds the whole model resident.
  void releaseMappedPages() const;
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
