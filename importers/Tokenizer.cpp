//===- Tokenizer.cpp - score-merged BPE, sentencepiece, loading -----------===//

#include "importers/Tokenizer.h"
#include "importers/TokenizerImpl.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Path.h"
#include <cstring>
#include <sentencepiece_processor.h>

using namespace llmc;
using llvm::Error;

std::string Tokenizer::decode(llvm::ArrayRef<int32_t> ids) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t id : ids) {
    out += decodeToken(prev, id);
    prev = id;
  }
  return out;
}

size_t llmc::utf8Length(llvm::StringRef s, size_t i) {
  unsigned char c = s[i];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3
               : (c >> 3) == 0x1e ? 4 : 1;
  if (i + len > s.size())
    return 1;
  const auto *p = reinterpret_cast<const llvm::UTF8 *>(s.data() + i);
  return llvm::isLegalUTF8Sequence(p, p + len) ? len : 1;
}

uint32_t llmc::utf8Decode(llvm::StringRef s, size_t i, size_t len) {
  unsigned char c = s[i];
  if (len == 1)
    return c < 0x80 ? c : 0xfffd;
  uint32_t cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
  return cp;
}

Error llmc::checkUtf8(llvm::StringRef path, llvm::ArrayRef<std::string> vocab) {
  for (size_t id = 0; id < vocab.size(); ++id) {
    const auto *p = reinterpret_cast<const llvm::UTF8 *>(vocab[id].data());
    if (!llvm::isLegalUTF8String(&p, p + vocab[id].size()))
      return fileError(path, "token " + llvm::Twine(id) +
                                 " is not valid UTF-8");
  }
  return Error::success();
}

int llmc::parseByteToken(llvm::StringRef piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || !piece.ends_with(">"))
    return -1;
  unsigned value;
  if (piece.substr(3, 2).getAsInteger(16, value))
    return -1;
  return static_cast<int>(value);
}

