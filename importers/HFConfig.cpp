//===- HFConfig.cpp - Hugging Face config.json -> ModelConfig -------------===//

#include "importers/HFConfig.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include <cmath>
#include <nlohmann/json.hpp>

using namespace llmc;
using llvm::Error;
using json = nlohmann::json;

namespace {
bool boolOr(const json &j, const char *key, bool fallback) {
  return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}
std::string stringOr(const json &j, const char *key, std::string fallback) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                               : fallback;
}
bool present(const json &j, const char *key) {
  return j.contains(key) && !j[key].is_null();
}

/// Reads typed config.json fields; errors name config.json and the key.
struct Reader {
  const json &j;
  std::string path;

  /// `out = obj[key]` when present (an integer for int64_t, any number for
  /// double); an error when it has another type, or is required and absent.
  template <typename T>
  Error field(const json &obj, const char *key, T &out, bool required) const {
    constexpr bool integral = std::is_integral_v<T>;
    if (!present(obj, key))
      return required ? fileError(path, "'" + llvm::Twine(key) + "' is missing")
                      : Error::success();
    if (integral ? !obj[key].is_number_integer() : !obj[key].is_number())
      return fileError(path, "'" + llvm::Twine(key) + "' must be " +
                                 (integral ? "an integer" : "a number"));
    out = obj[key].get<T>();
    return Error::success();
  }
  Error integer(const char *key, int64_t &out, bool required = true) const {
    return field(j, key, out, required);
  }
  Error number(const json &obj, const char *key, double &out,
               bool required = false) const {
    return field(obj, key, out, required);
  }
  Error optionalNumber(const char *key, std::optional<double> &out) const {
    if (!present(j, key))
      return Error::success();
    double v = 0;
    if (Error e = number(j, key, v))
      return e;
    out = v;
    return Error::success();
  }
};

struct Architecture {
  const char *hfName, *arch;
};
// The `architectures[0]` values llmc imports and the family each becomes.
constexpr Architecture kArchitectures[] = {
    {"LlamaForCausalLM", "llama"},     {"MistralForCausalLM", "mistral"},
    {"Qwen2ForCausalLM", "qwen2"},     {"MixtralForCausalLM", "mixtral"},
    {"Qwen2MoeForCausalLM", "qwen2_moe"}, {"Qwen3ForCausalLM", "qwen3"},
    {"Qwen3MoeForCausalLM", "qwen3_moe"}, {"GemmaForCausalLM", "gemma"},
    {"Gemma2ForCausalLM", "gemma2"},   {"Gemma3ForCausalLM", "gemma3"},
    {"Olmo2ForCausalLM", "olmo2"},     {"Phi3ForCausalLM", "phi3"},
    {"GPT2LMHeadModel", "gpt2"},       {"DeepseekV2ForCausalLM", "deepseek_v2"}};

bool isGemma(llvm::StringRef arch) { return arch.starts_with("gemma"); }

/// The fraction of each head RoPE rotates (partial_rotary_factor, at the
/// top level or in a rope dict; Phi-4-mini, GPT-NeoX): `partial` keeps the
/// last value found.
Error readPartialRotary(const Reader &cfg, const json &obj, double &partial) {
  if (Error e = cfg.number(obj, "partial_rotary_factor", partial))
    return e;
  if (!(partial > 0 && partial <= 1))
    return fileError(cfg.path, "partial_rotary_factor must be in (0, 1]");
  return Error::success();
}

/// The pretraining context of LongRoPE and YaRN
/// (original_max_position_embeddings, in the rope dict or at the top
/// level) and the default `factor`, max_position_embeddings / original.
Error readOriginalContext(const Reader &cfg, const json &rs, RopeScaling &s) {
  double orig = 0, maxPos = 0;
  const json &origFrom =
      present(rs, "original_max_position_embeddings") ? rs : cfg.j;
  if (Error e = cfg.number(origFrom, "original_max_position_embeddings", orig,
                           true))
    return e;
  if (!(orig >= 1))
    return fileError(cfg.path, "original_max_position_embeddings must be >= 1");
  s.originalMaxPositions = static_cast<int64_t>(orig);
  if (Error e = cfg.number(cfg.j, "max_position_embeddings", maxPos))
    return e;
  s.factor = maxPos > 0 ? maxPos / orig : 1.0;
  return Error::success();
}

