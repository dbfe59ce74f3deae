//===- HuggingFace.cpp - HF directories: config.json + safetensors --------===//

#include "importers/ModelSource.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <cstring>
#include <nlohmann/json.hpp>

using namespace llmc;
using llvm::Error;
using json = nlohmann::json;

static std::optional<DType> safetensorsDType(const std::string &s) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  return std::nullopt;
}

Error llmc::readSafetensorsHeader(ModelSource &source, unsigned file,
                                  llvm::StringRef path) {
  llvm::ArrayRef<uint8_t> data = source.fileBytes(file);
  if (data.size() < 8)
    return fileError(path, "too small for a safetensors header (" +
                               llvm::Twine(data.size()) + " bytes)");
  uint64_t headerLen;
  std::memcpy(&headerLen, data.data(), 8);
  if (headerLen > data.size() - 8)
    return fileError(path, "header claims " + llvm::Twine(headerLen) +
                               " bytes but the file has " +
                               llvm::Twine(data.size() - 8) +
                               " after the length (truncated?)");
  llvm::StringRef text(reinterpret_cast<const char *>(data.data()) + 8,
                       headerLen);
  json header = json::parse(text.begin(), text.end(), nullptr,
                            /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object())
    return fileError(path, "header is not a JSON object");
  uint64_t dataStart = 8 + headerLen;
  uint64_t dataSize = data.size() - dataStart;
  for (auto &item : header.items()) {
    const std::string &name = item.key();
    const json &entry = item.value();
    if (name == "__metadata__")
      continue;
    auto bad = [&](const llvm::Twine &what) {
      return fileError(path, "tensor '" + name + "': " + what);
    };
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry["dtype"].is_string() || !entry.contains("shape") ||
        !entry["shape"].is_array() || !entry.contains("data_offsets") ||
        !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      return bad("needs dtype, shape and data_offsets [begin, end]");
    std::string dtypeName = entry["dtype"].get<std::string>();
    std::optional<DType> dtype = safetensorsDType(dtypeName);
    if (!dtype)
      return bad("dtype " + dtypeName +
                 " is not supported (F32, F16, BF16 are)");
    TensorInfo t;
    t.name = name;
    t.dtype = *dtype;
    t.file = file;
    for (const json &d : entry["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40))
        return bad("shape entries must be non-negative integers < 2^40");
      t.shape.push_back(d.get<int64_t>());
    }
    const json &offsets = entry["data_offsets"];
    if (!offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return bad("data_offsets must be non-negative integers");
    uint64_t begin = offsets[0].get<uint64_t>(),
             end = offsets[1].get<uint64_t>();
    if (begin > end || end > dataSize)
      return bad("data_offsets [" + llvm::Twine(begin) + ", " +
                 llvm::Twine(end) + "] exceed the " + llvm::Twine(dataSize) +
                 " data bytes (truncated?)");
    t.offset = dataStart + begin;
    t.size = end - begin;
    if (Error e = source.addTensor(std::move(t), path))
      return e;
  }
  return Error::success();
}

namespace {
bool boolOr(const json &j, const char *key, bool fallback) {
  return j.contains(key) && j[key].is_boolean() ? j[key].get<bool>() : fallback;
}
std::string stringOr(const json &j, const char *key, std::string fallback) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>()
                                               : fallback;
}

/// Reads typed config.json fields; errors name config.json and the key.
struct Config {
  const json &j;
  std::string path;

  Error integer(const char *key, int64_t &out, bool required = true) const {
    if (!j.contains(key) || j[key].is_null())
      return required ? fileError(path, "'" + llvm::Twine(key) + "' is missing")
                      : Error::success();
    if (!j[key].is_number_integer())
      return fileError(path, "'" + llvm::Twine(key) + "' must be an integer");
    out = j[key].get<int64_t>();
    return Error::success();
  }
  Error number(const json &obj, const char *key, double &out,
               bool required = false) const {
    if (!obj.contains(key) || obj[key].is_null())
      return required ? fileError(path, "'" + llvm::Twine(key) + "' is missing")
                      : Error::success();
    if (!obj[key].is_number())
      return fileError(path, "'" + llvm::Twine(key) + "' must be a number");
    out = obj[key].get<double>();
    return Error::success();
  }
};

/// Where a family keeps its feed-forward weights.
enum class FFNNames { Dense, Mixtral, Qwen2MoE };

std::string hfName(Role role, int64_t layer, int64_t expert, FFNNames ffn,
                   bool moeLayer, bool qkvBias, bool tied) {
  std::string l = "model.layers." + std::to_string(layer) + ".";
  bool mixtral = ffn == FFNNames::Mixtral && moeLayer;
  bool qwen = ffn == FFNNames::Qwen2MoE && moeLayer;
  std::string e = mixtral ? l + "block_sparse_moe.experts." +
                                std::to_string(expert) + "."
                          : l + "mlp.experts." + std::to_string(expert) + ".";
  std::string shared = l + "mlp.shared_expert.";
  switch (role) {
  case Role::TokenEmbedding: return "model.embed_tokens.weight";
  case Role::AttnNorm: return l + "input_layernorm.weight";
  case Role::Wq: return l + "self_attn.q_proj.weight";
  case Role::Wk: return l + "self_attn.k_proj.weight";
  case Role::Wv: return l + "self_attn.v_proj.weight";
  case Role::Wo: return l + "self_attn.o_proj.weight";
  case Role::Bq: return qkvBias ? l + "self_attn.q_proj.bias" : "";
  case Role::Bk: return qkvBias ? l + "self_attn.k_proj.bias" : "";
  case Role::Bv: return qkvBias ? l + "self_attn.v_proj.bias" : "";
  case Role::FfnNorm: return l + "post_attention_layernorm.weight";
  case Role::FfnGate: return moeLayer ? "" : l + "mlp.gate_proj.weight";
  case Role::FfnUp: return moeLayer ? "" : l + "mlp.up_proj.weight";
  case Role::FfnDown: return moeLayer ? "" : l + "mlp.down_proj.weight";
  case Role::FinalNorm: return "model.norm.weight";
  case Role::Output: return tied ? "" : "lm_head.weight";
  case Role::Router:
    return mixtral ? l + "block_sparse_moe.gate.weight"
           : qwen  ? l + "mlp.gate.weight"
                   : "";
  case Role::ExpertGate:
    return mixtral ? e + "w1.weight" : qwen ? e + "gate_proj.weight" : "";
  case Role::ExpertDown:
    return mixtral ? e + "w2.weight" : qwen ? e + "down_proj.weight" : "";
  case Role::ExpertUp:
    return mixtral ? e + "w3.weight" : qwen ? e + "up_proj.weight" : "";
  case Role::SharedGate: return qwen ? shared + "gate_proj.weight" : "";
  case Role::SharedUp: return qwen ? shared + "up_proj.weight" : "";
  case Role::SharedDown: return qwen ? shared + "down_proj.weight" : "";
  case Role::SharedScale: return qwen ? l + "mlp.shared_expert_gate.weight" : "";
  }
  return "";
}
} // namespace

/// Reads config.json into a new ModelSource (no tensors yet).
static llvm::Expected<std::unique_ptr<ModelSource>>
parseHFConfig(llvm::StringRef configPath, llvm::StringRef directory) {
  auto configBuf = readFile(configPath);
  if (!configBuf)
    return configBuf.takeError();
  json j = json::parse((*configBuf)->getBufferStart(),
                       (*configBuf)->getBufferEnd(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fileError(configPath, "is not a JSON object");
  Config cfg{j, std::string(configPath)};

  if (!j.contains("architectures") || !j["architectures"].is_array() ||
      j["architectures"].empty() || !j["architectures"][0].is_string())
    return fileError(configPath, "'architectures' is missing");
  std::string archName = j["architectures"][0].get<std::string>();
  auto source = std::make_unique<ModelSource>();
  source->format = "hf";
  source->path = directory.str();
  ModelConfig &c = source->config;
  if (archName == "LlamaForCausalLM")
    c.arch = "llama";
  else if (archName == "MistralForCausalLM")
    c.arch = "mistral";
  else if (archName == "Qwen2ForCausalLM")
    c.arch = "qwen2";
  else if (archName == "MixtralForCausalLM")
    c.arch = "mixtral";
  else if (archName == "Qwen2MoeForCausalLM")
    c.arch = "qwen2_moe";
  else
    return fileError(configPath,
                     "architecture '" + archName +
                         "' is not supported (LlamaForCausalLM, "
                         "MistralForCausalLM, Qwen2ForCausalLM, "
                         "MixtralForCausalLM, Qwen2MoeForCausalLM)");
  c.ropeStyle = RopeStyle::Half; // HF checkpoints use rotate_half.
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
      return std::move(e);
  c.numKvHeads = c.numHeads;
  if (Error e = cfg.integer("num_key_value_heads", c.numKvHeads, false))
    return std::move(e);
  c.maxSeq = 2048;
  if (Error e = cfg.integer("max_position_embeddings", c.maxSeq, false))
    return std::move(e);
  c.headDim = c.numHeads > 0 ? c.dim / c.numHeads : 0;
  if (Error e = cfg.integer("head_dim", c.headDim, false))
    return std::move(e);
  c.normEps = 1e-6;
  if (Error e = cfg.number(j, "rms_norm_eps", c.normEps))
    return std::move(e);
  if (Error e = cfg.number(j, "rope_theta", c.ropeTheta))
    return std::move(e);
  c.tiedEmbeddings = boolOr(j, "tie_word_embeddings", false);
  int64_t window = 0;
  bool useWindow = c.arch == "mistral" || c.arch == "mixtral" ||
                   boolOr(j, "use_sliding_window", false);
  if (useWindow) {
    if (Error e = cfg.integer("sliding_window", window, false))
      return std::move(e);
    if (window > 0)
      c.slidingWindow = window;
  }
  if (c.arch == "mixtral") {
    if (Error e = cfg.integer("num_local_experts", c.numExperts))
      return std::move(e);
    if (Error e = cfg.integer("num_experts_per_tok", c.expertsPerToken))
      return std::move(e);
  }
  if (c.arch == "qwen2_moe") {
    // Qwen2-MoE: softmax over all experts, then the top k (renormalised
    // with norm_topk_prob); a shared expert scaled by sigmoid(gate · x);
    // layers in mlp_only_layers, or not a multiple of decoder_sparse_step,
    // keep a dense MLP of intermediate_size.
    if (Error e = cfg.integer("num_experts", c.numExperts))
      return std::move(e);
    if (Error e = cfg.integer("num_experts_per_tok", c.expertsPerToken))
      return std::move(e);
    if (Error e = cfg.integer("moe_intermediate_size", c.expertHiddenDim))
      return std::move(e);
    if (Error e = cfg.integer("shared_expert_intermediate_size",
                              c.sharedHiddenDim, false))
      return std::move(e);
    c.sharedExpertGate = c.sharedHiddenDim > 0;
    c.routing = boolOr(j, "norm_topk_prob", false)
                    ? ModelConfig::Routing::SoftmaxTopKNorm
                    : ModelConfig::Routing::SoftmaxTopK;
    int64_t step = 1;
    if (Error e = cfg.integer("decoder_sparse_step", step, false))
      return std::move(e);
    if (step < 1)
      return fileError(configPath, "'decoder_sparse_step' must be >= 1");
    if (j.contains("mlp_only_layers") && !j["mlp_only_layers"].is_null()) {
      if (!j["mlp_only_layers"].is_array())
        return fileError(configPath, "'mlp_only_layers' must be a list");
      for (const json &v : j["mlp_only_layers"]) {
        if (!v.is_number_integer())
          return fileError(configPath,
                           "'mlp_only_layers' must list layer numbers");
        c.denseLayers.push_back(v.get<int64_t>());
      }
    }
    for (int64_t l = 0; l < c.numLayers; ++l)
      if ((l + 1) % step != 0 && llvm::find(c.denseLayers, l) == c.denseLayers.end())
        c.denseLayers.push_back(l);
  }
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    const json &rs = j["rope_scaling"];
    std::string type = stringOr(rs, "rope_type", stringOr(rs, "type", ""));
    RopeScaling s;
    if (Error e = cfg.number(rs, "factor", s.factor, true))
      return std::move(e);
    if (type == "linear") {
      s.kind = RopeScaling::Linear;
    } else if (type == "llama3") {
      s.kind = RopeScaling::Llama3;
      double orig = 0;
      if (Error e = cfg.number(rs, "low_freq_factor", s.lowFreqFactor, true))
        return std::move(e);
      if (Error e = cfg.number(rs, "high_freq_factor", s.highFreqFactor, true))
        return std::move(e);
      if (Error e = cfg.number(rs, "original_max_position_embeddings", orig,
                               true))
        return std::move(e);
      s.originalMaxPositions = static_cast<int64_t>(orig);
    } else if (type != "default") {
      return fileError(configPath, "rope_scaling type '" + type +
                                       "' is not supported (linear, llama3)");
    }
    if (type != "default")
      c.ropeScaling = s;
  }
  if (Error e = c.validate(configPath))
    return std::move(e);

  if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) {
    std::string t = j["torch_dtype"].get<std::string>();
    source->declaredDType = t == "float32"    ? DType::F32
                            : t == "bfloat16" ? DType::BF16
                                              : DType::F16;
  }
  return std::move(source);
}

static void setHFNames(ModelSource &source) {
  const ModelConfig &c = source.config;
  FFNNames ffn = c.arch == "mixtral"     ? FFNNames::Mixtral
                 : c.arch == "qwen2_moe" ? FFNNames::Qwen2MoE
                                         : FFNNames::Dense;
  bool bias = c.qkvBias, tied = c.tiedEmbeddings;
  source.nameOf = [=](Role role, int64_t layer, int64_t expert) {
    return hfName(role, layer, expert, ffn, c.isMoELayer(layer), bias, tied);
  };
}

static llvm::Expected<std::unique_ptr<ModelSource>>
openHuggingFaceImpl(llvm::StringRef directory) {
  llvm::SmallString<256> configPath(directory);
  llvm::sys::path::append(configPath, "config.json");
  auto parsed = parseHFConfig(configPath, directory);
  if (!parsed)
    return parsed.takeError();
  std::unique_ptr<ModelSource> source = std::move(*parsed);
  ModelConfig &c = source->config;
  // Weights: one model.safetensors, or shards listed in the index.
  llvm::SmallString<256> single(directory), index(directory);
  llvm::sys::path::append(single, "model.safetensors");
  llvm::sys::path::append(index, "model.safetensors.index.json");
  std::vector<std::string> shards;
  std::optional<json> weightMap;
  if (llvm::sys::fs::exists(index)) {
    auto indexBuf = readFile(index);
    if (!indexBuf)
      return indexBuf.takeError();
    json ij = json::parse((*indexBuf)->getBufferStart(),
                          (*indexBuf)->getBufferEnd(), nullptr, false);
    if (ij.is_discarded() || !ij.contains("weight_map") ||
        !ij["weight_map"].is_object())
      return fileError(index, "needs a 'weight_map' object");
    weightMap = ij["weight_map"];
    for (auto &[name, shard] : weightMap->items()) {
      if (!shard.is_string())
        return fileError(index, "weight_map entry '" + name +
                                    "' must name a file");
      std::string s = shard.get<std::string>();
      if (s.find('/') != std::string::npos || s == ".." || s.empty())
        return fileError(index, "shard '" + s + "' must be a file name in " +
                                    "the model directory");
      if (std::find(shards.begin(), shards.end(), s) == shards.end())
        shards.push_back(s);
    }
  } else if (llvm::sys::fs::exists(single)) {
    shards.push_back("model.safetensors");
  } else {
    return fileError(directory, "no model.safetensors or "
                                "model.safetensors.index.json");
  }
  for (const std::string &shard : shards) {
    llvm::SmallString<256> shardPath(directory);
    llvm::sys::path::append(shardPath, shard);
    auto buf = readFile(shardPath);
    if (!buf)
      return buf.takeError();
    unsigned file = source->addFile(std::move(*buf));
    if (Error e = readSafetensorsHeader(*source, file, shardPath))
      return std::move(e);
  }
  if (weightMap) {
    for (auto &[name, shard] : weightMap->items())
      if (!source->lookup(name))
        return fileError(index, "tensor '" + name + "' is listed for shard '" +
                                    shard.get<std::string>() +
                                    "' but that shard does not hold it");
  }
  // Some tied checkpoints still carry lm_head; prefer it when present.
  if (c.tiedEmbeddings && source->lookup("lm_head.weight"))
    c.tiedEmbeddings = false;
  setHFNames(*source);
  if (Error e = source->checkTensors())
    return std::move(e);
  for (const char *name : {"tokenizer.json", "tokenizer.model"}) {
    llvm::SmallString<256> tok(directory);
    llvm::sys::path::append(tok, name);
    if (llvm::sys::fs::exists(tok)) {
      source->tokenizer = {llvm::StringRef(name).ends_with(".json")
                               ? TokenizerFormat::HFJson
                               : TokenizerFormat::SentencePieceModel,
                           std::string(tok)};
      break;
    }
  }
  return std::move(source);
}

llvm::Expected<std::unique_ptr<ModelSource>>
llmc::openHuggingFace(llvm::StringRef directory) {
  // The readers check types before every access; this is the backstop that
  // keeps an unforeseen malformed JSON from terminating the process.
  try {
    return openHuggingFaceImpl(directory);
  } catch (const json::exception &e) {
    return fileError(directory, llvm::Twine("malformed JSON: ") + e.what());
  }
}

llvm::Expected<std::unique_ptr<ModelSource>>
llmc::openHuggingFaceConfig(llvm::StringRef configPath) {
  try {
    auto source = parseHFConfig(configPath, configPath);
    if (!source)
      return source.takeError();
    setHFNames(**source);
    (*source)->addDescribedTensors((*source)->declaredDType);
    return std::move(*source);
  } catch (const json::exception &e) {
    return fileError(configPath, llvm::Twine("malformed JSON: ") + e.what());
  }
}
