//===- GGUF.h - GGUF v2/v3 container parsing --------------------*- C++ -*-===//

#ifndef LLMC_IMPORTERS_GGUF_H
#define LLMC_IMPORTERS_GGUF_H

#include "importers/Tensor.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include <string>
#include <vector>

namespace llmc {

/// One metadata value. Scalars: `num` (integers exactly up to 2^53) or
/// `str`; arrays: `nums` or `strs` (nested arrays are skipped).
struct GGUFValue {
  enum Kind { Number, Bool, String, Array } kind = Number;
  uint32_t type = 0; // GGUF value type (element type for arrays)
  int64_t integer = 0;
  double num = 0;
  std::string str;
  std::vector<double> nums;
  std::vector<std::string> strs;
  bool isInteger() const { return kind == Number && type != 6 && type != 12; }
};

struct GGUFFile {
  uint32_t version = 0;
  llvm::StringMap<GGUFValue> metadata;
  std::vector<TensorInfo> tensors; // offsets absolute in the file

  /// The metadata value of `key`, or null.
  const GGUFValue *find(llvm::StringRef key) const {
    auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &it->second;
  }
};

/// Parses header, metadata and tensor infos with bounds checks on every
/// count, length and offset. Tensor data is not touched.
llvm::Expected<GGUFFile> parseGGUF(llvm::StringRef path, llvm::StringRef data);

class ModelSource;
/// The model a GGUF file describes, as llama.cpp reads it: the config from
/// the architecture's metadata (and, where llama.cpp keeps them there,
/// tensors: RoPE frequency factors), and llama.cpp's tensor names. The
/// tensors must already be in `source`. GGUFModel.cpp.
llvm::Error readGGUFModel(const GGUFFile &file, llvm::StringRef path,
                          ModelSource &source);

} // namespace llmc

#endif // LLMC_IMPORTERS_GGUF_H
