//===- BPETokenizer.cpp - rank-merged BPE (tokenizer.json, GGUF gpt2) -----===//
//
// Byte-level BPE (GPT-2, Llama 3, Qwen2: bytes mapped to printable code
// points, regex pre-tokenization) and sentencepiece-style BPE (Llama 2 HF:
// spaces as U+2581, byte fallback). The pre-tokenizer regexes are
// implemented by hand; \p{L} and \p{N} are approximated by code-point
// ranges (exact for ASCII and the Latin, Greek, Cyrillic and CJK letters).
//
//===----------------------------------------------------------------------===//

#include "runtime/src/TokenizerImpl.h"
#include <algorithm>
#include <climits>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unordered_set>

using namespace llmc;
using namespace llmc::tokenizer;
using json = nlohmann::json;

namespace {
enum class PreTokenizer { None, GPT2, Llama3 };

bool isSpaceCp(uint32_t c) {
  return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 ||
         c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}
bool isNumberCp(uint32_t c) {
  return (c >= '0' && c <= '9') || c == 0xb2 || c == 0xb3 || c == 0xb9 ||
         (c >= 0xbc && c <= 0xbe) || (c >= 0x660 && c <= 0x669) ||
         (c >= 0x6f0 && c <= 0x6f9) || (c >= 0x966 && c <= 0x96f) ||
         (c >= 0xff10 && c <= 0xff19);
}
bool isLetterCp(uint32_t c) {
  if (c < 0x80)
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (isSpaceCp(c) || isNumberCp(c))
    return false;
  if (c < 0xc0)
    return c == 0xaa || c == 0xb5 || c == 0xba;
  if (c == 0xd7 || c == 0xf7)
    return false;
  if ((c >= 0x300 && c <= 0x36f) || (c >= 0x2000 && c <= 0x2bff) ||
      (c >= 0x3000 && c <= 0x303f) || (c >= 0xe000 && c <= 0xf8ff) ||
      (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xff00 && c <= 0xff0f) ||
      (c >= 0xff1a && c <= 0xff20) || (c >= 0xff3b && c <= 0xff40) ||
      (c >= 0xff5b && c <= 0xff65) || (c >= 0x1f000 && c <= 0x1faff) ||
      c == 0xfffd)
    return false;
  return true;
}

/// Code points of `s` with their byte offsets.
struct Cps {
  std::vector<uint32_t> cp;
  std::vector<size_t> at; // byte offset of each code point; at[n] = size
  explicit Cps(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
      size_t len = utf8Length(s, i);
      cp.push_back(utf8Decode(s, i, len));
      at.push_back(i);
      i += len;
    }
    at.push_back(s.size());
  }
};

/// Splits `s` as the GPT-2 or Llama 3 pre-tokenizer regex does.
std::vector<std::string_view> preTokenize(std::string_view s, PreTokenizer kind) {
  std::vector<std::string_view> out;
  if (kind == PreTokenizer::None) {
    out.push_back(s);
    return out;
  }
  Cps t(s);
  size_t n = t.cp.size(), i = 0;
  auto L = [&](size_t k) { return k < n && isLetterCp(t.cp[k]); };
  auto N = [&](size_t k) { return k < n && isNumberCp(t.cp[k]); };
  auto S = [&](size_t k) { return k < n && isSpaceCp(t.cp[k]); };
  auto NL = [&](size_t k) { return k < n && (t.cp[k] == '\r' || t.cp[k] == '\n'); };
  auto lower = [&](size_t k) {
    uint32_t c = k < n ? t.cp[k] : 0;
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
  };
  bool llama3 = kind == PreTokenizer::Llama3;
  while (i < n) {
    size_t j = i;
    // Contractions: 's 't 're 've 'm 'll 'd (case-insensitive in Llama 3).
    if (t.cp[i] == '\'') {
      auto c = [&](size_t k) { return llama3 ? lower(k) : (k < n ? t.cp[k] : 0); };
      if (c(i + 1) == 's' || c(i + 1) == 't' || c(i + 1) == 'm' || c(i + 1) == 'd')
        j = i + 2;
      else if ((c(i + 1) == 'r' && c(i + 2) == 'e') ||
               (c(i + 1) == 'v' && c(i + 2) == 'e') ||
               (c(i + 1) == 'l' && c(i + 2) == 'l'))
        j = i + 3;
    }
    if (j == i && llama3) {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      size_t k = i;
      if (!L(k) && !N(k) && !NL(k) && L(k + 1))
        ++k;
      if (L(k)) {
        while (L(k))
          ++k;
        j = k;
      } else if (N(i)) { // \p{N}{1,3}
        j = i;
        while (j < n && j < i + 3 && N(j))
          ++j;
      }
    } else if (j == i) {
      size_t k = i + (t.cp[i] == ' ' ? 1 : 0);
      if (L(k)) { // ' ?\p{L}+'
        while (L(k))
          ++k;
        j = k;
      } else if (N(k)) { // ' ?\p{N}+'
        while (N(k))
          ++k;
        j = k;
      }
    }
    if (j == i) {
      // ' ?[^\s\p{L}\p{N}]+' (Llama 3: followed by [\r\n]*)
      size_t k = i + (t.cp[i] == ' ' ? 1 : 0);
      if (k < n && !S(k) && !L(k) && !N(k)) {
        while (k < n && !S(k) && !L(k) && !N(k))
          ++k;
        if (llama3)
          while (NL(k))
            ++k;
        j = k;
      }
    }
    if (j == i && llama3) {
      // \s*[\r\n]+
      size_t k = i, lastNL = 0;
      bool any = false;
      while (S(k)) {
        if (NL(k)) {
          any = true;
          lastNL = k;
        }
        ++k;
      }
      if (any) {
        j = lastNL + 1;
        while (NL(j))
          ++j;
      }
    }
    if (j == i) {
      // \s+(?!\S) then \s+: a whitespace run leaves its last character to
      // the following word.
      size_t k = i;
      while (S(k))
        ++k;
      j = (k < n && k - i > 1) ? k - 1 : k;
    }
    out.push_back(s.substr(t.at[i], t.at[j] - t.at[i]));
    i = j;
  }
  return out;
}