/// LongRoPE (Phi-3): per-pair short/long factors; `factor` defaults to
/// max_position_embeddings / original_max_position_embeddings and the
/// cos/sin multiplier to sqrt(1 + ln(factor) / ln(original)), as in
/// transformers' _compute_longrope_parameters.
Error parseLongRope(const Reader &cfg, const json &rs, RopeParams &out) {
  RopeScaling s;
  s.kind = RopeScaling::LongRope;
  for (auto [key, list] : {std::pair<const char *, std::vector<double> *>{
                               "short_factor", &s.shortFactor},
                           {"long_factor", &s.longFactor}}) {
    if (!rs.contains(key) || !rs[key].is_array())
      return fileError(cfg.path, "longrope needs a '" + llvm::Twine(key) +
                                     "' list");
    for (const json &v : rs[key]) {
      if (!v.is_number() || !(v.get<double>() > 0))
        return fileError(cfg.path, "'" + llvm::Twine(key) +
                                       "' must list positive numbers");
      list->push_back(v.get<double>());
    }
  }
  if (Error e = readOriginalContext(cfg, rs, s))
    return e;
  if (Error e = cfg.number(rs, "factor", s.factor))
    return e;
  double orig = double(s.originalMaxPositions);
  s.attentionFactor =
      s.factor <= 1.0 ? 1.0
                      : std::sqrt(1.0 + std::log(s.factor) / std::log(orig));
  if (Error e = cfg.number(rs, "attention_factor", s.attentionFactor))
    return e;
  if (!(s.factor > 0) || !(s.attentionFactor > 0))
    return fileError(cfg.path, "longrope factor and attention_factor must be "
                               "positive");
  out.scaling = s;
  return Error::success();
}

/// YaRN (DeepSeek-V2, Qwen2.5 long context): the ramp's beta_fast /
/// beta_slow (32 / 1) and the cos/sin multiplier, from `attention_factor`
/// or mscale / mscale_all_dim as transformers' _compute_yarn_parameters.
Error parseYarn(const Reader &cfg, const json &rs, RopeScaling &s) {
  s.kind = RopeScaling::Yarn;
  double mscale = 0, mscaleAllDim = 0;
  if (Error e = readOriginalContext(cfg, rs, s))
    return e;
  s.betaFast = 32;
  s.betaSlow = 1;
  for (auto [key, out] : {std::pair<const char *, double *>{"factor", &s.factor},
                          {"beta_fast", &s.betaFast},
                          {"beta_slow", &s.betaSlow},
                          {"mscale", &mscale},
                          {"mscale_all_dim", &mscaleAllDim}})
    if (Error e = cfg.number(rs, key, *out))
      return e;
  if (!boolOr(rs, "truncate", true))
    return fileError(cfg.path, "yarn with truncate = false is not supported");
  s.attentionFactor = mscale && mscaleAllDim
                          ? yarnMscale(s.factor, mscale) /
                                yarnMscale(s.factor, mscaleAllDim)
                          : yarnMscale(s.factor, 1.0);
  if (Error e = cfg.number(rs, "attention_factor", s.attentionFactor))
    return e;
  if (!(s.factor > 0) || !(s.attentionFactor > 0) ||
      !(s.betaFast > s.betaSlow) || !(s.betaSlow > 0))
    return fileError(cfg.path, "yarn needs factor > 0, attention_factor > 0 "
                               "and beta_fast > beta_slow > 0");
  return Error::success();
}

