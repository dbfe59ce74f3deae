//===- Tokenizer.h - text <-> token ids -------------------------*- C++ -*-===//
//
// Loading tokenizers for the importers and tools: llvm::Error wrappers over
// the runtime's implementations (runtime/include/llmc/tokenizer.h), which
// self-contained executables share.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORTERS_TOKENIZER_H
#define LLMC_IMPORTERS_TOKENIZER_H

#include "importers/ModelSource.h"
#include "llmc/tokenizer.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

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
/// The vocabulary a GGUF file embeds (tokenizer.ggml.*).
llvm::Expected<tokenizer::Vocab> parseGGUFVocab(llvm::StringRef path,
                                                llvm::StringRef data);

/// What an artifact carries for a tokenizer file of `format`: the
/// manifest's format name and the section bytes (GGUF files contribute their
/// vocabulary only, as "vocab").
llvm::Error tokenizerSection(TokenizerFormat format, llvm::StringRef path,
                             llvm::StringRef data, std::string &formatName,
                             std::string &bytes);

} // namespace llmc

#endif // LLMC_IMPORTERS_TOKENIZER_H
