//===- ModelSource.cpp - an opened model ----------------------------------===//

#include "importers/ModelSource.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include <sys/mman.h>
#include <cmath>

using namespace llmc;
using llvm::Error;

Error llmc::fileError(llvm::StringRef path, const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 (path + ": " + message).str());
}

llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
llmc::readFile(llvm::StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return fileError(path, "cannot read: " + buffer.getError().message());
  return std::move(*buffer);
}

Error ModelConfig::validate(llvm::StringRef path) const {
  auto positive = [&](int64_t v, const char *what) -> Error {
    if (v <= 0 || v > (int64_t(1) << 31))
      return fileError(path, llvm::Twine(what) + " must be in [1, 2^31], got " +
                                 llvm::Twine(v));
    return Error::success();
  };
  for (auto [v, what] : {std::pair<int64_t, const char *>{dim, "dim"},
                         {hiddenDim, "hidden_dim"},
                         {numLayers, "n_layers"},
                         {numHeads, "n_heads"},
                         {numKvHeads, "n_kv_heads"},
                         {headDim, "head_dim"},
                         {vocabSize, "vocab_size"},
                         {maxSeq, "max_seq_len"}})
    if (Error e = positive(v, what))
      return e;
  if (numHeads % numKvHeads != 0)
    return fileError(path, "n_heads (" + llvm::Twine(numHeads) +
                               ") is not a multiple of n_kv_heads (" +
                               llvm::Twine(numKvHeads) + ")");
  if (headDim % 2 != 0)
    return fileError(path, "head_dim " + llvm::Twine(headDim) +
                               " is odd; RoPE needs pairs");
  if (rotaryDim < 0 || rotaryDim % 2 != 0 || rotaryDim > headDim)
    return fileError(path, "rotary dimensions (" + llvm::Twine(rotaryDim) +
                               ") must be even and at most head_dim (" +
                               llvm::Twine(headDim) + ")");
  if (!(normEps > 0) || !(ropeTheta > 1) ||
      (slidingRope && !(slidingRope->theta > 1)))
    return fileError(path, "norm epsilon must be > 0 and rope theta > 1");
  for (std::optional<double> v :
       {attentionScale, attentionSoftcap, finalSoftcap})
    if (v && !(*v > 0 && std::isfinite(*v)))
      return fileError(path, "attention scale and soft caps must be positive");
  if (!slidingLayers.empty() && int64_t(slidingLayers.size()) != numLayers)
    return fileError(path, "layer types list " +
                               llvm::Twine(slidingLayers.size()) +
                               " layers, the model has " +
                               llvm::Twine(numLayers));
  if (numExperts < 0 || (numExperts > 0 && (expertsPerToken < 1 ||
                                            expertsPerToken > numExperts)))
    return fileError(path, "experts per token (" +
                               llvm::Twine(expertsPerToken) +
                               ") must be in [1, " + llvm::Twine(numExperts) +
                               "]");
  if (numExperts > 0) {
    if (expertHiddenDim < 0 || sharedHiddenDim < 0 ||
        expertHidden() > (int64_t(1) << 31) ||
        sharedHiddenDim > (int64_t(1) << 31))
      return fileError(path, "expert hidden sizes must be in [1, 2^31]");
    for (int64_t l : denseLayers)
      if (l < 0 || l >= numLayers)
        return fileError(path, "dense (MLP-only) layer " + llvm::Twine(l) +
                                   " is not in [0, " + llvm::Twine(numLayers) +
                                   ")");
    if (expertGroups < 0 || (expertGroups > 0 &&
                             (numExperts % expertGroups != 0 || topGroups < 1 ||
                              topGroups > expertGroups ||
                              topGroups * (numExperts / expertGroups) <
                                  expertsPerToken)))
      return fileError(path, "expert groups (" + llvm::Twine(expertGroups) +
                                 ", " + llvm::Twine(topGroups) +
                                 " chosen) must divide the experts and hold "
                                 "the experts per token");
    if (routedScale < 0 || !std::isfinite(routedScale))
      return fileError(path, "routed_scaling_factor must be positive");
  }
  if (mla) {
    for (auto [v, what] :
         {std::pair<int64_t, const char *>{mla->kvLora, "kv_lora_rank"},
          {mla->nopeDim, "qk_nope_head_dim"},
          {mla->ropeDim, "qk_rope_head_dim"},
          {mla->valueDim, "v_head_dim"}})
      if (Error e = positive(v, what))
        return e;
    if (mla->qLora < 0 || mla->ropeDim % 2 != 0)
      return fileError(path, "q_lora_rank must be >= 0 and qk_rope_head_dim "
                             "even");
  }
  return Error::success();
}

