//===- GGUFModel.cpp - a GGUF file's model as llama.cpp reads it ----------===//
//
// The config of each llama.cpp architecture llmc reads, from the metadata
// its converter (convert_hf_to_gguf.py) writes, with llama.cpp's own rules
// where the file leaves something out (Gemma's attention scale and layer
// pattern), and llama.cpp's tensor names. What the converter changed is
// undone here, not in the lowering: Llama's Q/K rows are permuted for
// interleaved RoPE pairs, Gemma's norms are stored as 1 + w, DeepSeek-V2's
// kv_b_proj is split into per-head k_b (transposed) and v_b.
//
//===----------------------------------------------------------------------===//

#include "importers/GGUF.h"
#include "importers/ModelSource.h"
#include <cmath>

using namespace llmc;
using llvm::Error;

namespace {
/// Typed metadata access with errors naming the key.
struct Meta {
  const GGUFFile &f;
  llvm::StringRef path;
  std::string prefix;

  const GGUFValue *find(llvm::StringRef key) const { return f.find(key); }
  Error integer(llvm::StringRef key, int64_t &out, bool required = true) const {
    std::string full = prefix + key.str();
    const GGUFValue *v = find(full);
    if (!v)
      return required ? fileError(path, "metadata '" + full + "' is missing")
                      : Error::success();
    if (!v->isInteger())
      return fileError(path, "metadata '" + full + "' must be an integer");
    out = v->integer;
    return Error::success();
  }
  Error number(llvm::StringRef key, double &out) const {
    std::string full = prefix + key.str();
    const GGUFValue *v = find(full);
    if (!v)
      return Error::success();
    if (v->kind != GGUFValue::Number)
      return fileError(path, "metadata '" + full + "' must be a number");
    out = v->num;
    return Error::success();
  }
  Error optionalNumber(llvm::StringRef key, std::optional<double> &out) const {
    if (!find(prefix + key.str()))
      return Error::success();
    double v = 0;
    if (Error e = number(key, v))
      return e;
    out = v;
    return Error::success();
  }
  bool flag(llvm::StringRef key) const {
    const GGUFValue *v = find(prefix + key.str());
    return v && v->kind == GGUFValue::Bool && v->integer;
  }
  std::string string(llvm::StringRef key) const {
    const GGUFValue *v = find(prefix + key.str());
    return v && v->kind == GGUFValue::String ? v->str : "";
  }
};

constexpr const char *kArchitectures[] = {
    "llama",  "mistral", "qwen2", "qwen2moe", "qwen3",  "qwen3moe", "gemma",
    "gemma2", "gemma3",  "phi3",  "gpt2",     "olmo2",  "deepseek2"};

std::string supportedArchitectures() {
  std::string s;
  for (const char *a : kArchitectures)
    s += (s.empty() ? "" : ", ") + std::string(a);
  return s;
}

/// A float32 vector tensor's values (RoPE factors), checked for length.
llvm::Expected<std::vector<double>> factorTensor(const ModelSource &source,
                                                 llvm::StringRef path,
                                                 llvm::StringRef name,
                                                 int64_t pairs) {
  const TensorInfo *t = source.lookup(name);
  if (!t || t->shape.size() != 1 || t->shape[0] != pairs)
    return fileError(path, "tensor '" + name + "' must hold " +
                               llvm::Twine(pairs) + " RoPE factors");
  std::vector<float> v = source.readF32(*t);
  for (float f : v)
    if (!(f > 0) || !std::isfinite(f))
      return fileError(path, "tensor '" + name + "' has a non-positive "
                                                 "RoPE factor");
  return std::vector<double>(v.begin(), v.end());
}

/// RoPE scaling: `rope.scaling.*` metadata, and the per-pair frequency
/// factors llama.cpp keeps as tensors (rope_freqs: Llama 3.1's wavelength
/// scaling, precomputed; rope_factors_short/long: Phi-3's LongRoPE).
Error readRopeScaling(const Meta &m, const ModelSource &source,
                      ModelConfig &c) {
  int64_t pairs = (c.rotaryDim > 0 ? c.rotaryDim : c.headDim) / 2;
  if (source.lookup("rope_freqs.weight")) {
    auto f = factorTensor(source, m.path, "rope_freqs.weight", pairs);
    if (!f)
      return f.takeError();
    RopeScaling s;
    s.kind = RopeScaling::LongRope; // every pair divided by its factor
    s.shortFactor = s.longFactor = *f;
    s.originalMaxPositions = c.maxSeq;
    c.ropeScaling = s;
    return Error::success();
  }
  if (source.lookup("rope_factors_long.weight")) {
    RopeScaling s;
    s.kind = RopeScaling::LongRope;
    for (auto [name, out] : {std::pair<const char *, std::vector<double> *>{
                                 "rope_factors_short.weight", &s.shortFactor},
                             {"rope_factors_long.weight", &s.longFactor}}) {
      auto f = factorTensor(source, m.path, name, pairs);
      if (!f)
        return f.takeError();
      *out = *f;
    }
    if (Error e = m.integer("rope.scaling.original_context_length",
                            s.originalMaxPositions))
      return e;
    s.factor = double(c.maxSeq) / double(s.originalMaxPositions);
    s.attentionFactor =
        s.factor <= 1 ? 1.0
                      : std::sqrt(1 + std::log(s.factor) /
                                          std::log(double(s.originalMaxPositions)));
    if (Error e = m.number("rope.scaling.attn_factor", s.attentionFactor))
      return e;
    c.ropeScaling = s;
    return Error::success();
  }
  std::string type = m.string("rope.scaling.type");
  if (type.empty() || type == "none")
    return Error::success();
  RopeScaling s;
  if (Error e = m.number("rope.scaling.factor", s.factor))
    return e;
  if (type == "linear") {
    s.kind = RopeScaling::Linear;
  } else if (type == "yarn") {
    s.kind = RopeScaling::Yarn;
    if (Error e = m.integer("rope.scaling.original_context_length",
                            s.originalMaxPositions))
      return e;
    s.betaFast = 32;
    s.betaSlow = 1;
    double attn = 1.0;
    for (auto [key, out] : {std::pair<const char *, double *>{
                                "rope.scaling.yarn_beta_fast", &s.betaFast},
                            {"rope.scaling.yarn_beta_slow", &s.betaSlow},
                            {"rope.scaling.attn_factor", &attn}})
      if (Error e = m.number(key, *out))
        return e;
    // ggml's YaRN multiplies cos/sin by attn_factor * (1 + 0.1 ln(factor)).
    s.attentionFactor = attn * yarnMscale(s.factor);
  } else {
    return fileError(m.path, "rope scaling '" + type +
                                 "' is not supported (linear, yarn, none)");
  }
  if (!(s.factor > 0))
    return fileError(m.path, "rope scaling factor must be positive");
  c.ropeScaling = s;
  return Error::success();
}

/// Gemma 2/3: the attention scale and sliding pattern llama.cpp assumes
/// (GGUF records neither query_pre_attn_scalar nor the layer pattern):
/// 1/sqrt(head_dim), or 1/sqrt(dim / heads) for the 27B models (46 and 62
/// layers); Gemma 2 slides on even layers, Gemma 3 on 5 of every 6.
Error readGemma(const Meta &m, ModelConfig &c) {
  c.normWeightOffset = 0; // the converter stored 1 + w
  c.embeddingScale = static_cast<float>(std::sqrt(double(c.dim)));
  c.ffnActivation = ModelConfig::Activation::GeLUTanh;
  if (c.arch == "gemma")
    return Error::success();
  c.postNorms = true;
  bool is27B = c.numLayers == (c.arch == "gemma2" ? 46 : 62);
  c.attentionScale =
      1.0 / std::sqrt(is27B ? double(c.dim / c.numHeads) : double(c.headDim));
  if (Error e = m.optionalNumber("attn_logit_softcapping", c.attentionSoftcap))
    return e;
  if (Error e = m.optionalNumber("final_logit_softcapping", c.finalSoftcap))
    return e;
  int64_t pattern = c.arch == "gemma2" ? 2 : 6;
  for (int64_t l = 0; l < c.numLayers; ++l)
    c.slidingLayers.push_back(l % pattern < pattern - 1);
  if (c.arch == "gemma3") {
    c.qkNorm = ModelConfig::QKNorm::PerHead;
    RopeParams local{10000.0, std::nullopt};
    if (Error e = m.number("rope.freq_base_swa", local.theta))
      return e;
    c.slidingRope = local;
  }
  return Error::success();
}

/// DeepSeek-V2 (llama.cpp's deepseek2): MLA sizes, per-head k_b / v_b,
/// leading dense layers, softmax routing scaled by expert_weights_scale,
/// optionally group-limited; with YaRN, llama.cpp keeps cos/sin unscaled
/// and folds (1 + yarn_log_multiplier ln(factor))^2 into the q.k scale.
Error readDeepSeek2(const Meta &m, ModelConfig &c) {
  ModelConfig::LatentAttention a;
  int64_t qkHead = 0, dense = 0, shared = 0;
  for (auto [key, out] :
       {std::pair<const char *, int64_t *>{"attention.kv_lora_rank", &a.kvLora},
        {"attention.key_length_mla", &qkHead},
        {"attention.value_length_mla", &a.valueDim},
        {"rope.dimension_count", &a.ropeDim},
        {"expert_feed_forward_length", &c.expertHiddenDim}})
    if (Error e = m.integer(key, *out))
      return e;
  for (auto [key, out] :
       {std::pair<const char *, int64_t *>{"attention.q_lora_rank", &a.qLora},
        {"leading_dense_block_count", &dense},
        {"expert_shared_count", &shared},
        {"expert_group_count", &c.expertGroups},
        {"expert_group_used_count", &c.topGroups}})
    if (Error e = m.integer(key, *out, false))
      return e;
  a.nopeDim = qkHead - a.ropeDim;
  c.mla = a;
  c.headDim = qkHead;
  c.numKvHeads = c.numHeads;
  c.rotaryDim = 0;
  c.sharedHiddenDim = shared * c.expertHiddenDim;
  for (int64_t l = 0; l < std::min(dense, c.numLayers); ++l)
    c.denseLayers.push_back(l);
  int64_t gating = 1;
  if (Error e = m.integer("expert_gating_func", gating, false))
    return e;
  if (gating != 1 || m.flag("expert_weights_norm"))
    return fileError(m.path, "deepseek2 with sigmoid gating or normalised "
                             "expert weights (DeepSeek-V3) is not supported");
  c.routing = ModelConfig::Routing::SoftmaxTopK;
  c.routedScale = 1.0;
  if (Error e = m.number("expert_weights_scale", c.routedScale))
    return e;
  if (c.expertGroups <= 1)
    c.expertGroups = c.topGroups = 0;
  double scale = 1.0 / std::sqrt(double(qkHead));
  if (c.ropeScaling && c.ropeScaling->kind == RopeScaling::Yarn) {
    double logMul = 0;
    if (Error e = m.number("rope.scaling.yarn_log_multiplier", logMul))
      return e;
    double ms = 1 + logMul * std::log(c.ropeScaling->factor);
    scale *= ms * ms;
    c.ropeScaling->attentionFactor = 1.0;
  }
  c.attentionScale = scale;
  return Error::success();
}

/// llama.cpp's tensor names (blk.N.*).
std::string ggufName(Role role, int64_t layer) {
  std::string b = "blk." + std::to_string(layer) + ".";
  switch (role) {
  case Role::TokenEmbedding: return "token_embd.weight";
  case Role::PositionEmbedding: return "position_embd.weight";
  case Role::AttnNorm: return b + "attn_norm.weight";
  case Role::AttnNormBias: return b + "attn_norm.bias";
  case Role::Wq: return b + "attn_q.weight";
  case Role::Wk: return b + "attn_k.weight";
  case Role::Wv: return b + "attn_v.weight";
  case Role::Wqkv: return b + "attn_qkv.weight";
  case Role::Wo: return b + "attn_output.weight";
  case Role::Bq: return b + "attn_q.bias";
  case Role::Bk: return b + "attn_k.bias";
  case Role::Bv: return b + "attn_v.bias";
  case Role::Bqkv: return b + "attn_qkv.bias";
  case Role::Bo: return b + "attn_output.bias";
  case Role::FfnNorm: return b + "ffn_norm.weight";
  case Role::FfnNormBias: return b + "ffn_norm.bias";
  case Role::QNorm: return b + "attn_q_norm.weight";
  case Role::KNorm: return b + "attn_k_norm.weight";
  case Role::PostAttnNorm: return b + "post_attention_norm.weight";
  case Role::PostFfnNorm: return b + "post_ffw_norm.weight";
  case Role::FfnGate: return b + "ffn_gate.weight";
  case Role::FfnUp: return b + "ffn_up.weight";
  case Role::FfnGateUp: return b + "ffn_up.weight";
  case Role::FfnDown: return b + "ffn_down.weight";
  case Role::BUp: return b + "ffn_up.bias";
  case Role::BDown: return b + "ffn_down.bias";
  case Role::FinalNorm: return "output_norm.weight";
  case Role::FinalNormBias: return "output_norm.bias";
  case Role::Output: return "output.weight";
  case Role::Router: return b + "ffn_gate_inp.weight";
  case Role::ExpertGate: return b + "ffn_gate_exps.weight";
  case Role::ExpertUp: return b + "ffn_up_exps.weight";
  case Role::ExpertDown: return b + "ffn_down_exps.weight";
  case Role::SharedGate: return b + "ffn_gate_shexp.weight";
  case Role::SharedUp: return b + "ffn_up_shexp.weight";
  case Role::SharedDown: return b + "ffn_down_shexp.weight";
  case Role::SharedScale: return b + "ffn_gate_inp_shexp.weight";
  case Role::QA: return b + "attn_q_a.weight";
  case Role::QANorm: return b + "attn_q_a_norm.weight";
  case Role::QB: return b + "attn_q_b.weight";
  case Role::KVA: return b + "attn_kv_a_mqa.weight";
  case Role::KVANorm: return b + "attn_kv_a_norm.weight";
  case Role::KVB: return ""; // split into k_b and v_b
  case Role::KB: return b + "attn_k_b.weight";
  case Role::VB: return b + "attn_v_b.weight";
  }
  return "";
}

/// Sizes, norms and RoPE every architecture shares.
Error readCommon(const Meta &m, ModelConfig &c) {
  for (auto [key, out] :
       {std::pair<const char *, int64_t *>{"embedding_length", &c.dim},
        {"block_count", &c.numLayers},
        {"feed_forward_length", &c.hiddenDim},
        {"context_length", &c.maxSeq},
        {"attention.head_count", &c.numHeads}})
    if (Error e = m.integer(key, *out))
      return e;
  c.numKvHeads = c.numHeads;
  if (Error e = m.integer("attention.head_count_kv", c.numKvHeads, false))
    return e;
  c.headDim = c.numHeads > 0 ? c.dim / c.numHeads : 0;
  if (Error e = m.integer("attention.key_length", c.headDim, false))
    return e;
  int64_t ropeDims = c.headDim;
  if (Error e = m.integer("rope.dimension_count", ropeDims, false))
    return e;
  if (ropeDims < c.headDim)
    c.rotaryDim = ropeDims;
  if (Error e = m.number("attention.layer_norm_rms_epsilon", c.normEps))
    return e;
  if (Error e = m.number("attention.layer_norm_epsilon", c.normEps))
    return e;
  if (Error e = m.number("rope.freq_base", c.ropeTheta))
    return e;
  int64_t window = 0;
  if (Error e = m.integer("attention.sliding_window", window, false))
    return e;
  if (window > 0)
    c.slidingWindow = window;
  if (Error e = m.integer("expert_count", c.numExperts, false))
    return e;
  return m.integer("expert_used_count", c.expertsPerToken, false);
}

/// Mixture-of-experts routing of the Qwen MoE families; layers without a
/// router keep a dense MLP (Qwen's mlp_only_layers).
Error readQwenMoE(const Meta &m, const ModelSource &source, ModelConfig &c) {
  if (Error e = m.integer("expert_feed_forward_length", c.expertHiddenDim))
    return e;
  if (c.arch == "qwen3moe") {
    // Softmax over all experts, the top k renormalised; no shared expert.
    c.routing = ModelConfig::Routing::SoftmaxTopKNorm;
  } else {
    // Softmax over all, the top k (not renormalised); a shared expert
    // scaled by sigmoid(gate · x).
    if (Error e = m.integer("expert_shared_feed_forward_length",
                            c.sharedHiddenDim, false))
      return e;
    c.sharedExpertGate = c.sharedHiddenDim > 0;
    c.routing = m.flag("expert_weights_norm")
                    ? ModelConfig::Routing::SoftmaxTopKNorm
                    : ModelConfig::Routing::SoftmaxTopK;
  }
  for (int64_t l = 0; l < c.numLayers; ++l)
    if (!source.lookup("blk." + std::to_string(l) + ".ffn_gate_inp.weight"))
      c.denseLayers.push_back(l);
  return Error::success();
}

/// What sets each family apart from Llama.
Error readFamily(const Meta &m, ModelSource &source, ModelConfig &c) {
  llvm::StringRef arch = c.arch;
  // llama.cpp stores Llama's Q/K rows permuted for interleaved RoPE pairs
  // (as DeepSeek's own are); the others keep Hugging Face's half rotation.
  c.ropeStyle = arch == "llama" || arch == "mistral" || arch == "deepseek2"
                    ? RopeStyle::Interleaved
                    : RopeStyle::Half;
  if (arch == "qwen3" || arch == "qwen3moe")
    c.qkNorm = ModelConfig::QKNorm::PerHead;
  if (arch == "qwen2moe" || arch == "qwen3moe")
    if (Error e = readQwenMoE(m, source, c))
      return e;
  if (arch.starts_with("gemma"))
    return readGemma(m, c);
  if (arch == "phi3") {
    c.fusedQKV = c.fusedGateUp = true;
  } else if (arch == "olmo2") {
    c.qkNorm = ModelConfig::QKNorm::Whole;
    c.preNorms = false;
    c.postNorms = true;
  } else if (arch == "gpt2") {
    // LayerNorm with biases, learned positions, an ungated GELU MLP,
    // biases on every linear; the converter already transposed Conv1D.
    c.layerNorm = c.learnedPositions = c.linearBias = true;
    c.fusedQKV = true;
    c.gatedFFN = false;
    c.ffnActivation = ModelConfig::Activation::GeLUTanh;
    // The converter writes feed_forward_length = 4 * dim whatever n_inner
    // says; the MLP's weights know.
    if (const TensorInfo *up = source.lookup("blk.0.ffn_up.weight");
        up && up->shape.size() == 2)
      c.hiddenDim = up->shape[0];
  } else if (arch == "deepseek2") {
    return readDeepSeek2(m, c);
  }
  return Error::success();
}
} // namespace

