//===- FuzzModelReader.h - shared body of the model-file fuzz targets -----===//

#ifndef LLMC_TEST_FUZZ_FUZZMODELREADER_H
#define LLMC_TEST_FUZZ_FUZZMODELREADER_H

#include "importers/ModelSource.h"

/// Opens `data` with `open` and, when it parses, reads every tensor back:
/// the bytes a reader accepted must all lie inside the file.
template <typename OpenFn>
int fuzzModelReader(OpenFn open, llvm::StringRef name, const uint8_t *data,
                    size_t size) {
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(
      llvm::StringRef(reinterpret_cast<const char *>(data), size), name);
  auto source = open(name, std::move(buffer));
  if (!source) {
    llvm::consumeError(source.takeError());
    return 0;
  }
  for (const llmc::TensorInfo &t : (*source)->tensors())
    (void)(*source)->readF32(t);
  return 0;
}

#endif // LLMC_TEST_FUZZ_FUZZMODELREADER_H
