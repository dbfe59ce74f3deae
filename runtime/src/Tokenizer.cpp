//===- Tokenizer.cpp - score-merged BPE, sentencepiece, vocabularies ------===//

#include "runtime/src/TokenizerImpl.h"
#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#ifdef LLMC_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

using namespace llmc;
using namespace llmc::tokenizer;

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t id : ids) {
    out += decodeToken(prev, id);
    prev = id;
  }
  return out;
}

std::string tokenizer::fileMessage(std::string_view path,
                                   const std::string &message) {
  return std::string(path) + ": " + message;
}

/// Length of a well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
/// forms, no surrogates, at most U+10FFFF), or 0.
static size_t validSequence(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2
               : (c >> 4) == 0xe ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len == 0 || i + len > s.size())
    return 0;
  for (size_t k = 1; k < len; ++k)
    if ((b(i + k) & 0xc0) != 0x80)
      return 0;
  if (len == 3 && ((c == 0xe0 && b(i + 1) < 0xa0) ||  // overlong
                   (c == 0xed && b(i + 1) >= 0xa0)))  // surrogate
    return 0;
  if (len == 4 && ((c == 0xf0 && b(i + 1) < 0x90) ||  // overlong
                   (c == 0xf4 && b(i + 1) >= 0x90)))  // > U+10FFFF
    return 0;
  return len;
}

size_t tokenizer::utf8Length(std::string_view s, size_t i) {
  size_t len = validSequence(s, i);
  return len ? len : 1;
}

uint32_t tokenizer::utf8Decode(std::string_view s, size_t i, size_t len) {
  unsigned char c = s[i];
  if (len == 1)
    return c < 0x80 ? c : 0xfffd;
  uint32_t cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  return cp;
}

bool tokenizer::isUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t len = validSequence(s, i);
    if (!len)
      return false;
    i += len;
  }
  return true;
}

bool tokenizer::checkUtf8(std::string_view path,
                          const std::vector<std::string> &vocab,
                          std::string &error) {
  for (size_t id = 0; id < vocab.size(); ++id)
    if (!isUtf8(vocab[id])) {
      error = fileMessage(path, "token " + std::to_string(id) +
                                    " is not valid UTF-8");
      return false;
    }
  return true;
}

int tokenizer::parseByteToken(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>')
    return -1;
  int value = 0;
  for (char ch : piece.substr(3, 2)) {
    int d = ch >= '0' && ch <= '9'   ? ch - '0'
            : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
            : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                     : -1;
    if (d < 0)
      return -1;
    value = value * 16 + d;
  }
  return value;
}

std::string tokenizer::metaspaceToText(std::string_view piece, bool atStart) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, kMetaSpace.size()) == kMetaSpace) {
      out += ' ';
      i += kMetaSpace.size();
    } else {
      out += piece[i++];
    }
  }
  if (atStart && !out.empty() && out[0] == ' ')
    out.erase(0, 1);
  return out;
}

//===----------------------------------------------------------------------===//
// ScoreBPETokenizer
//===----------------------------------------------------------------------===//

ScoreBPETokenizer::ScoreBPETokenizer(std::vector<std::string> piecesIn,
                                     std::vector<float> scoresIn,
                                     std::string spaceIn, int32_t bos,
                                     int32_t eos)
    : pieces(std::move(piecesIn)), scores(std::move(scoresIn)),
      space(std::move(spaceIn)) {
  bosId = bos;
  eosId = eos;
  std::fill(std::begin(byteIds), std::end(byteIds), -1);
  for (size_t i = 0; i < pieces.size(); ++i) {
    ids.try_emplace(pieces[i], static_cast<int32_t>(i));
    int byte = parseByteToken(pieces[i]);
    if (byte >= 0 && byteIds[byte] < 0)
      byteIds[byte] = static_cast<int32_t>(i);
  }
}

std::vector<int32_t> ScoreBPETokenizer::encode(std::string_view text,
                                               bool addBos) const {
  std::vector<int32_t> out;
  if (addBos)
    out.push_back(bosId);
  if (text.empty())
    return out;
  std::string norm(text);
  if (space != " ") { // sentencepiece vocabularies spell spaces as U+2581
    std::string replaced;
    for (char ch : norm)
      replaced += ch == ' ' ? space : std::string(1, ch);
    norm = std::move(replaced);
  }
  // The dummy prefix: sentencepiece treats the text as starting with a space.
  std::vector<int32_t> tokens;
  if (auto it = ids.find(space); it != ids.end())
    tokens.push_back(it->second);
  std::string_view s(norm);
  std::string key;
  for (size_t i = 0; i < s.size();) {
    size_t len = utf8Length(s, i);
    key.assign(s.substr(i, len));
    auto it = ids.find(key);
    if (it != ids.end()) {
      tokens.push_back(it->second);
    } else {
      // Byte fallback: one <0xXX> token per byte (skipped if the vocabulary
      // has none, as llama2.c's encoder would emit <unk>-adjacent ids).
      for (size_t k = 0; k < len; ++k) {
        int32_t id = byteIds[static_cast<unsigned char>(s[i + k])];
        if (id >= 0)
          tokens.push_back(id);
      }
    }
    i += len;
  }
  // Repeatedly merge the adjacent pair whose merge has the highest score.
  while (true) {
    float best = -1e30f;
    int32_t bestId = -1;
    size_t bestIdx = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      key = pieces[tokens[i]];
      key += pieces[tokens[i + 1]];
      auto it = ids.find(key);
      if (it != ids.end() && scores[it->second] > best) {
        best = scores[it->second];
        bestId = it->second;
        bestIdx = i;
      }
    }
    if (bestId < 0)
      break;
    tokens[bestIdx] = bestId;
    tokens.erase(tokens.begin() + bestIdx + 1);
  }
  out.insert(out.end(), tokens.begin(), tokens.end());
  return out;
}