/// GPT-2's reversible byte -> printable code point map.
std::vector<std::string> byteToUnicode() {
  std::vector<std::string> map(256);
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) ||
                     (b >= 0xae && b <= 0xff);
    uint32_t cp = printable ? b : 256 + extra++;
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else {
      s += static_cast<char>(0xc0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    }
    map[b] = s;
  }
  return map;
}

class RankBPETokenizer : public Tokenizer {
public:
  std::vector<std::string> pieces; // id -> token string (as in the vocab)
  IdMap ids;
  IdMap mergeRank; // "left right" -> rank
  std::vector<std::pair<std::string, int32_t>> added; // literal specials
  std::unordered_set<int32_t> specialIds;
  PreTokenizer pre = PreTokenizer::GPT2;
  bool byteLevel = true;     // else sentencepiece-style (U+2581, fallback)
  bool prependSpace = false; // sentencepiece-style dummy prefix
  bool ignoreMerges = false;
  int32_t unkId = -1;
  std::vector<std::string> byteMap = byteToUnicode();
  std::unordered_map<std::string, uint8_t> unicodeToByte;

  void finish() {
    for (int b = 0; b < 256; ++b)
      unicodeToByte[byteMap[b]] = static_cast<uint8_t>(b);
    std::sort(added.begin(), added.end(), [](auto &a, auto &b) {
      return a.first.size() > b.first.size(); // longest match first
    });
  }

