//===- FuzzGGUF.cpp - libFuzzer target: GGUF model parsing ----------------===//

#include "FuzzModelReader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzzModelReader(llmc::openGGUF, "fuzz.gguf", data, size);
}