/// One RoPE description: a transformers 4 `rope_scaling` object (theta
/// given separately) or a transformers 5 `rope_parameters` object (theta
/// inside). Unknown rope types are refused, never ignored.
Error parseRope(const Reader &cfg, const json &rs, RopeParams &out) {
  if (!rs.is_object())
    return fileError(cfg.path, "RoPE parameters must be an object");
  if (Error e = cfg.number(rs, "rope_theta", out.theta))
    return e;
  std::string type = stringOr(rs, "rope_type", stringOr(rs, "type", "default"));
  if (Error e = readPartialRotary(cfg, rs, out.partialRotary))
    return e;
  if (type == "default")
    return Error::success();
  RopeScaling s;
  if (type == "su" || type == "longrope")
    return parseLongRope(cfg, rs, out);
  if (type == "yarn") {
    if (Error e = parseYarn(cfg, rs, s))
      return e;
    out.scaling = s;
    return Error::success();
  }
  if (type == "linear") {
    s.kind = RopeScaling::Linear;
  } else if (type == "llama3") {
    s.kind = RopeScaling::Llama3;
    double orig = 0;
    if (Error e = cfg.number(rs, "low_freq_factor", s.lowFreqFactor, true))
      return e;
    if (Error e = cfg.number(rs, "high_freq_factor", s.highFreqFactor, true))
      return e;
    if (Error e = cfg.number(rs, "original_max_position_embeddings", orig,
                             true))
      return e;
    if (!(s.highFreqFactor > s.lowFreqFactor) || !(orig >= 1))
      return fileError(cfg.path, "llama3 rope scaling needs high_freq_factor "
                                 "> low_freq_factor and "
                                 "original_max_position_embeddings >= 1");
    s.originalMaxPositions = static_cast<int64_t>(orig);
  } else {
    return fileError(cfg.path, "rope type '" + type +
                                   "' is not supported (default, linear, "
                                   "llama3, longrope, yarn)");
  }
  if (Error e = cfg.number(rs, "factor", s.factor, true))
    return e;
  if (!(s.factor > 0))
    return fileError(cfg.path, "rope scaling factor must be positive");
  out.scaling = s;
  return Error::success();
}

/// RoPE of global and sliding layers from either config style.
Error parseRopeConfig(const Reader &cfg, ModelConfig &c) {
  const json &j = cfg.j;
  RopeParams global{c.ropeTheta, std::nullopt};
  if (Error e = readPartialRotary(cfg, j, global.partialRotary))
    return e;
  std::optional<RopeParams> sliding;
  if (present(j, "rope_parameters")) {
    // transformers 5: one rope dict, or one per layer type.
    const json &rp = j["rope_parameters"];
    if (!rp.is_object())
      return fileError(cfg.path, "'rope_parameters' must be an object");
    if (rp.contains("full_attention") || rp.contains("sliding_attention")) {
      for (auto &[type, params] : rp.items()) {
        if (type != "full_attention" && type != "sliding_attention")
          return fileError(cfg.path, "rope_parameters for layer type '" +
                                         type + "' (full_attention and "
                                                "sliding_attention are known)");
      }
      if (rp.contains("full_attention"))
        if (Error e = parseRope(cfg, rp["full_attention"], global))
          return e;
      if (rp.contains("sliding_attention")) {
        sliding = RopeParams{global.theta, std::nullopt, global.partialRotary};
        if (Error e = parseRope(cfg, rp["sliding_attention"], *sliding))
          return e;
      }
    } else if (Error e = parseRope(cfg, rp, global)) {
      return e;
    }
  } else {
    // transformers 4: rope_theta, rope_scaling, Gemma 3's local base.
    if (Error e = cfg.number(j, "rope_theta", global.theta))
      return e;
    if (present(j, "rope_scaling"))
      if (Error e = parseRope(cfg, j["rope_scaling"], global))
        return e;
    if (present(j, "rope_local_base_freq")) {
      sliding = RopeParams{10000.0, std::nullopt, global.partialRotary};
      if (Error e = cfg.number(j, "rope_local_base_freq", sliding->theta))
        return e;
    }
  }
  if (sliding && sliding->partialRotary != global.partialRotary)
    return fileError(cfg.path, "different partial_rotary_factor per layer "
                               "type is not supported");
  c.ropeTheta = global.theta;
  c.ropeScaling = global.scaling;
  c.slidingRope = sliding;
  // As transformers: int(head_dim * partial_rotary_factor).
  c.rotaryDim = static_cast<int64_t>(c.headDim * global.partialRotary);
  return Error::success();
}

