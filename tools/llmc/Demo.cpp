//===- Demo.cpp - the built-in synthetic demo model -----------------------===//
//
// A small Llama (dim 128, 4 layers, 8 heads, 4 KV heads, hidden 344) with
// weights from a fixed-seed generator, written in llama2.c's checkpoint
// format in memory, and a llama2.c-format tokenizer of printable ASCII and
// common English words. It needs no files, so `llmc run --demo` works on a
// fresh machine; its text is as random as its weights.
//
//===----------------------------------------------------------------------===//

#include "Compile.h"
#include "importers/BuildIR.h"
#include "importers/Tokenizer.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>
#include <cstring>

using namespace llvm;
using namespace llmc;

namespace {
constexpr int32_t kDim = 128, kHidden = 344, kLayers = 4, kHeads = 8,
                  kKvHeads = 4, kSeq = 256;

std::vector<std::string> demoVocabulary() {
  std::vector<std::string> v = {"<unk>", "\n<s>\n", "\n</s>\n"};
  for (char c = 32; c < 127; ++c)
    v.push_back(std::string(1, c));
  v.push_back("\n");
  for (const char *w :
       {"the", "a", "and", "to", "was", "he", "she", "it", "of", "in", "they",
        "said", "with", "his", "her", "day", "one", "little", "big", "happy",
        "Once", "upon", "time", "there", "girl", "boy", "dog", "cat", "tree",
        "sun", "play", "went", "saw", "very", "friend", "mom", "park", "ball",
        "home", "red", "blue", "toy", "bird", "fish", "run", "jump", "smile",
        "you", "we", "is", "had", "not", "could", "would", "so", "but", "for",
        "on", "at", "up", "all", "what", "when", "like", "wanted", "loved",
        "found", "looked", "named", "Lily", "Tom", "Ben", "Sue", "nice", "good"})
    v.push_back(std::string(" ") + w);
  return v;
}

/// llama2.c tokenizer file: max token length, then (score, len, bytes).
std::string demoTokenizer(const std::vector<std::string> &vocab) {
  std::string out;
  auto put = [&](const void *p, size_t n) {
    out.append(static_cast<const char *>(p), n);
  };
  int32_t maxLen = 0;
  for (const std::string &t : vocab)
    maxLen = std::max<int32_t>(maxLen, t.size());
  put(&maxLen, 4);
  for (size_t i = 0; i < vocab.size(); ++i) {
    // Longer pieces merge first.
    float score = i < 3 ? 0.0f : static_cast<float>(vocab[i].size());
    int32_t len = vocab[i].size();
    put(&score, 4);
    put(&len, 4);
    put(vocab[i].data(), len);
  }
  return out;
}

/// llama2.c checkpoint with deterministic pseudo-random weights.
std::string demoCheckpoint(int32_t vocab) {
  std::string out;
  int32_t header[7] = {kDim, kHidden, kLayers, kHeads, kKvHeads, vocab, kSeq};
  out.append(reinterpret_cast<const char *>(header), sizeof(header));
  uint64_t state = 0x2545F4914F6CDD1Dull;
  auto next = [&]() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<float>((state >> 40) * (1.0 / (1ull << 24))) * 2.0f -
           1.0f;
  };
  auto fill = [&](int64_t n, float scale, float offset = 0.0f) {
    for (int64_t i = 0; i < n; ++i) {
      float v = offset + scale * next();
      out.append(reinterpret_cast<const char *>(&v), 4);
    }
  };
  int64_t kvDim = kDim / kHeads * kKvHeads, hd = kDim / kHeads;
  float s = 1.0f / std::sqrt(float(kDim)), sh = 1.0f / std::sqrt(float(kHidden));
  fill(int64_t(vocab) * kDim, 0.05f);                // token embedding
  fill(int64_t(kLayers) * kDim, 0.1f, 1.0f);         // attention norms
  fill(int64_t(kLayers) * kDim * kDim, s);           // wq
  fill(int64_t(kLayers) * kvDim * kDim, s);          // wk
  fill(int64_t(kLayers) * kvDim * kDim, s);          // wv
  fill(int64_t(kLayers) * kDim * kDim, s);           // wo
  fill(int64_t(kLayers) * kDim, 0.1f, 1.0f);         // ffn norms
  fill(int64_t(kLayers) * kHidden * kDim, s);        // w1
  fill(int64_t(kLayers) * kDim * kHidden, sh);       // w2
  fill(int64_t(kLayers) * kHidden * kDim, s);        // w3
  fill(kDim, 0.1f, 1.0f);                            // final norm
  fill(int64_t(kSeq) * hd, 0.0f);                    // legacy freq_cis
  return out;
}
} // namespace

Expected<std::string> llmc::compileDemo(const CompileOptions &options) {
  std::vector<std::string> vocab = demoVocabulary();
  std::string checkpoint = demoCheckpoint(static_cast<int32_t>(vocab.size()));
  auto source = openLlama2C("<demo>", MemoryBuffer::getMemBufferCopy(
                                          checkpoint, "<demo>"));
  if (!source)
    return source.takeError();
  mlir::MLIRContext context; // outlives the module
  LoadedModel model;
  model.source = std::move(*source);
  model.tokenizer.format = TokenizerFormat::Llama2C;
  model.tokenizer.name = "demo-tokenizer.bin";
  model.tokenizer.formatName = "llama2c";
  model.tokenizer.bytes = demoTokenizer(vocab);
  model.tokenizer.bos = 1;
  model.tokenizer.eos = 2;
  prepareContext(context);
  model.module = buildModule(context, *model.source);
  return compileWithCache(model, options, "demo");
}