std::string ScoreBPETokenizer::decodeToken(int32_t prev, int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces.size() || id == bosId ||
      id == eosId)
    return "";
  std::string_view piece = pieces[id];
  int byte = parseByteToken(piece);
  if (byte >= 0)
    return std::string(1, static_cast<char>(byte));
  bool atStart = prev == bosId || prev < 0;
  if (space != " ") // sentencepiece vocabularies spell spaces as U+2581
    return metaspaceToText(piece, atStart);
  // llama2.c vocabularies store plain spaces; drop the dummy prefix.
  if (atStart && !piece.empty() && piece[0] == ' ')
    piece.remove_prefix(1);
  return std::string(piece);
}

//===----------------------------------------------------------------------===//
// llama2.c tokenizer.bin
//===----------------------------------------------------------------------===//

std::unique_ptr<Tokenizer> tokenizer::parseLlama2C(std::string_view path,
                                                   std::string_view data,
                                                   int64_t vocabSize,
                                                   std::string &error) {
  auto fail = [&](const std::string &m) {
    error = fileMessage(path, m);
    return nullptr;
  };
  if (data.size() < 4)
    return fail("too small for a llama2.c tokenizer");
  int32_t maxLen;
  std::memcpy(&maxLen, data.data(), 4);
  if (maxLen <= 0 || maxLen > (1 << 16))
    return fail("max_token_length " + std::to_string(maxLen) +
                " is implausible; not a llama2.c tokenizer?");
  std::vector<std::string> pieces;
  std::vector<float> scores;
  size_t pos = 4;
  while (pos < data.size() &&
         (vocabSize < 0 || static_cast<int64_t>(pieces.size()) < vocabSize)) {
    if (data.size() - pos < 8)
      return fail("truncated in token " + std::to_string(pieces.size()));
    float score;
    int32_t len;
    std::memcpy(&score, data.data() + pos, 4);
    std::memcpy(&len, data.data() + pos + 4, 4);
    pos += 8;
    if (len < 0 || len > maxLen || static_cast<size_t>(len) > data.size() - pos)
      return fail("token " + std::to_string(pieces.size()) + " has length " +
                  std::to_string(len) + " (max_token_length " +
                  std::to_string(maxLen) + ", " +
                  std::to_string(data.size() - pos) + " bytes left)");
    pieces.emplace_back(data.data() + pos, len);
    scores.push_back(score);
    pos += len;
  }
  if (vocabSize >= 0 && static_cast<int64_t>(pieces.size()) < vocabSize)
    return fail("has " + std::to_string(pieces.size()) +
                " tokens, the model needs " + std::to_string(vocabSize));
  if (pieces.size() < 3)
    return fail("has fewer than 3 tokens (<unk>, <s>, </s>)");
  if (!checkUtf8(path, pieces, error))
    return nullptr;
  return std::make_unique<ScoreBPETokenizer>(std::move(pieces),
                                             std::move(scores), " ", 1, 2);
}

//===----------------------------------------------------------------------===//
// sentencepiece .model
//===----------------------------------------------------------------------===//

