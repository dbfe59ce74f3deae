//===- FuzzLlama2C.cpp - libFuzzer target: llama2.c checkpoints -----------===//

#include "FuzzModelReader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzzModelReader(llmc::openLlama2C, "fuzz.bin", data, size);
}
