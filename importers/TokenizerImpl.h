//===- TokenizerImpl.h - tokenizer implementations (internal) ---*- C++ -*-===//

#ifndef LLMC_IMPORTERS_TOKENIZERIMPL_H
#define LLMC_IMPORTERS_TOKENIZERIMPL_H

#include "importers/GGUF.h"
#include "importers/Tokenizer.h"
#include "llvm/ADT/StringMap.h"

namespace llmc {

/// Length of the UTF-8 sequence starting at s[i] (1 for invalid bytes, so
/// that malformed input degrades to bytes instead of failing).
size_t utf8Length(llvm::StringRef s, size_t i);
/// Decodes the code point at s[i] of length `len` (U+FFFD when invalid).
uint32_t utf8Decode(llvm::StringRef s, size_t i, size_t len);
/// Checks that every vocabulary entry is valid UTF-8.
llvm::Error checkUtf8(llvm::StringRef path, llvm::ArrayRef<std::string> vocab);

/// "<0xAB>" -> 0xAB; -1 when `piece` is not a byte token.
int parseByteToken(llvm::StringRef piece);

/// Sentencepiece's space symbol, U+2581.
inline constexpr llvm::StringLiteral kMetaSpace = "\xe2\x96\x81";

/// The text of a sentencepiece-style piece: U+2581 becomes ' ', and at the
/// start of the text (after BOS, or first) the dummy-prefix space is
/// dropped.
std::string metaspaceToText(llvm::StringRef piece, bool atStart);

/// BPE merging by vocabulary score over a sentencepiece-style vocabulary:
/// llama2.c's tokenizer.bin (space " ") and GGUF "llama" vocabularies
/// (space "▁").
class ScoreBPETokenizer : public Tokenizer {
public:
  ScoreBPETokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                    std::string space, int32_t bos, int32_t eos);
  std::vector<int32_t> encode(llvm::StringRef text, bool addBos) const override;
  std::string decodeToken(int32_t prev, int32_t id) const override;
  int64_t vocabSize() const override { return pieces.size(); }

private:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  llvm::StringMap<int32_t> ids;
  std::string space;
  int32_t byteIds[256];
};

/// Builds the rank-merged BPE tokenizer of a GGUF "gpt2" vocabulary.
llvm::Expected<std::unique_ptr<Tokenizer>>
makeGGUFBPETokenizer(llvm::StringRef path, const GGUFFile &file);

} // namespace llmc

#endif // LLMC_IMPORTERS_TOKENIZERIMPL_H
