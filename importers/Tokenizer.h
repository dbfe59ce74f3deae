//===- Tokenizer.h - text <-> token ids -------------------------*- C++ -*-===//
//
// Tokenizers of every format llmc imports, reused by the runtime:
//   - score-merged BPE over a sentencepiece-derived vocabulary (llama2.c
//     tokenizer.bin, GGUF "llama" vocabularies);
//   - rank-merged BPE (Hugging Face tokenizer.json, GGUF "gpt2"
//     vocabularies), byte-level or sentencepiece-style;
//   - sentencepiece .model files through libsentencepiece.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORTERS_TOKENIZER_H
#define LLMC_IMPORTERS_TOKENIZER_H

#include "importers/ModelSource.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  /// Token ids of `text`, with the BOS token first when `addBos`.
  virtual std::vector<int32_t> encode(llvm::StringRef text,
                                      bool addBos) const = 0;
  /// Bytes token `id` contributes after token `prev` (-1 at the start), for
  /// streaming output. Special tokens (BOS/EOS) decode to nothing.
  virtual std::string decodeToken(int32_t prev, int32_t id) const = 0;
  /// Concatenated decodeToken over `ids`.
  std::string decode(llvm::ArrayRef<int32_t> ids) const;

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

llvm::Expected<std::unique_ptr<Tokenizer>>
loadTokenizer(const TokenizerSpec &spec);

/// Loads from a path, choosing the format by content/extension: GGUF file,
/// tokenizer.json, sentencepiece .model, or llama2.c tokenizer.bin.
llvm::Expected<std::unique_ptr<Tokenizer>>
loadTokenizerFile(llvm::StringRef path);

/// A tokenizer of `format` from the bytes of its file (`path` names it in
/// errors); how artifacts carry their tokenizer.
llvm::Expected<std::unique_ptr<Tokenizer>>
parseTokenizer(TokenizerFormat format, llvm::StringRef path,
               llvm::StringRef data);

/// "llama2c", "sentencepiece", "hf-json", "gguf" or "none".
llvm::StringRef tokenizerFormatName(TokenizerFormat format);
std::optional<TokenizerFormat> parseTokenizerFormatName(llvm::StringRef name);

/// Parsers over in-memory data (also the fuzz targets' entry points).
llvm::Expected<std::unique_ptr<Tokenizer>>
parseLlama2CTokenizer(llvm::StringRef path, llvm::StringRef data,
                      int64_t vocabSize = -1);
llvm::Expected<std::unique_ptr<Tokenizer>>
parseHFTokenizerJson(llvm::StringRef path, llvm::StringRef data);
llvm::Expected<std::unique_ptr<Tokenizer>>
parseGGUFTokenizer(llvm::StringRef path, llvm::StringRef data);

} // namespace llmc

#endif // LLMC_IMPORTERS_TOKENIZER_H
