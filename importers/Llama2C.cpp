//===- Llama2C.cpp - llama2.c checkpoints ---------------------------------===//
//
// The legacy llama2.c format: 7 little-endian int32 (dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then float32 arrays
// grouped by kind over all layers. A positive vocab_size means the
// classifier shares the token embedding; negative means a separate wcls
// follows the (ignored) freq_cis tables.
//
//===----------------------------------------------------------------------===//

#include "importers/ModelSource.h"
#include <cstring>

using namespace llmc;
using llvm::Error;

static std::string llama2cName(Role role, int64_t layer) {
  std::string l = "layers." + std::to_string(layer) + ".";
  switch (role) {
  case Role::TokenEmbedding: return "tok_embeddings.weight";
  case Role::AttnNorm: return l + "attention_norm.weight";
  case Role::Wq: return l + "attention.wq.weight";
  case Role::Wk: return l + "attention.wk.weight";
  case Role::Wv: return l + "attention.wv.weight";
  case Role::Wo: return l + "attention.wo.weight";
  case Role::FfnNorm: return l + "ffn_norm.weight";
  case Role::FfnGate: return l + "feed_forward.w1.weight";
  case Role::FfnDown: return l + "feed_forward.w2.weight";
  case Role::FfnUp: return l + "feed_forward.w3.weight";
  case Role::FinalNorm: return "norm.weight";
  case Role::Output: return "output.weight";
  default: return "";
  }
}

llvm::Expected<std::unique_ptr<ModelSource>>
llmc::openLlama2C(llvm::StringRef path,
                  std::unique_ptr<llvm::MemoryBuffer> buffer) {
  llvm::StringRef data = buffer->getBuffer();
  if (data.size() >= 4 && data.substr(0, 4) == "ak42")
    return fileError(path, "llama2.c version 1/2 exports (magic 'ak42') are "
                           "not supported; export with --version 0 (legacy)");
  if (data.size() < 28)
    return fileError(path, "too small for a llama2.c header (" +
                               llvm::Twine(data.size()) +
                               " bytes, need 28); not a model file?");
  int32_t h[7];
  std::memcpy(h, data.data(), sizeof(h));
  auto source = std::make_unique<ModelSource>();
  source->format = "llama2c";
  source->path = path.str();
  ModelConfig &c = source->config;
  c.arch = "llama";
  c.dim = h[0];
  c.hiddenDim = h[1];
  c.numLayers = h[2];
  c.numHeads = h[3];
  c.numKvHeads = h[4];
  c.tiedEmbeddings = h[5] > 0;
  c.vocabSize = h[5] == INT32_MIN ? 0 : std::abs(h[5]);
  c.maxSeq = h[6];
  c.normEps = 1e-5;
  c.ropeTheta = 10000.0;
  c.ropeStyle = RopeStyle::Interleaved;
  if (c.numHeads > 0 && c.dim % c.numHeads != 0)
    return fileError(path, "dim " + llvm::Twine(c.dim) +
                               " is not a multiple of n_heads " +
                               llvm::Twine(c.numHeads) +
                               "; not a llama2.c checkpoint?");
  c.headDim = c.numHeads > 0 ? c.dim / c.numHeads : 0;
  if (Error e = c.validate(path))
    return fileError(path, "invalid llama2.c header (" +
                               llvm::toString(std::move(e)) + ")");
  unsigned file = source->addFile(std::move(buffer));

  // Walk the layout; every size fits in uint64 since each dim <= 2^31 and
  // at most three are multiplied, but the sum is checked anyway.
  uint64_t offset = 28;
  bool overflow = false;
  auto add = [&](llvm::StringRef name, std::vector<int64_t> shape) -> Error {
    uint64_t bytes = *numElements(shape) * 4;
    TensorInfo t{name.str(), std::move(shape), DType::F32, file, offset, bytes};
    overflow |= __builtin_add_overflow(offset, bytes, &offset);
    if (overflow)
      return fileError(path, "header sizes overflow");
    return source->addTensor(std::move(t), path);
  };
  auto perLayer = [&](Role role, std::vector<int64_t> shape) -> Error {
    for (int64_t l = 0; l < c.numLayers; ++l)
      if (Error e = add(llama2cName(role, l), shape))
        return e;
    return Error::success();
  };
  auto truncated = [&](Error e) -> Error {
    // Name the real problem: a short file, with the size the header implies.
    llvm::consumeError(std::move(e));
    return fileError(path, "truncated: the header (dim " + llvm::Twine(c.dim) +
                               ", " + llvm::Twine(c.numLayers) +
                               " layers, vocab " + llvm::Twine(c.vocabSize) +
                               ") needs more than the file's " +
                               llvm::Twine(data.size()) + " bytes");
  };
  int64_t kv = c.kvDim();
  auto layout = [&]() -> Error {
    if (Error e = add(llama2cName(Role::TokenEmbedding, 0), {c.vocabSize, c.dim}))
      return e;
    std::pair<Role, std::vector<int64_t>> perLayerKinds[] = {
        {Role::AttnNorm, {c.dim}},         {Role::Wq, {c.dim, c.dim}},
        {Role::Wk, {kv, c.dim}},           {Role::Wv, {kv, c.dim}},
        {Role::Wo, {c.dim, c.dim}},        {Role::FfnNorm, {c.dim}},
        {Role::FfnGate, {c.hiddenDim, c.dim}},
        {Role::FfnDown, {c.dim, c.hiddenDim}},
        {Role::FfnUp, {c.hiddenDim, c.dim}}};
    for (auto &[role, shape] : perLayerKinds)
      if (Error e = perLayer(role, shape))
        return e;
    if (Error e = add(llama2cName(Role::FinalNorm, 0), {c.dim}))
      return e;
    // Legacy RoPE tables (freq_cis_real, freq_cis_imag): skipped.
    uint64_t freq = static_cast<uint64_t>(c.maxSeq) * c.headDim * 4;
    if (__builtin_add_overflow(offset, freq, &offset) || offset > data.size())
      return fileError(path, "freq_cis tables beyond the end of the file");
    if (!c.tiedEmbeddings)
      return add(llama2cName(Role::Output, 0), {c.vocabSize, c.dim});
    return Error::success();
  };
  if (Error e = layout())
    return overflow ? std::move(e) : truncated(std::move(e));
  if (offset != data.size())
    return fileError(path, llvm::Twine(data.size() - offset) +
                               " trailing bytes after the last tensor: the "
                               "header does not describe this file");
  source->nameOf = [](Role role, int64_t layer, int64_t) {
    return llama2cName(role, layer);
  };
  return std::move(source);
}