Error llmc::readGGUFModel(const GGUFFile &file, llvm::StringRef path,
                          ModelSource &source) {
  const GGUFValue *archValue = file.find("general.architecture");
  if (!archValue || archValue->kind != GGUFValue::String)
    return fileError(path, "metadata 'general.architecture' is missing");
  std::string arch = archValue->str;
  if (!llvm::is_contained(kArchitectures, arch))
    return fileError(path, "architecture '" + arch + "' is not supported (" +
                               supportedArchitectures() + ")");
  Meta m{file, path, arch + "."};
  ModelConfig &c = source.config;
  c.arch = arch;
  if (Error e = readCommon(m, c))
    return e;
  if (Error e = readRopeScaling(m, source, c))
    return e;
  if (Error e = readFamily(m, source, c))
    return e;
  if (!c.slidingLayers.empty() && !c.slidingWindow)
    c.slidingLayers.clear();
  const TensorInfo *embd = source.lookup("token_embd.weight");
  if (!embd || embd->shape.size() != 2)
    return fileError(path, "tensor 'token_embd.weight' is missing or not 2-D");
  c.vocabSize = embd->shape[0];
  c.tiedEmbeddings = !source.lookup("output.weight");
  c.qkvBias = source.lookup("blk.0.attn_q.bias") != nullptr;
  if (Error e = c.validate(path))
    return e;
  source.stackedExperts = true;
  source.nameOf = [](Role role, int64_t layer, int64_t) {
    return ggufName(role, layer);
  };
  return Error::success();
}
