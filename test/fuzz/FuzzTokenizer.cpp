//===- FuzzTokenizer.cpp - libFuzzer target: tokenizer files --------------===//
//
// The first byte picks the format (llama2.c .bin, tokenizer.json, GGUF);
// a parsed tokenizer then encodes and decodes a fixed text and the tail of
// the input.
//
//===----------------------------------------------------------------------===//

#include "importers/Tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  llvm::StringRef input(reinterpret_cast<const char *>(data) + 1, size - 1);
  auto tok = data[0] % 3 == 0   ? llmc::parseLlama2CTokenizer("fuzz.bin", input)
             : data[0] % 3 == 1 ? llmc::parseHFTokenizerJson("fuzz.json", input)
                                : llmc::parseGGUFTokenizer("fuzz.gguf", input);
  if (!tok) {
    llvm::consumeError(tok.takeError());
    return 0;
  }
  for (llvm::StringRef text : {llvm::StringRef("Once upon a time, naïve 日本"),
                               input.take_back(64)}) {
    std::vector<int32_t> ids = (*tok)->encode(text, true);
    (void)(*tok)->decode(ids);
  }
  return 0;
}
