//===- TokenizerImpl.h - tokenizer implementations (internal) ---*- C++ -*-===//

#ifndef LLMC_RUNTIME_SRC_TOKENIZERIMPL_H
#define LLMC_RUNTIME_SRC_TOKENIZERIMPL_H

#include "llmc/tokenizer.h"
#include <string>
#include <unordered_map>

namespace llmc::tokenizer {

/// Length of the UTF-8 sequence starting at s[i] (1 for invalid bytes, so
/// that malformed input degrades to bytes instead of failing).
size_t utf8Length(std::string_view s, size_t i);
/// Decodes the code point at s[i] of length `len` (U+FFFD when invalid).
uint32_t utf8Decode(std::string_view s, size_t i, size_t len);
/// Whether `s` is valid UTF-8.
bool isUtf8(std::string_view s);
/// Checks that every vocabulary entry is valid UTF-8; false with `error`
/// set otherwise.
bool checkUtf8(std::string_view path, const std::vector<std::string> &vocab,
               std::string &error);

/// "<0xAB>" -> 0xAB; -1 when `piece` is not a byte token.
int parseByteToken(std::string_view piece);

/// Sentencepiece's space symbol, U+2581.
inline constexpr std::string_view kMetaSpace = "\xe2\x96\x81";

/// The text of a sentencepiece-style piece: U+2581 becomes ' ', and at the
/// start of the text (after BOS, or first) the dummy-prefix space is
/// dropped.
std::string metaspaceToText(std::string_view piece, bool atStart);

/// "<path>: <message>".
std::string fileMessage(std::string_view path, const std::string &message);

using IdMap = std::unordered_map<std::string, int32_t>;

/// BPE merging by vocabulary score over a sentencepiece-style vocabulary:
/// llama2.c's tokenizer.bin (space " ") and GGUF "llama" vocabularies
/// (space "▁").
class ScoreBPETokenizer : public Tokenizer {
public:
  ScoreBPETokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                    std::string space, int32_t bos, int32_t eos);
  std::vector<int32_t> encode(std::string_view text,
                              bool addBos) const override;
  std::string decodeToken(int32_t prev, int32_t id) const override;
  int64_t vocabSize() const override { return pieces.size(); }

private:
  std::vector<std::string> pieces;
  std::vector<float> scores;
  IdMap ids;
  std::string space;
  int32_t byteIds[256];
};

/// The rank-merged BPE tokenizer of a GGUF "gpt2" vocabulary.
std::unique_ptr<Tokenizer> fromGPT2Vocab(std::string_view path,
                                         const Vocab &vocab,
                                         std::string &error);

} // namespace llmc::tokenizer

#endif // LLMC_RUNTIME_SRC_TOKENIZERIMPL_H