  void bpeWord(std::string_view word, std::vector<int32_t> &out) const {
    if (word.empty())
      return;
    if (ignoreMerges)
      if (auto it = ids.find(std::string(word)); it != ids.end()) {
        out.push_back(it->second);
        return;
      }
    std::vector<std::string> sym;
    for (size_t i = 0; i < word.size();) {
      size_t len = utf8Length(word, i);
      sym.push_back(std::string(word.substr(i, len)));
      i += len;
    }
    std::string key;
    while (sym.size() > 1) {
      int32_t best = INT32_MAX;
      size_t at = 0;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        key = sym[i] + " " + sym[i + 1];
        auto it = mergeRank.find(key);
        if (it != mergeRank.end() && it->second < best) {
          best = it->second;
          at = i;
        }
      }
      if (best == INT32_MAX)
        break;
      sym[at] += sym[at + 1];
      sym.erase(sym.begin() + at + 1);
    }
    for (const std::string &s : sym) {
      auto it = ids.find(s);
      if (it != ids.end()) {
        out.push_back(it->second);
        continue;
      }
      bool fellBack = false;
      if (!byteLevel) { // byte fallback <0xXX>
        fellBack = true;
        for (unsigned char ch : s) {
          char name[8];
          snprintf(name, sizeof(name), "<0x%02X>", ch);
          auto b = ids.find(name);
          if (b == ids.end()) {
            fellBack = false;
            break;
          }
          out.push_back(b->second);
        }
      }
      if (!fellBack && unkId >= 0)
        out.push_back(unkId);
    }
  }

  void encodeText(std::string_view text, bool first,
                  std::vector<int32_t> &out) const {
    std::string norm;
    if (byteLevel) {
      for (std::string_view word : preTokenize(text, pre)) {
        norm.clear();
        for (unsigned char ch : word)
          norm += byteMap[ch];
        bpeWord(norm, out);
      }
      return;
    }
    if (prependSpace && first)
      norm = std::string(kMetaSpace);
    for (char ch : text)
      norm += ch == ' ' ? std::string(kMetaSpace) : std::string(1, ch);
    bpeWord(norm, out);
  }

  std::vector<int32_t> encode(std::string_view text,
                              bool addBos) const override {
    std::vector<int32_t> out;
    if (addBos && bosId >= 0)
      out.push_back(bosId);
    // Split on added (special) tokens, matched literally.
    size_t start = 0, i = 0;
    bool first = true;
    while (i < text.size()) {
      const std::pair<std::string, int32_t> *hit = nullptr;
      for (const auto &a : added)
        if (!a.first.empty() && text.substr(i, a.first.size()) == a.first) {
          hit = &a;
          break;
        }
      if (!hit) {
        ++i;
        continue;
      }
      if (i > start)
        encodeText(text.substr(start, i - start), first, out);
      first = false;
      out.push_back(hit->second);
      i += hit->first.size();
      start = i;
    }
    if (start < text.size())
      encodeText(text.substr(start), first, out);
    return out;
  }

  std::string decodeToken(int32_t prev, int32_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= pieces.size() ||
        specialIds.count(id))
      return "";
    std::string_view piece = pieces[id];
    std::string out;
    if (byteLevel) {
      for (size_t i = 0; i < piece.size();) {
        size_t len = utf8Length(piece, i);
        auto it = unicodeToByte.find(std::string(piece.substr(i, len)));
        if (it != unicodeToByte.end())
          out += static_cast<char>(it->second);
        else
          out += piece.substr(i, len);
        i += len;
      }
      return out;
    }
    int byte = parseByteToken(piece);
    if (byte >= 0)
      return std::string(1, static_cast<char>(byte));
    return metaspaceToText(piece,
                           prependSpace && (prev < 0 || prev == bosId));
  }

  int64_t vocabSize() const override { return pieces.size(); }
};

/// Adds `piece` with `id`, growing the table; false on a bad id.
bool addPiece(RankBPETokenizer &t, const std::string &piece, int64_t id) {
  if (id < 0 || id >= (1 << 24))
    return false;
  if (static_cast<size_t>(id) >= t.pieces.size())
    t.pieces.resize(id + 1);
  t.pieces[id] = piece;
  t.ids[piece] = static_cast<int32_t>(id);
  return true;
}

int32_t findSpecial(const RankBPETokenizer &t,
                    std::initializer_list<const char *> names) {
  for (const char *n : names)
    if (auto it = t.ids.find(n); it != t.ids.end())
      return it->second;
  return -1;
}
} // namespace

