//===- HuggingFace.cpp - HF directories: config.json + safetensors --------===//

#include "importers/HFConfig.h"
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
/// Where a family keeps its feed-forward weights.
enum class FFNNames { Dense, Mixtral, Qwen2MoE, DeepSeek };

/// Where a family keeps its norms: Llama's post_attention_layernorm is the
/// MLP's pre-norm, Gemma 2/3's and OLMo 2's the attention's post-norm.
struct NormNames {
  const char *attn, *ffn, *postAttn, *postFfn;
};
NormNames normNames(llvm::StringRef arch) {
  if (arch == "gemma2" || arch == "gemma3")
    return {"input_layernorm", "pre_feedforward_layernorm",
            "post_attention_layernorm", "post_feedforward_layernorm"};
  if (arch == "olmo2")
    return {"", "", "post_attention_layernorm", "post_feedforward_layernorm"};
  return {"input_layernorm", "post_attention_layernorm", "", ""};
}

std::string hfName(Role role, int64_t layer, int64_t expert, FFNNames ffn,
                   NormNames norms, bool moeLayer, bool qkvBias, bool tied) {
  std::string l = "model.layers." + std::to_string(layer) + ".";
  bool mixtral = ffn == FFNNames::Mixtral && moeLayer;
  bool deepseek = ffn == FFNNames::DeepSeek && moeLayer;
  // DeepSeek names experts and router as Qwen does; its shared experts
  // (plural) are one MLP.
  bool qwen = (ffn == FFNNames::Qwen2MoE || ffn == FFNNames::DeepSeek) &&
              moeLayer;
  std::string e = mixtral ? l + "block_sparse_moe.experts." +
                                std::to_string(expert) + "."
                          : l + "mlp.experts." + std::to_string(expert) + ".";
  std::string shared =
      l + (deepseek ? "mlp.shared_experts." : "mlp.shared_expert.");
  auto norm = [&](const char *name) {
    return *name ? l + name + ".weight" : std::string();
  };
  switch (role) {
  case Role::TokenEmbedding: return "model.embed_tokens.weight";
  case Role::AttnNorm: return norm(norms.attn);
  case Role::PostAttnNorm: return norm(norms.postAttn);
  case Role::PostFfnNorm: return norm(norms.postFfn);
  case Role::QNorm: return l + "self_attn.q_norm.weight";
  case Role::KNorm: return l + "self_attn.k_norm.weight";
  case Role::Wq: return l + "self_attn.q_proj.weight";
  case Role::Wk: return l + "self_attn.k_proj.weight";
  case Role::Wv: return l + "self_attn.v_proj.weight";
  case Role::Wo: return l + "self_attn.o_proj.weight";
  case Role::Wqkv: return l + "self_attn.qkv_proj.weight";
  case Role::FfnGateUp: return l + "mlp.gate_up_proj.weight";
  case Role::Bq: return qkvBias ? l + "self_attn.q_proj.bias" : "";
  case Role::Bk: return qkvBias ? l + "self_attn.k_proj.bias" : "";
  case Role::Bv: return qkvBias ? l + "self_attn.v_proj.bias" : "";
  case Role::FfnNorm: return norm(norms.ffn);
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
  case Role::SharedScale:
    return qwen && !deepseek ? l + "mlp.shared_expert_gate.weight" : "";
  case Role::QA: return l + "self_attn.q_a_proj.weight";
  case Role::QANorm: return l + "self_attn.q_a_layernorm.weight";
  case Role::QB: return l + "self_attn.q_b_proj.weight";
  case Role::KVA: return l + "self_attn.kv_a_proj_with_mqa.weight";
  case Role::KVANorm: return l + "self_attn.kv_a_layernorm.weight";
  case Role::KVB: return l + "self_attn.kv_b_proj.weight";
  case Role::KB:
  case Role::VB: return ""; // slices of kv_b_proj
  }
  return "";
}
} // namespace

/// GPT-2's names; `p` is "transformer." (GPT2LMHeadModel.save_pretrained)
/// or "" (the original checkpoints).
static std::string gpt2Name(Role role, int64_t layer, const std::string &p) {
  std::string l = p + "h." + std::to_string(layer) + ".";
  switch (role) {
  case Role::TokenEmbedding: return p + "wte.weight";
  case Role::PositionEmbedding: return p + "wpe.weight";
  case Role::AttnNorm: return l + "ln_1.weight";
  case Role::AttnNormBias: return l + "ln_1.bias";
  case Role::Wqkv: return l + "attn.c_attn.weight";
  case Role::Bqkv: return l + "attn.c_attn.bias";
  case Role::Wo: return l + "attn.c_proj.weight";
  case Role::Bo: return l + "attn.c_proj.bias";
  case Role::FfnNorm: return l + "ln_2.weight";
  case Role::FfnNormBias: return l + "ln_2.bias";
  case Role::FfnUp: return l + "mlp.c_fc.weight";
  case Role::BUp: return l + "mlp.c_fc.bias";
  case Role::FfnDown: return l + "mlp.c_proj.weight";
  case Role::BDown: return l + "mlp.c_proj.bias";
  case Role::FinalNorm: return p + "ln_f.weight";
  case Role::FinalNormBias: return p + "ln_f.bias";
  case Role::Output: return "lm_head.weight";
  default: return "";
  }
}

static void setHFNames(ModelSource &source) {
  const ModelConfig &c = source.config;
  if (c.arch == "gpt2") {
    std::string prefix =
        source.lookup("wte.weight") && !source.lookup("transformer.wte.weight")
            ? ""
            : "transformer.";
    source.nameOf = [prefix](Role role, int64_t layer, int64_t) {
      return gpt2Name(role, layer, prefix);
    };
    return;
  }
  FFNNames ffn = c.arch == "mixtral" ? FFNNames::Mixtral
                 : c.arch == "qwen2_moe" || c.arch == "qwen3_moe"
                     ? FFNNames::Qwen2MoE
                 : c.arch == "deepseek_v2" ? FFNNames::DeepSeek
                                           : FFNNames::Dense;
  bool bias = c.qkvBias, tied = c.tiedEmbeddings;
  NormNames norms = normNames(c.arch);
  source.nameOf = [=](Role role, int64_t layer, int64_t expert) {
    return hfName(role, layer, expert, ffn, norms, c.isMoELayer(layer), bias,
                  tied);
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
