//===- Tokenizer.cpp - loading tokenizers (llvm::Error wrappers) ----------===//

#include "importers/Tokenizer.h"
#include "importers/GGUF.h"
#include "llvm/Support/Path.h"

using namespace llmc;
using llvm::Error;
using llvm::Expected;

namespace {
Expected<std::unique_ptr<Tokenizer>>
wrap(std::unique_ptr<Tokenizer> tok, const std::string &error) {
  if (!tok)
    return llvm::createStringError(llvm::inconvertibleErrorCode(), error);
  return std::move(tok);
}
} // namespace

Expected<std::unique_ptr<Tokenizer>>
llmc::parseLlama2CTokenizer(llvm::StringRef path, llvm::StringRef data,
                            int64_t vocabSize) {
  std::string error;
  auto tok = tokenizer::parseLlama2C(path, data, vocabSize, error);
  return wrap(std::move(tok), error);
}

Expected<std::unique_ptr<Tokenizer>>
llmc::parseHFTokenizerJson(llvm::StringRef path, llvm::StringRef data) {
  std::string error;
  auto tok = tokenizer::parseHFJson(path, data, error);
  return wrap(std::move(tok), error);
}

Expected<tokenizer::Vocab> llmc::parseGGUFVocab(llvm::StringRef path,
                                                llvm::StringRef data) {
  auto file = parseGGUF(path, data);
  if (!file)
    return file.takeError();
  auto get = [&](llvm::StringRef key) { return file->find(key); };
  const GGUFValue *model = get("tokenizer.ggml.model");
  if (!model || model->kind != GGUFValue::String)
    return fileError(path, "has no embedded tokenizer (tokenizer.ggml.model)");
  tokenizer::Vocab v;
  v.model = model->str;
  if (v.model != "llama" && v.model != "gpt2")
    return fileError(path, "tokenizer model '" + v.model +
                               "' is not supported (llama, gpt2)");
  const GGUFValue *tokens = get("tokenizer.ggml.tokens");
  if (!tokens || tokens->kind != GGUFValue::Array || tokens->strs.empty())
    return fileError(path, "tokenizer.ggml.tokens is missing or empty");
  v.tokens = tokens->strs;
  if (v.model == "llama") {
    const GGUFValue *scores = get("tokenizer.ggml.scores");
    if (!scores || scores->nums.size() != tokens->strs.size())
      return fileError(path, "tokenizer.ggml.scores must have one score per "
                             "token");
    v.scores.assign(scores->nums.begin(), scores->nums.end());
  } else {
    const GGUFValue *merges = get("tokenizer.ggml.merges");
    if (!merges || merges->kind != GGUFValue::Array)
      return fileError(path, "tokenizer.ggml.merges is missing");
    v.merges = merges->strs;
    if (const GGUFValue *pre = get("tokenizer.ggml.pre"))
      v.pre = pre->str;
  }
  if (const GGUFValue *types = get("tokenizer.ggml.token_type"))
    for (double t : types->nums)
      v.tokenTypes.push_back(static_cast<int32_t>(t));
  auto id = [&](llvm::StringRef key) -> int32_t {
    const GGUFValue *val = get(key);
    return val && val->isInteger() && val->integer >= 0 &&
                   static_cast<size_t>(val->integer) < tokens->strs.size()
               ? static_cast<int32_t>(val->integer)
               : -1;
  };
  v.bos = id("tokenizer.ggml.bos_token_id");
  v.eos = id("tokenizer.ggml.eos_token_id");
  return v;
}

Expected<std::unique_ptr<Tokenizer>>
llmc::parseGGUFTokenizer(llvm::StringRef path, llvm::StringRef data) {
  auto vocab = parseGGUFVocab(path, data);
  if (!vocab)
    return vocab.takeError();
  std::string error;
  auto tok = tokenizer::fromVocab(path, *vocab, error);
  return wrap(std::move(tok), error);
}

Error llmc::tokenizerSection(TokenizerFormat format, llvm::StringRef path,
                             llvm::StringRef data, std::string &formatName,
                             std::string &bytes) {
  if (format == TokenizerFormat::GGUF) {
    auto vocab = parseGGUFVocab(path, data);
    if (!vocab)
      return vocab.takeError();
    formatName = "vocab";
    bytes = tokenizer::serializeVocab(*vocab);
    return Error::success();
  }
  formatName = tokenizerFormatName(format).str();
  bytes = data.str();
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

Expected<std::unique_ptr<Tokenizer>>
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

Expected<std::unique_ptr<Tokenizer>>
llmc::parseTokenizer(TokenizerFormat format, llvm::StringRef path,
                     llvm::StringRef data) {
  std::string error;
  switch (format) {
  case TokenizerFormat::SentencePieceModel:
    return wrap(tokenizer::parseSentencePiece(path, data, error), error);
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

Expected<std::unique_ptr<Tokenizer>>
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