void ModelSource::releaseMappedPages() const {
  uintptr_t page = llvm::sys::Process::getPageSizeEstimate();
  for (const auto &f : files) {
    // Only mappings: a buffer read into memory would lose its contents.
    if (f->getBufferKind() != llvm::MemoryBuffer::MemoryBuffer_MMap)
      continue;
    uintptr_t begin = reinterpret_cast<uintptr_t>(f->getBufferStart());
    uintptr_t first = llvm::alignTo(begin, page); // whole pages only
    uintptr_t end = (begin + f->getBufferSize()) / page * page;
    if (end > first)
      ::madvise(reinterpret_cast<void *>(first), end - first, MADV_DONTNEED);
  }
}

const TensorInfo *ModelSource::lookup(llvm::StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &tensorList[it->second];
}

llvm::ArrayRef<uint8_t> ModelSource::bytes(const TensorInfo &t) const {
  const llvm::MemoryBuffer &buf = *files[t.file];
  return {reinterpret_cast<const uint8_t *>(buf.getBufferStart()) + t.offset,
          static_cast<size_t>(t.size)};
}

std::vector<float> ModelSource::readF32(const TensorInfo &t) const {
  uint64_t n = *numElements(t.shape);
  std::vector<float> out(n);
  convertToF32(t.dtype, bytes(t).data(), n, out.data());
  return out;
}

llvm::ArrayRef<uint8_t> ModelSource::fileBytes(unsigned file) const {
  const llvm::MemoryBuffer &buf = *files[file];
  return {reinterpret_cast<const uint8_t *>(buf.getBufferStart()),
          buf.getBufferSize()};
}

unsigned ModelSource::addFile(std::unique_ptr<llvm::MemoryBuffer> buffer) {
  files.push_back(std::move(buffer));
  return files.size() - 1;
}

Error ModelSource::addTensor(TensorInfo info, llvm::StringRef fileForErrors) {
  std::optional<uint64_t> n = numElements(info.shape);
  if (!n)
    return fileError(fileForErrors, "tensor '" + info.name + "' shape " +
                                        formatShape(info.shape) +
                                        " overflows the element count");
  std::optional<uint64_t> want = dtypeStorageBytes(info.dtype, *n);
  if (!want)
    return fileError(fileForErrors,
                     "tensor '" + info.name + "' shape " +
                         formatShape(info.shape) + " is not a whole number of " +
                         dtypeName(info.dtype) + " blocks or overflows");
  if (info.size != *want)
    return fileError(fileForErrors,
                     "tensor '" + info.name + "' has " + llvm::Twine(info.size) +
                         " bytes, but " + dtypeName(info.dtype) + " " +
                         formatShape(info.shape) + " needs " +
                         llvm::Twine(*want));
  uint64_t fileSize = files[info.file]->getBufferSize();
  if (info.offset > fileSize || info.size > fileSize - info.offset)
    return fileError(fileForErrors,
                     "tensor '" + info.name + "' claims bytes [" +
                         llvm::Twine(info.offset) + ", " +
                         llvm::Twine(info.offset) + " + " +
                         llvm::Twine(info.size) + ") beyond the end of the " +
                         llvm::Twine(fileSize) + "-byte file (truncated?)");
  if (!byName.try_emplace(info.name, tensorList.size()).second)
    return fileError(fileForErrors,
                     "tensor '" + info.name + "' is defined twice");
  tensorList.push_back(std::move(info));
  return Error::success();
}

Error ModelSource::expectTensor(llvm::StringRef name,
                                llvm::ArrayRef<int64_t> shape) const {
  const TensorInfo *t = lookup(name);
  if (!t)
    return fileError(path, "tensor '" + name + "' is missing");
  if (llvm::ArrayRef<int64_t>(t->shape) != shape)
    return fileError(path, "tensor '" + name + "' has shape " +
                               formatShape(t->shape) + ", the config implies " +
                               formatShape(shape));
  return Error::success();
}