/// Sliding-window layers: `layer_types` when written, else the family's
/// pattern (Gemma 2: every other layer from 0; Gemma 3: all but every
/// `sliding_window_pattern`-th).
Error parseLayerTypes(const Reader &cfg, ModelConfig &c) {
  const json &j = cfg.j;
  int64_t window = 0;
  bool useWindow = c.arch == "mistral" || c.arch == "mixtral" ||
                   c.arch == "gemma2" || c.arch == "gemma3" ||
                   c.arch == "phi3" || boolOr(j, "use_sliding_window", false);
  if (useWindow)
    if (Error e = cfg.integer("sliding_window", window, false))
      return e;
  if (present(j, "layer_types")) {
    if (!j["layer_types"].is_array())
      return fileError(cfg.path, "'layer_types' must be a list");
    for (const json &t : j["layer_types"]) {
      std::string type = t.is_string() ? t.get<std::string>() : "";
      if (type != "full_attention" && type != "sliding_attention")
        return fileError(cfg.path, "layer type '" + type +
                                       "' is not supported (full_attention, "
                                       "sliding_attention)");
      c.slidingLayers.push_back(type == "sliding_attention");
    }
  } else if (c.arch == "gemma2" || c.arch == "gemma3") {
    int64_t pattern = 2;
    if (c.arch == "gemma3") {
      pattern = 6;
      if (Error e = cfg.integer("sliding_window_pattern", pattern, false))
        return e;
      if (pattern < 1)
        return fileError(cfg.path, "'sliding_window_pattern' must be >= 1");
    }
    for (int64_t l = 0; l < c.numLayers; ++l)
      c.slidingLayers.push_back(c.arch == "gemma2" ? l % 2 == 0
                                                   : (l + 1) % pattern != 0);
  }
  bool anySliding = llvm::any_of(c.slidingLayers, [](bool s) { return s; });
  if (!useWindow || window <= 0 || (!c.slidingLayers.empty() && !anySliding)) {
    c.slidingLayers.clear(); // no layer slides
    return Error::success();
  }
  c.slidingWindow = window;
  return Error::success();
}

/// The gated MLP's activation. Gemma's modelling code reads
/// `hidden_activation` (tanh GELU when it is unset, whatever `hidden_act`
/// says); the others read `hidden_act`.
Error parseActivation(const Reader &cfg, ModelConfig &c) {
  const char *key = isGemma(c.arch) ? "hidden_activation" : "hidden_act";
  std::string act = stringOr(cfg.j, key, isGemma(c.arch) ? "gelu_pytorch_tanh"
                                                        : "silu");
  if (act == "silu" || act == "swish")
    c.ffnActivation = ModelConfig::Activation::SiLU;
  else if (act == "gelu_pytorch_tanh" || act == "gelu_new" ||
           act == "gelu_fast")
    c.ffnActivation = ModelConfig::Activation::GeLUTanh;
  else if (act == "gelu")
    c.ffnActivation = ModelConfig::Activation::GeLU;
  else
    return fileError(cfg.path, "'" + llvm::Twine(key) + "' '" + act +
                                   "' is not supported (silu, gelu, "
                                   "gelu_pytorch_tanh)");
  return Error::success();
}

/// Mixture-of-experts fields of Mixtral, Qwen2-MoE and Qwen3-MoE.
Error parseMoE(const Reader &cfg, ModelConfig &c) {
  const json &j = cfg.j;
  if (c.arch == "mixtral") {
    if (Error e = cfg.integer("num_local_experts", c.numExperts))
      return e;
    return cfg.integer("num_experts_per_tok", c.expertsPerToken);
  }
  // Qwen2/3-MoE: softmax over all experts, then the top k (renormalised
  // with norm_topk_prob); Qwen2-MoE adds a shared expert scaled by
  // sigmoid(gate · x); layers in mlp_only_layers, or not a multiple of
  // decoder_sparse_step, keep a dense MLP of intermediate_size.
  // transformers 5 writes Qwen's `num_experts` as `num_local_experts`.
  if (Error e = cfg.integer(present(j, "num_experts") ? "num_experts"
                                                      : "num_local_experts",
                            c.numExperts))
    return e;
  if (Error e = cfg.integer("num_experts_per_tok", c.expertsPerToken))
    return e;
  if (Error e = cfg.integer("moe_intermediate_size", c.expertHiddenDim))
    return e;
  if (c.arch == "qwen2_moe")
    if (Error e = cfg.integer("shared_expert_intermediate_size",
                              c.sharedHiddenDim, false))
      return e;
  c.sharedExpertGate = c.sharedHiddenDim > 0;
  c.routing = boolOr(j, "norm_topk_prob", false)
                  ? ModelConfig::Routing::SoftmaxTopKNorm
                  : ModelConfig::Routing::SoftmaxTopK;
  int64_t step = 1;
  if (Error e = cfg.integer("decoder_sparse_step", step, false))
    return e;
  if (step < 1)
    return fileError(cfg.path, "'decoder_sparse_step' must be >= 1");
  if (present(j, "mlp_only_layers")) {
    if (!j["mlp_only_layers"].is_array())
      return fileError(cfg.path, "'mlp_only_layers' must be a list");
    for (const json &v : j["mlp_only_layers"]) {
      if (!v.is_number_integer())
        return fileError(cfg.path, "'mlp_only_layers' must list layer numbers");
      c.denseLayers.push_back(v.get<int64_t>());
    }
  }
  for (int64_t l = 0; l < c.numLayers; ++l)
    if ((l + 1) % step != 0 && llvm::find(c.denseLayers, l) == c.denseLayers.end())
      c.denseLayers.push_back(l);
  return Error::success();
}

