//===- FuzzGGUF.cpp - libFuzzer target: GGUF model parsing ----------------===//

#include "importers/ModelSource.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), "fuzz.gguf");
  auto source = llmc::openGGUF("fuzz.gguf", std::move(buffer));
  if (!source) {
    llvm::consumeError(source.takeError());
    return 0;
  }
  // Reading every tensor back must stay inside the file.
  for (const llmc::TensorInfo &t : (*source)->tensors())
    (void)(*source)->readF32(t);
  return 0;
}