Error ModelSource::forEachExpectedTensor(
    llvm::function_ref<Error(const std::string &, llvm::ArrayRef<int64_t>)> fn)
    const {
  const ModelConfig &c = config;
  auto visit = [&](Role role, int64_t layer, int64_t expert,
                   llvm::ArrayRef<int64_t> shape) -> Error {
    std::string name = nameOf(role, layer, expert);
    return name.empty() ? Error::success() : fn(name, shape);
  };
  if (Error e = visit(Role::TokenEmbedding, -1, -1, {c.vocabSize, c.dim}))
    return e;
  if (c.learnedPositions)
    if (Error e = visit(Role::PositionEmbedding, -1, -1, {c.maxSeq, c.dim}))
      return e;
  if (Error e = visit(Role::FinalNorm, -1, -1, {c.dim}))
    return e;
  if (c.layerNorm)
    if (Error e = visit(Role::FinalNormBias, -1, -1, {c.dim}))
      return e;
  // A linear weight's stored shape: [out, in], or [in, out] (Conv1D).
  auto lin = [&](int64_t out, int64_t in) {
    return c.transposedWeights ? std::vector<int64_t>{in, out}
                               : std::vector<int64_t>{out, in};
  };
  if (!c.tiedEmbeddings)
    if (Error e = visit(Role::Output, -1, -1, {c.vocabSize, c.dim}))
      return e;
  for (int64_t l = 0; l < c.numLayers; ++l) {
    std::vector<std::pair<Role, std::vector<int64_t>>> want;
    if (c.preNorms) {
      want.push_back({Role::AttnNorm, {c.dim}});
      if (c.layerNorm)
        want.push_back({Role::AttnNormBias, {c.dim}});
    }
    int64_t qkvDim = c.qDim() + 2 * c.kvDim();
    if (const auto &m = c.mla) {
      int64_t h = c.numHeads, qHead = m->nopeDim + m->ropeDim;
      if (m->qLora > 0) {
        want.push_back({Role::QA, {m->qLora, c.dim}});
        want.push_back({Role::QANorm, {m->qLora}});
        want.push_back({Role::QB, {h * qHead, m->qLora}});
      } else {
        want.push_back({Role::Wq, {h * qHead, c.dim}});
      }
      want.push_back({Role::KVA, {m->kvLora + m->ropeDim, c.dim}});
      want.push_back({Role::KVANorm, {m->kvLora}});
      if (nameOf(Role::KVB, l, -1).empty()) {
        want.push_back({Role::KB, {h, m->kvLora, m->nopeDim}});
        want.push_back({Role::VB, {h, m->valueDim, m->kvLora}});
      } else {
        want.push_back(
            {Role::KVB, {h * (m->nopeDim + m->valueDim), m->kvLora}});
      }
      want.push_back({Role::Wo, {c.dim, h * m->valueDim}});
    } else if (c.fusedQKV) {
      want.push_back({Role::Wqkv, lin(qkvDim, c.dim)});
    } else {
      want.push_back({Role::Wq, lin(c.qDim(), c.dim)});
      want.push_back({Role::Wk, lin(c.kvDim(), c.dim)});
      want.push_back({Role::Wv, lin(c.kvDim(), c.dim)});
    }
    if (!c.mla)
      want.push_back({Role::Wo, lin(c.dim, c.qDim())});
    if (c.linearBias) {
      want.push_back({Role::Bo, {c.dim}});
      if (c.fusedQKV)
        want.push_back({Role::Bqkv, {qkvDim}});
    }
    if (c.preNorms) {
      want.push_back({Role::FfnNorm, {c.dim}});
      if (c.layerNorm)
        want.push_back({Role::FfnNormBias, {c.dim}});
    }
    if (c.postNorms) {
      want.push_back({Role::PostAttnNorm, {c.dim}});
      want.push_back({Role::PostFfnNorm, {c.dim}});
    }
    bool perHead = c.qkNorm == ModelConfig::QKNorm::PerHead;
    if (c.qkNorm != ModelConfig::QKNorm::None) {
      want.push_back({Role::QNorm, {perHead ? c.headDim : c.qDim()}});
      want.push_back({Role::KNorm, {perHead ? c.headDim : c.kvDim()}});
    }
    if (c.qkvBias) {
      want.push_back({Role::Bq, {c.qDim()}});
      want.push_back({Role::Bk, {c.kvDim()}});
      want.push_back({Role::Bv, {c.kvDim()}});
    }
    bool moe = c.isMoELayer(l);
    if (!moe) {
      if (c.fusedGateUp) {
        want.push_back({Role::FfnGateUp, lin(2 * c.hiddenDim, c.dim)});
      } else {
        if (c.gatedFFN)
          want.push_back({Role::FfnGate, lin(c.hiddenDim, c.dim)});
        want.push_back({Role::FfnUp, lin(c.hiddenDim, c.dim)});
      }
      want.push_back({Role::FfnDown, lin(c.dim, c.hiddenDim)});
      if (c.linearBias) {
        want.push_back({Role::BUp, {c.hiddenDim}});
        want.push_back({Role::BDown, {c.dim}});
      }
    } else {
      want.push_back({Role::Router, {c.numExperts, c.dim}});
      if (int64_t s = c.sharedHiddenDim) {
        want.push_back({Role::SharedGate, {s, c.dim}});
        want.push_back({Role::SharedUp, {s, c.dim}});
        want.push_back({Role::SharedDown, {c.dim, s}});
        // GGUF stores the shared expert's gate as a vector.
        if (c.sharedExpertGate)
          want.push_back({Role::SharedScale,
                          stackedExperts ? std::vector<int64_t>{c.dim}
                                         : std::vector<int64_t>{1, c.dim}});
      }
    }
    for (auto &[role, shape] : want)
      if (Error e = visit(role, l, -1, shape))
        return e;
    if (!moe)
      continue;
    int64_t f = c.expertHidden();
    std::vector<std::pair<Role, std::vector<int64_t>>> experts = {
        {Role::ExpertGate, {f, c.dim}},
        {Role::ExpertUp, {f, c.dim}},
        {Role::ExpertDown, {c.dim, f}}};
    for (auto &[role, shape] : experts) {
      if (stackedExperts) {
        std::vector<int64_t> stacked = {c.numExperts};
        stacked.insert(stacked.end(), shape.begin(), shape.end());
        if (Error e = visit(role, l, -1, stacked))
          return e;
        continue;
      }
      for (int64_t x = 0; x < c.numExperts; ++x)
        if (Error e = visit(role, l, x, shape))
          return e;
    }
  }
  return Error::success();
}