/// DeepSeek-V2: multi-head latent attention, interleaved RoPE over the
/// decoupled key, the first `first_k_dense_replace` layers dense, then
/// routed experts (softmax, top k, greedy or group-limited, times
/// routed_scaling_factor) beside `n_shared_experts` shared ones.
Error parseDeepSeekV2(const Reader &cfg, ModelConfig &c) {
  const json &j = cfg.j;
  ModelConfig::LatentAttention m;
  for (auto [key, out] :
       {std::pair<const char *, int64_t *>{"kv_lora_rank", &m.kvLora},
        {"qk_nope_head_dim", &m.nopeDim},
        {"qk_rope_head_dim", &m.ropeDim},
        {"v_head_dim", &m.valueDim}})
    if (Error e = cfg.integer(key, *out))
      return e;
  if (Error e = cfg.integer("q_lora_rank", m.qLora, false))
    return e;
  if (c.qkvBias)
    return fileError(cfg.path, "DeepSeek-V2 with attention_bias is not "
                               "supported");
  c.mla = m;
  // The per-head query width; RoPE rotates the decoupled ropeDim part,
  // in interleaved pairs (transformers' complex multiplication).
  c.headDim = m.nopeDim + m.ropeDim;
  c.numKvHeads = c.numHeads;
  c.rotaryDim = 0;
  c.ropeStyle = RopeStyle::Interleaved;
  double scale = 1.0 / std::sqrt(double(c.headDim));
  // transformers' yarn_apply_mscale: mscale_all_dim also scales q·k.
  if (c.ropeScaling && c.ropeScaling->kind == RopeScaling::Yarn) {
    const json &rp = present(j, "rope_parameters") ? j["rope_parameters"]
                                                   : j["rope_scaling"];
    double mscaleAllDim = 0;
    if (Error e = cfg.number(rp, "mscale_all_dim", mscaleAllDim))
      return e;
    double ms = yarnMscale(c.ropeScaling->factor, mscaleAllDim);
    if (mscaleAllDim)
      scale *= ms * ms;
  }
  c.attentionScale = scale;

  int64_t dense = 0, shared = 0;
  if (Error e = cfg.integer("first_k_dense_replace", dense, false))
    return e;
  if (dense >= c.numLayers)
    return Error::success(); // no MoE layer
  for (auto [key, out] :
       {std::pair<const char *, int64_t *>{"n_routed_experts", &c.numExperts},
        {"num_experts_per_tok", &c.expertsPerToken},
        {"moe_intermediate_size", &c.expertHiddenDim}})
    if (Error e = cfg.integer(key, *out))
      return e;
  if (Error e = cfg.integer("n_shared_experts", shared, false))
    return e;
  c.sharedHiddenDim = shared * c.expertHiddenDim;
  for (int64_t l = 0; l < std::min(dense, c.numLayers); ++l)
    c.denseLayers.push_back(l);
  c.routing = ModelConfig::Routing::SoftmaxTopK;
  if (boolOr(j, "norm_topk_prob", false))
    return fileError(cfg.path, "DeepSeek-V2 with norm_topk_prob = true is not "
                               "supported (transformers ignores it, "
                               "DeepSeek's code renormalises)");
  c.routedScale = 1.0;
  if (Error e = cfg.number(j, "routed_scaling_factor", c.routedScale))
    return e;
  std::string method = stringOr(j, "topk_method", "greedy");
  if (method == "group_limited_greedy") {
    if (Error e = cfg.integer("n_group", c.expertGroups))
      return e;
    if (Error e = cfg.integer("topk_group", c.topGroups))
      return e;
    if (c.expertGroups < 1)
      return fileError(cfg.path, "'n_group' must be >= 1");
  } else if (method != "greedy") {
    return fileError(cfg.path, "topk_method '" + method +
                                   "' is not supported (greedy, "
                                   "group_limited_greedy)");
  }
  return Error::success();
}

