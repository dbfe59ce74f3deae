//===- tokenizer.h - text <-> token ids (C++, no LLVM) ----------*- C++ -*-===//
//
// The tokenizers of every format llmc imports. They live in the runtime so
// that `llmc run`, the Python module and self-contained executables built
// with `llmc compile --emit exe` (which link no LLVM) share one
// implementation:
//   - score-merged BPE over a sentencepiece-derived vocabulary (llama2.c
//     tokenizer.bin, GGUF "llama" vocabularies);
//   - rank-merged BPE (Hugging Face tokenizer.json, GGUF "gpt2"
//     vocabularies), byte-level or sentencepiece-style;
//   - sentencepiece .model files through libsentencepiece (when the runtime
//     is built with it; LLMC_HAVE_SENTENCEPIECE).
//
// Parsers return null and set `error` to "<path>: <problem>" on bad input.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_TOKENIZER_H
#define LLMC_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmc {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  /// Token ids of `text`, with the BOS token first when `addBos`.
  virtual std::vector<int32_t> encode(std::string_view text,
                                      bool addBos) const = 0;
  /// Bytes token `id` contributes after token `prev` (-1 at the start), for
  /// streaming output. Special tokens (BOS/EOS) decode to nothing.
  virtual std::string decodeToken(int32_t prev, int32_t id) const = 0;
  /// Concatenated decodeToken over `ids`.
  std::string decode(const std::vector<int32_t> &ids) const;

  virtual int64_t vocabSize() const = 0;
  int32_t bos() const { return bosId; }
  int32_t eos() const { return eosId; }
  /// -1 when the vocabulary has no such token.
  void setSpecialIds(int32_t bos, int32_t eos) {
    bosId = bos;
    eosId = eos;
  }

protected:
  int32_t bosId = 1, eosId = 2;
};

namespace tokenizer {

/// A vocabulary as GGUF stores it (tokenizer.ggml.*): how artifacts carry
/// tokenizers that came from GGUF files (format "vocab", see
/// serializeVocab), so the runtime needs no GGUF reader.
struct Vocab {
  std::string model;               ///< "llama" (score BPE) or "gpt2" (rank BPE)
  std::vector<std::string> tokens; ///< id -> piece
  std::vector<float> scores;       ///< llama: one per token
  std::vector<std::string> merges; ///< gpt2: "left right", by rank
  std::vector<int32_t> tokenTypes; ///< optional; 3 = control, 4 = user
  std::string pre;                 ///< gpt2 pre-tokenizer name
  int32_t bos = -1, eos = -1;
};

/// llama2.c tokenizer.bin; `vocabSize` >= 0 reads exactly that many tokens.
std::unique_ptr<Tokenizer> parseLlama2C(std::string_view path,
                                        std::string_view data,
                                        int64_t vocabSize, std::string &error);
/// Hugging Face tokenizer.json (BPE models).
std::unique_ptr<Tokenizer> parseHFJson(std::string_view path,
                                       std::string_view data,
                                       std::string &error);
/// sentencepiece .model (an error when built without libsentencepiece).
std::unique_ptr<Tokenizer> parseSentencePiece(std::string_view path,
                                              std::string_view data,
                                              std::string &error);
/// A GGUF-style vocabulary.
std::unique_ptr<Tokenizer> fromVocab(std::string_view path, const Vocab &vocab,
                                     std::string &error);
/// The "vocab" section format (JSON) and its parser.
std::string serializeVocab(const Vocab &vocab);
std::unique_ptr<Tokenizer> parseVocab(std::string_view path,
                                      std::string_view data,
                                      std::string &error);

/// The tokenizer of an artifact section of manifest format `format`
/// ("llama2c", "sentencepiece", "hf-json" or "vocab").
std::unique_ptr<Tokenizer> parseSection(std::string_view format,
                                        std::string_view path,
                                        std::string_view data,
                                        std::string &error);

/// Whether this build reads sentencepiece .model files.
bool haveSentencePiece();

} // namespace tokenizer
} // namespace llmc

#endif // LLMC_TOKENIZER_H
