//===- FuzzLlama2C.cpp - libFuzzer target: llama2.c checkpoints -----------===//

#include "importers/ModelSource.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.bin");
  auto source = llmc::openLlama2C("fuzz.bin", std::move(buffer));
  if (!source) {
    llvm::consumeError(source.takeError());
    return 0;
  }
  for (const llmc::TensorInfo &t : (*source)->tensors())
    (void)(*source)->readF32(t);
  return 0;
}