Error ModelSource::checkTensors() const {
  return forEachExpectedTensor(
      [&](const std::string &name, llvm::ArrayRef<int64_t> shape) {
        return expectTensor(name, shape);
      });
}

void ModelSource::addDescribedTensors(DType dtype) {
  cantFail(forEachExpectedTensor(
      [&](const std::string &name, llvm::ArrayRef<int64_t> shape) -> Error {
        if (byName.count(name))
          return Error::success();
        uint64_t n = *numElements(shape);
        byName[name] = tensorList.size();
        tensorList.push_back(TensorInfo{name, shape.vec(), dtype, 0, 0,
                                        dtypeStorageBytes(dtype, n).value_or(0)});
        return Error::success();
      }));
}

llvm::Expected<std::unique_ptr<ModelSource>>
llmc::openModel(llvm::StringRef path, llvm::StringRef tokenizerPath) {
  std::unique_ptr<ModelSource> source;
  if (llvm::sys::path::extension(path) == ".json") {
    auto hf = openHuggingFaceConfig(path);
    if (!hf)
      return hf.takeError();
    source = std::move(*hf);
  } else if (llvm::sys::fs::is_directory(path)) {
    auto hf = openHuggingFace(path);
    if (!hf)
      return hf.takeError();
    source = std::move(*hf);
  } else {
    auto buffer = readFile(path);
    if (!buffer)
      return buffer.takeError();
    llvm::StringRef head = (*buffer)->getBuffer();
    auto opened = head.starts_with("GGUF")
                      ? openGGUF(path, std::move(*buffer))
                      : openLlama2C(path, std::move(*buffer));
    if (!opened)
      return opened.takeError();
    source = std::move(*opened);
  }
  if (!tokenizerPath.empty()) {
    llvm::StringRef ext = llvm::sys::path::extension(tokenizerPath);
    source->tokenizer.path = tokenizerPath.str();
    source->tokenizer.format =
        ext == ".json"    ? TokenizerFormat::HFJson
        : ext == ".model" ? TokenizerFormat::SentencePieceModel
                          : TokenizerFormat::Llama2C;
  }
  return std::move(source);
}