namespace {
std::unique_ptr<Tokenizer> parseHFJsonImpl(std::string_view path,
                                           std::string_view data,
                                           std::string &error) {
  auto fail = [&](const std::string &m) {
    error = fileMessage(path, m);
    return nullptr;
  };
  json j = json::parse(data.begin(), data.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return fail("is not a JSON object");
  if (!j.contains("model") || !j["model"].is_object())
    return fail("has no 'model'");
  const json &model = j["model"];
  std::string type = model.contains("type") && model["type"].is_string()
                         ? model["type"].get<std::string>()
                         : "BPE";
  if (type != "BPE")
    return fail("tokenizer model '" + type + "' is not supported (BPE)");
  if (!model.contains("vocab") || !model["vocab"].is_object())
    return fail("model has no 'vocab' object");
  auto t = std::make_unique<RankBPETokenizer>();
  for (auto &[piece, id] : model["vocab"].items()) {
    if (!id.is_number_integer() || !addPiece(*t, piece, id.get<int64_t>()))
      return fail("vocab entry '" + piece + "' has a bad id");
  }
  if (model.contains("merges") && model["merges"].is_array()) {
    int32_t rank = 0;
    for (const json &m : model["merges"]) {
      std::string key;
      if (m.is_string())
        key = m.get<std::string>();
      else if (m.is_array() && m.size() == 2 && m[0].is_string() &&
               m[1].is_string())
        key = m[0].get<std::string>() + " " + m[1].get<std::string>();
      else
        return fail("merge " + std::to_string(rank) +
                    " is neither \"a b\" nor [\"a\", \"b\"]");
      t->mergeRank.try_emplace(key, rank++);
    }
  }
  if (j.contains("added_tokens") && j["added_tokens"].is_array()) {
    for (const json &a : j["added_tokens"]) {
      if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
          !a.contains("content") || !a["content"].is_string())
        return fail("added_tokens entries need id and content");
      std::string content = a["content"].get<std::string>();
      int64_t id = a["id"].get<int64_t>();
      if (!addPiece(*t, content, id))
        return fail("added token '" + content + "' has a bad id");
      t->added.push_back({content, static_cast<int32_t>(id)});
      if (a.contains("special") && a["special"].is_boolean() &&
          a["special"].get<bool>())
        t->specialIds.insert(static_cast<int32_t>(id));
    }
  }
  if (model.contains("ignore_merges") && model["ignore_merges"].is_boolean())
    t->ignoreMerges = model["ignore_merges"].get<bool>();
  bool byteFallback = model.contains("byte_fallback") &&
                      model["byte_fallback"].is_boolean() &&
                      model["byte_fallback"].get<bool>();
  std::string pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"].dump() : "";
  std::string norm = j.contains("normalizer") ? j["normalizer"].dump() : "";
  if (pre.find("ByteLevel") != std::string::npos) {
    t->byteLevel = true;
    t->pre = pre.find("\\\\p{N}{1,3}") != std::string::npos ||
                     pre.find("\\p{N}{1,3}") != std::string::npos
                 ? PreTokenizer::Llama3
                 : PreTokenizer::GPT2;
  } else if (byteFallback || pre.find("Metaspace") != std::string::npos ||
             norm.find("\\u2581") != std::string::npos ||
             norm.find(kMetaSpace) != std::string::npos) {
    t->byteLevel = false;
    t->pre = PreTokenizer::None;
    t->prependSpace = norm.find("Prepend") != std::string::npos ||
                      pre.find("Metaspace") != std::string::npos;
  } else {
    return fail("unsupported pre-tokenizer/normalizer (byte-level or "
                "sentencepiece-style BPE are supported)");
  }
  if (!checkUtf8(path, t->pieces, error))
    return nullptr;
  if (model.contains("unk_token") && model["unk_token"].is_string())
    t->unkId = findSpecial(*t, {model["unk_token"].get<std::string>().c_str()});
  t->setSpecialIds(
      findSpecial(*t, {"<s>", "<|begin_of_text|>", "<|endoftext|>"}),
      findSpecial(*t, {"</s>", "<|end_of_text|>", "<|eot_id|>", "<|im_end|>",
                       "<|endoftext|>"}));
  t->finish();
  return t;
}
} // namespace

std::unique_ptr<Tokenizer> tokenizer::parseHFJson(std::string_view path,
                                                  std::string_view data,
                                                  std::string &error) {
  try {
    return parseHFJsonImpl(path, data, error);
  } catch (const json::exception &e) {
    error = fileMessage(path, std::string("malformed tokenizer JSON: ") +
                                  e.what());
    return nullptr;
  }
}

std::unique_ptr<Tokenizer> tokenizer::fromGPT2Vocab(std::string_view path,
                                                    const Vocab &vocab,
                                                    std::string &error) {
  if (vocab.tokens.empty()) {
    error = fileMessage(path, "tokenizer.ggml.tokens is missing or empty");
    return nullptr;
  }
  if (!checkUtf8(path, vocab.tokens, error))
    return nullptr;
  auto t = std::make_unique<RankBPETokenizer>();
  for (size_t i = 0; i < vocab.tokens.size(); ++i)
    addPiece(*t, vocab.tokens[i], static_cast<int64_t>(i));
  for (size_t i = 0; i < vocab.merges.size(); ++i)
    t->mergeRank.try_emplace(vocab.merges[i], static_cast<int32_t>(i));
  for (size_t i = 0; i < vocab.tokenTypes.size() && i < vocab.tokens.size();
       ++i)
    if (vocab.tokenTypes[i] == 3 || vocab.tokenTypes[i] == 4) { // control, user
      t->added.push_back({vocab.tokens[i], static_cast<int32_t>(i)});
      if (vocab.tokenTypes[i] == 3)
        t->specialIds.insert(static_cast<int32_t>(i));
    }
  const std::string &preName = vocab.pre.empty() ? "default" : vocab.pre;
  t->pre = preName == "llama-bpe" || preName == "llama3" || preName == "qwen2" ||
                   preName == "smaug-bpe"
               ? PreTokenizer::Llama3
               : PreTokenizer::GPT2;
  t->ignoreMerges = preName == "llama-bpe" || preName == "llama3";
  auto valid = [&](int32_t id) {
    return id >= 0 && static_cast<size_t>(id) < vocab.tokens.size() ? id : -1;
  };
  t->setSpecialIds(valid(vocab.bos), valid(vocab.eos));
  t->finish();
  return t;
}
