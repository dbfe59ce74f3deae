//===- Tensor.h - tensor descriptors of model files -------------*- C++ -*-===//
//
// Element types llmc reads from model files (including GGUF block formats)
// and the conversions to float used by weight packing and tests.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORTERS_TENSOR_H
#define LLMC_IMPORTERS_TENSOR_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc {

enum class DType {
  F32, F16, BF16, Q8_0, Q4_0, Q4_1,
  // ggml's other block formats: 32 elements a block (Q5_0, Q5_1, IQ4_NL)
  // or 256 (the K-quants).
  Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K
};

/// True for the GGUF block formats (Q8_0 ... Q6_K).
inline bool isBlockDType(DType d) {
  return d != DType::F32 && d != DType::F16 && d != DType::BF16;
}

/// "F32", "Q4_0", ...
llvm::StringRef dtypeName(DType dtype);

/// Elements per storage block (1 for plain types, 32 for GGUF blocks) and
/// bytes per block.
int64_t dtypeBlockElems(DType dtype);
int64_t dtypeBlockBytes(DType dtype);

/// Bytes for `numElements` elements, or nullopt when the count is not a
/// whole number of blocks or the product overflows.
std::optional<uint64_t> dtypeStorageBytes(DType dtype, uint64_t numElements);

/// Number of elements of `shape`, or nullopt on overflow / negative dims.
std::optional<uint64_t> numElements(llvm::ArrayRef<int64_t> shape);

/// "[64, 172]"
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// A tensor stored in a model file: logical row-major shape (outermost
/// first), element type and where its bytes are.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::F32;
  unsigned file = 0;   // index into ModelSource's files
  uint64_t offset = 0; // byte offset in that file
  uint64_t size = 0;   // bytes
};

/// Converts `count` elements (a whole number of blocks) to float.
void convertToF32(DType dtype, const uint8_t *data, uint64_t count,
                  float *out);

/// convertToF32 of Q5_0, Q5_1, IQ4_NL and the K-quants (GGMLBlocks.cpp).
void dequantizeGGMLBlocks(DType dtype, const uint8_t *data, uint64_t count,
                          float *out);

float halfToFloat(uint16_t bits);
/// Round to nearest even, as numpy's astype(float16).
uint16_t floatToHalf(float v);
float bfloat16ToFloat(uint16_t bits);

} // namespace llmc

#endif // LLMC_IMPORTERS_TENSOR_H