/// What the newer families change: norms, scales, caps.
Error parseFamily(const Reader &cfg, ModelConfig &c) {
  llvm::StringRef arch = c.arch;
  if (arch == "qwen3" || arch == "qwen3_moe" || arch == "gemma3")
    c.qkNorm = ModelConfig::QKNorm::PerHead;
  if (arch == "phi3")
    c.fusedQKV = c.fusedGateUp = true;
  if (arch == "olmo2") {
    c.qkNorm = ModelConfig::QKNorm::Whole;
    c.preNorms = false;
    c.postNorms = true;
  }
  if (!isGemma(arch))
    return Error::success();
  c.postNorms = arch != "gemma";
  c.normWeightOffset = 1.0;
  // Gemma multiplies embeddings by sqrt(hidden_size), rounded to the
  // activations' type (f32 here) as the reference does.
  c.embeddingScale = static_cast<float>(std::sqrt(double(c.dim)));
  if (arch == "gemma")
    return Error::success();
  double scalar = 0;
  if (Error e = cfg.number(cfg.j, "query_pre_attn_scalar", scalar))
    return e;
  if (scalar > 0)
    c.attentionScale = 1.0 / std::sqrt(scalar);
  if (Error e = cfg.optionalNumber("attn_logit_softcapping", c.attentionSoftcap))
    return e;
  return cfg.optionalNumber("final_logit_softcapping", c.finalSoftcap);
}
/// GPT-2 names its fields differently (n_embd, n_layer, ...) and differs
/// in kind: LayerNorm, learned positions, ungated GELU MLP, biases, Conv1D.
Error parseGPT2(const Reader &cfg, ModelConfig &c) {
  std::pair<const char *, int64_t *> required[] = {{"n_embd", &c.dim},
                                                   {"n_layer", &c.numLayers},
                                                   {"n_head", &c.numHeads},
                                                   {"vocab_size", &c.vocabSize},
                                                   {"n_positions", &c.maxSeq}};
  for (auto [key, out] : required)
    if (Error e = cfg.integer(key, *out))
      return e;
  c.hiddenDim = 4 * c.dim;
  if (Error e = cfg.integer("n_inner", c.hiddenDim, false))
    return e;
  c.numKvHeads = c.numHeads;
  c.headDim = c.numHeads > 0 ? c.dim / c.numHeads : 0;
  c.normEps = 1e-5;
  if (Error e = cfg.number(cfg.j, "layer_norm_epsilon", c.normEps))
    return e;
  std::string act = stringOr(cfg.j, "activation_function", "gelu_new");
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")
    c.ffnActivation = ModelConfig::Activation::GeLUTanh;
  else if (act == "gelu")
    c.ffnActivation = ModelConfig::Activation::GeLU;
  else
    return fileError(cfg.path, "'activation_function' '" + act +
                                   "' is not supported (gelu_new, gelu)");
  if (boolOr(cfg.j, "scale_attn_by_inverse_layer_idx", false) ||
      boolOr(cfg.j, "reorder_and_upcast_attn", false))
    return fileError(cfg.path, "scale_attn_by_inverse_layer_idx and "
                               "reorder_and_upcast_attn are not supported");
  if (!boolOr(cfg.j, "scale_attn_weights", true))
    c.attentionScale = 1.0;
  c.layerNorm = c.learnedPositions = c.linearBias = c.transposedWeights = true;
  c.fusedQKV = true;
  c.gatedFFN = false;
  c.tiedEmbeddings = boolOr(cfg.j, "tie_word_embeddings", true);
  return Error::success();
}
/// The Llama-like families: sizes, RoPE, layer types, activation, the
/// family's extras, MoE.
Error parseLlamaLike(const Reader &cfg, ModelConfig &c) {
  const json &j = cfg.j;
  c.qkvBias = c.arch == "qwen2" || c.arch == "qwen2_moe";
  if (j.contains("attention_bias") && j["attention_bias"].is_boolean())
    c.qkvBias = j["attention_bias"].get<bool>();
  std::pair<const char *, int64_t *> required[] = {
      {"hidden_size", &c.dim},
      {"intermediate_size", &c.hiddenDim},
      {"num_hidden_layers", &c.numLayers},
      {"num_attention_heads", &c.numHeads},
      {"vocab_size", &c.vocabSize}};
  for (auto [key, out] : required)
    if (Error e = cfg.integer(key, *out))
      return e;
  c.numKvHeads = c.numHeads;
  if (Error e = cfg.integer("num_key_value_heads", c.numKvHeads, false))
    return e;
  c.maxSeq = 2048;
  if (Error e = cfg.integer("max_position_embeddings", c.maxSeq, false))
    return e;
  c.headDim = c.numHeads > 0 ? c.dim / c.numHeads : 0;
  if (Error e = cfg.integer("head_dim", c.headDim, false))
    return e;
  c.normEps = 1e-6;
  if (Error e = cfg.number(j, "rms_norm_eps", c.normEps))
    return e;
  c.tiedEmbeddings = boolOr(j, "tie_word_embeddings", isGemma(c.arch));
  for (auto parse : {parseRopeConfig, parseLayerTypes, parseActivation,
                     parseFamily})
    if (Error e = parse(cfg, c))
      return e;
  if (c.arch == "mixtral" || c.arch == "qwen2_moe" || c.arch == "qwen3_moe")
    if (Error e = parseMoE(cfg, c))
      return e;
  if (c.arch == "deepseek_v2")
    return parseDeepSeekV2(cfg, c);
  return Error::success();
}
} // namespace