#ifdef LLMC_HAVE_SENTENCEPIECE
namespace {
class SentencePieceTokenizer : public Tokenizer {
public:
  explicit SentencePieceTokenizer(
      std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
      : sp(std::move(sp)) {
    bosId = this->sp->bos_id();
    eosId = this->sp->eos_id();
  }
  std::vector<int32_t> encode(std::string_view text,
                              bool addBos) const override {
    std::vector<int> ids;
    (void)sp->Encode(text, &ids);
    std::vector<int32_t> out;
    if (addBos && bosId >= 0)
      out.push_back(bosId);
    out.insert(out.end(), ids.begin(), ids.end());
    return out;
  }
  std::string decodeToken(int32_t prev, int32_t id) const override {
    if (id < 0 || id >= sp->GetPieceSize() || sp->IsControl(id))
      return "";
    std::string piece = sp->IdToPiece(id);
    int byte = parseByteToken(piece);
    if (sp->IsByte(id) && byte >= 0)
      return std::string(1, static_cast<char>(byte));
    return metaspaceToText(piece, prev < 0 || prev == bosId);
  }
  int64_t vocabSize() const override { return sp->GetPieceSize(); }

private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp;
};
} // namespace
#endif

bool tokenizer::haveSentencePiece() {
#ifdef LLMC_HAVE_SENTENCEPIECE
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Tokenizer> tokenizer::parseSentencePiece(std::string_view path,
                                                         std::string_view data,
                                                         std::string &error) {
#ifdef LLMC_HAVE_SENTENCEPIECE
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto status = sp->LoadFromSerializedProto(data);
  if (!status.ok()) {
    error = fileMessage(path, "not a sentencepiece model: " + status.ToString());
    return nullptr;
  }
  return std::make_unique<SentencePieceTokenizer>(std::move(sp));
#else
  (void)data;
  error = fileMessage(path, "sentencepiece tokenizers are not supported by "
                            "this runtime (built without libsentencepiece)");
  return nullptr;
#endif
}

//===----------------------------------------------------------------------===//
// GGUF-style vocabularies and their "vocab" section
//===----------------------------------------------------------------------===//

std::unique_ptr<Tokenizer> tokenizer::fromVocab(std::string_view path,
                                                const Vocab &vocab,
                                                std::string &error) {
  if (vocab.model == "gpt2")
    return fromGPT2Vocab(path, vocab, error);
  if (vocab.model != "llama") {
    error = fileMessage(path, "tokenizer model '" + vocab.model +
                                  "' is not supported (llama, gpt2)");
    return nullptr;
  }
  if (vocab.tokens.empty()) {
    error = fileMessage(path, "tokenizer.ggml.tokens is missing or empty");
    return nullptr;
  }
  if (vocab.scores.size() != vocab.tokens.size()) {
    error = fileMessage(path, "tokenizer.ggml.scores must have one score per "
                              "token");
    return nullptr;
  }
  if (!checkUtf8(path, vocab.tokens, error))
    return nullptr;
  auto valid = [&](int32_t id, int32_t fallback) {
    return id >= 0 && static_cast<size_t>(id) < vocab.tokens.size() ? id
                                                                     : fallback;
  };
  return std::make_unique<ScoreBPETokenizer>(
      vocab.tokens, vocab.scores, std::string(kMetaSpace),
      valid(vocab.bos, 1), valid(vocab.eos, 2));
}

std::string tokenizer::serializeVocab(const Vocab &vocab) {
  nlohmann::json j = {{"format", "llmc-vocab-v1"},
                      {"model", vocab.model},
                      {"tokens", vocab.tokens},
                      {"scores", vocab.scores},
                      {"merges", vocab.merges},
                      {"token_types", vocab.tokenTypes},
                      {"pre", vocab.pre},
                      {"bos_id", vocab.bos},
                      {"eos_id", vocab.eos}};
  // Pieces that are not UTF-8 are rejected before serialization; replace
  // rather than throw should one slip through.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<Tokenizer> tokenizer::parseVocab(std::string_view path,
                                                 std::string_view data,
                                                 std::string &error) {
  nlohmann::json j = nlohmann::json::parse(data, nullptr, false);
  if (j.is_discarded() || !j.is_object() ||
      j.value("format", "") != "llmc-vocab-v1") {
    error = fileMessage(path, "the tokenizer section is not an llmc-vocab-v1 "
                              "JSON object");
    return nullptr;
  }
  Vocab v;
  try {
    v.model = j.at("model").get<std::string>();
    v.tokens = j.at("tokens").get<std::vector<std::string>>();
    v.scores = j.at("scores").get<std::vector<float>>();
    v.merges = j.at("merges").get<std::vector<std::string>>();
    v.tokenTypes = j.at("token_types").get<std::vector<int32_t>>();
    v.pre = j.at("pre").get<std::string>();
    v.bos = j.at("bos_id").get<int32_t>();
    v.eos = j.at("eos_id").get<int32_t>();
  } catch (const nlohmann::json::exception &e) {
    error = fileMessage(path, std::string("malformed vocabulary: ") + e.what());
    return nullptr;
  }
  return fromVocab(path, v, error);
}

std::unique_ptr<Tokenizer> tokenizer::parseSection(std::string_view format,
                                                   std::string_view path,
                                                   std::string_view data,
                                                   std::string &error) {
  if (format == "llama2c")
    return parseLlama2C(path, data, -1, error);
  if (format == "sentencepiece")
    return parseSentencePiece(path, data, error);
  if (format == "hf-json")
    return parseHFJson(path, data, error);
  if (format == "vocab")
    return parseVocab(path, data, error);
  error = fileMessage(path, "tokenizer format '" + std::string(format) +
                                "' is not supported by this runtime "
                                "(llama2c, sentencepiece, hf-json, vocab); "
                                "recompile the model with this llmc");
  return nullptr;
}