std::string llmc::metaspaceToText(llvm::StringRef piece, bool atStart) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i).starts_with(kMetaSpace)) {
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

std::vector<int32_t> ScoreBPETokenizer::encode(llvm::StringRef text,
                                               bool addBos) const {
  std::vector<int32_t> out;
  if (addBos)
    out.push_back(bosId);
  if (text.empty())
    return out;
  std::string norm = text.str();
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
  llvm::StringRef s(norm);
  for (size_t i = 0; i < s.size();) {
    size_t len = utf8Length(s, i);
    auto it = ids.find(s.substr(i, len));
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
  std::string merged;
  while (true) {
    float best = -1e30f;
    int32_t bestId = -1;
    size_t bestIdx = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      merged = pieces[tokens[i]];
      merged += pieces[tokens[i + 1]];
      auto it = ids.find(merged);
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
  llvm::StringRef piece = pieces[id];
  int byte = parseByteToken(piece);
  if (byte >= 0)
    return std::string(1, static_cast<char>(byte));
  bool atStart = prev == bosId || prev < 0;
  if (space != " ") // sentencepiece vocabularies spell spaces as U+2581
    return metaspaceToText(piece, atStart);
  // llama2.c vocabularies store plain spaces; drop the dummy prefix.
  if (atStart && piece.starts_with(" "))
    piece = piece.drop_front();
  return piece.str();
}

//===----------------------------------------------------------------------===//
// llama2.c tokenizer.bin
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::parseLlama2CTokenizer(llvm::StringRef path, llvm::StringRef data,
                            int64_t vocabSize) {
  if (data.size() < 4)
    return fileError(path, "too small for a llama2.c tokenizer");
  int32_t maxLen;
  std::memcpy(&maxLen, data.data(), 4);
  if (maxLen <= 0 || maxLen > (1 << 16))
    return fileError(path, "max_token_length " + llvm::Twine(maxLen) +
                               " is implausible; not a llama2.c tokenizer?");
  std::vector<std::string> pieces;
  std::vector<float> scores;
  size_t pos = 4;
  while (pos < data.size() &&
         (vocabSize < 0 || static_cast<int64_t>(pieces.size()) < vocabSize)) {
    if (data.size() - pos < 8)
      return fileError(path, "truncated in token " +
                                 llvm::Twine(pieces.size()));
    float score;
    int32_t len;
    std::memcpy(&score, data.data() + pos, 4);
    std::memcpy(&len, data.data() + pos + 4, 4);
    pos += 8;
    if (len < 0 || len > maxLen || static_cast<size_t>(len) > data.size() - pos)
      return fileError(path, "token " + llvm::Twine(pieces.size()) +
                                 " has length " + llvm::Twine(len) +
                                 " (max_token_length " + llvm::Twine(maxLen) +
                                 ", " + llvm::Twine(data.size() - pos) +
                                 " bytes left)");
    pieces.emplace_back(data.data() + pos, len);
    scores.push_back(score);
    pos += len;
  }
  if (vocabSize >= 0 && static_cast<int64_t>(pieces.size()) < vocabSize)
    return fileError(path, "has " + llvm::Twine(pieces.size()) +
                               " tokens, the model needs " +
                               llvm::Twine(vocabSize));
  if (pieces.size() < 3)
    return fileError(path, "has fewer than 3 tokens (<unk>, <s>, </s>)");
  if (Error e = checkUtf8(path, pieces))
    return std::move(e);
  return std::make_unique<ScoreBPETokenizer>(std::move(pieces),
                                             std::move(scores), " ", 1, 2);
}

//===----------------------------------------------------------------------===//
// sentencepiece .model
//===----------------------------------------------------------------------===//

namespace {
class SentencePieceTokenizer : public Tokenizer {
public:
  explicit SentencePieceTokenizer(
      std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
      : sp(std::move(sp)) {
    bosId = this->sp->bos_id();
    eosId = this->sp->eos_id();
  }
  std::vector<int32_t> encode(llvm::StringRef text,
                              bool addBos) const override {
    std::vector<int> ids;
    (void)sp->Encode(text.str(), &ids);
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

static llvm::Expected<std::unique_ptr<Tokenizer>>
parseSentencePiece(llvm::StringRef path, llvm::StringRef data) {
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  auto status = sp->LoadFromSerializedProto(
      std::string_view(data.data(), data.size()));
  if (!status.ok())
    return fileError(path, "not a sentencepiece model: " + status.ToString());
  return std::make_unique<SentencePieceTokenizer>(std::move(sp));
}

//===----------------------------------------------------------------------===//
// GGUF-embedded vocabularies
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::parseGGUFTokenizer(llvm::StringRef path, llvm::StringRef data) {
  auto file = parseGGUF(path, data);
  if (!file)
    return file.takeError();
  auto get = [&](llvm::StringRef key) { return file->find(key); };
  const GGUFValue *model = get("tokenizer.ggml.model");
  if (!model || model->kind != GGUFValue::String)
    return fileError(path, "has no embedded tokenizer (tokenizer.ggml.model)");
  if (model->str == "gpt2")
    return makeGGUFBPETokenizer(path, *file);
  if (model->str != "llama")
    return fileError(path, "tokenizer model '" + model->str +
                               "' is not supported (llama, gpt2)");
  const GGUFValue *tokens = get("tokenizer.ggml.tokens");
  const GGUFValue *scores = get("tokenizer.ggml.scores");
  if (!tokens || tokens->kind != GGUFValue::Array || tokens->strs.empty())
    return fileError(path, "tokenizer.ggml.tokens is missing or empty");
  if (!scores || scores->nums.size() != tokens->strs.size())
    return fileError(path, "tokenizer.ggml.scores must have one score per "
                           "token");
  if (Error e = checkUtf8(path, tokens->strs))
    return std::move(e);
  auto id = [&](llvm::StringRef key, int32_t fallback) -> int32_t {
    const GGUFValue *v = get(key);
    return v && v->isInteger() && v->integer >= 0 &&
                   static_cast<size_t>(v->integer) < tokens->strs.size()
               ? static_cast<int32_t>(v->integer)
               : fallback;
  };
  std::vector<float> s(scores->nums.begin(), scores->nums.end());
  return std::make_unique<ScoreBPETokenizer>(
      tokens->strs, std::move(s), kMetaSpace.str(),
      id("tokenizer.ggml.bos_token_id", 1), id("tokenizer.ggml.eos_token_id", 2));
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::loadTokenizer(const TokenizerSpec &spec) {
  if (spec.format == TokenizerFormat::None)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the model has no tokenizer; pass "
                                   "--tokenizer");
  auto buffer = readFile(spec.path);
  if (!buffer)
    return buffer.takeError();
  return parseTokenizer(spec.format, spec.path, (*buffer)->getBuffer());
}

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::parseTokenizer(TokenizerFormat format, llvm::StringRef path,
                     llvm::StringRef data) {
  switch (format) {
  case TokenizerFormat::SentencePieceModel:
    return parseSentencePiece(path, data);
  case TokenizerFormat::Llama2C:
    return parseLlama2CTokenizer(path, data);
  case TokenizerFormat::HFJson:
    return parseHFTokenizerJson(path, data);
  case TokenizerFormat::GGUF:
    return parseGGUFTokenizer(path, data);
  default:
    break;
  }
  return fileError(path, "unknown tokenizer format");
}

llvm::StringRef llmc::tokenizerFormatName(TokenizerFormat format) {
  switch (format) {
  case TokenizerFormat::None: return "none";
  case TokenizerFormat::Llama2C: return "llama2c";
  case TokenizerFormat::SentencePieceModel: return "sentencepiece";
  case TokenizerFormat::HFJson: return "hf-json";
  case TokenizerFormat::GGUF: return "gguf";
  }
  return "none";
}

std::optional<TokenizerFormat>
llmc::parseTokenizerFormatName(llvm::StringRef name) {
  for (auto f : {TokenizerFormat::None, TokenizerFormat::Llama2C,
                 TokenizerFormat::SentencePieceModel, TokenizerFormat::HFJson,
                 TokenizerFormat::GGUF})
    if (tokenizerFormatName(f) == name)
      return f;
  return std::nullopt;
}

llvm::Expected<std::unique_ptr<Tokenizer>>
llmc::loadTokenizerFile(llvm::StringRef path) {
  TokenizerSpec spec{TokenizerFormat::Llama2C, path.str()};
  llvm::StringRef ext = llvm::sys::path::extension(path);
  if (ext == ".json") {
    spec.format = TokenizerFormat::HFJson;
  } else if (ext == ".model") {
    spec.format = TokenizerFormat::SentencePieceModel;
  } else {
    auto buffer = readFile(path);
    if (!buffer)
      return buffer.takeError();
    if ((*buffer)->getBuffer().starts_with("GGUF"))
      spec.format = TokenizerFormat::GGUF;
  }
  return loadTokenizer(spec);
}
