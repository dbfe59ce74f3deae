//===- FuzzSafetensors.cpp - libFuzzer target: safetensors headers --------===//

#include "importers/ModelSource.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llmc::ModelSource source;
  unsigned file = source.addFile(llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size),
      "fuzz.safetensors"));
  if (llvm::Error e =
          llmc::readSafetensorsHeader(source, file, "fuzz.safetensors")) {
    llvm::consumeError(std::move(e));
    return 0;
  }
  for (const llmc::TensorInfo &t : source.tensors())
    (void)source.readF32(t);
  return 0;
}