llvm::StringRef llmc::supportedHFArchitectures() {
  static const std::string names = [] {
    std::string s;
    for (const Architecture &a : kArchitectures)
      s += (s.empty() ? "" : ", ") + std::string(a.hfName);
    return s;
  }();
  return names;
}

llvm::Expected<std::unique_ptr<ModelSource>>
llmc::parseHFConfig(llvm::StringRef configPath, llvm::StringRef directory) {
  auto configBuf = readFile(configPath);
  if (!configBuf)
    return configBuf.takeError();
  json j = json::parse((*configBuf)->getBufferStart(),
                       (*configBuf)->getBufferEnd(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fileError(configPath, "is not a JSON object");
  Reader cfg{j, std::string(configPath)};

  if (!j.contains("architectures") || !j["architectures"].is_array() ||
      j["architectures"].empty() || !j["architectures"][0].is_string())
    return fileError(configPath, "'architectures' is missing");
  std::string archName = j["architectures"][0].get<std::string>();
  auto source = std::make_unique<ModelSource>();
  source->format = "hf";
  source->path = directory.str();
  ModelConfig &c = source->config;
  for (const Architecture &a : kArchitectures)
    if (archName == a.hfName)
      c.arch = a.arch;
  if (c.arch.empty())
    return fileError(configPath, "architecture '" + archName +
                                     "' is not supported (" +
                                     supportedHFArchitectures() + ")");
  c.ropeStyle = RopeStyle::Half; // HF checkpoints use rotate_half.
  if (Error e = c.arch == "gpt2" ? parseGPT2(cfg, c) : parseLlamaLike(cfg, c))
    return std::move(e);
  if (Error e = c.validate(configPath))
    return std::move(e);

  // transformers 5 writes `dtype`, 4.x `torch_dtype`.
  std::string dtype = stringOr(j, "dtype", stringOr(j, "torch_dtype", ""));
  if (!dtype.empty())
    source->declaredDType = dtype == "float32"    ? DType::F32
                            : dtype == "bfloat16" ? DType::BF16
                                                  : DType::F16;
  return std::move(source);
}
