//===- Tensor.cpp - tensor descriptors of model files ---------------------===//

#include "importers/Tensor.h"
#include "llvm/ADT/APFloat.h"
#include <cstring>

using namespace llmc;

llvm::StringRef llmc::dtypeName(DType dtype) {
  switch (dtype) {
  case DType::F32: return "F32";
  case DType::F16: return "F16";
  case DType::BF16: return "BF16";
  case DType::Q8_0: return "Q8_0";
  case DType::Q4_0: return "Q4_0";
  case DType::Q4_1: return "Q4_1";
  case DType::Q5_0: return "Q5_0";
  case DType::Q5_1: return "Q5_1";
  case DType::IQ4_NL: return "IQ4_NL";
  case DType::Q2_K: return "Q2_K";
  case DType::Q3_K: return "Q3_K";
  case DType::Q4_K: return "Q4_K";
  case DType::Q5_K: return "Q5_K";
  case DType::Q6_K: return "Q6_K";
  }
  return "?";
}

int64_t llmc::dtypeBlockElems(DType dtype) {
  switch (dtype) {
  case DType::Q8_0:
  case DType::Q4_0:
  case DType::Q4_1:
  case DType::Q5_0:
  case DType::Q5_1:
  case DType::IQ4_NL:
    return 32;
  case DType::Q2_K:
  case DType::Q3_K:
  case DType::Q4_K:
  case DType::Q5_K:
  case DType::Q6_K:
    return 256;
  default:
    return 1;
  }
}

int64_t llmc::dtypeBlockBytes(DType dtype) {
  switch (dtype) {
  case DType::F32: return 4;
  case DType::F16:
  case DType::BF16: return 2;
  case DType::Q8_0: return 2 + 32;     // f16 scale, 32 x int8
  case DType::Q4_0: return 2 + 16;     // f16 scale, 32 x 4-bit
  case DType::Q4_1: return 2 + 2 + 16; // f16 scale, f16 min, 32 x 4-bit
  case DType::Q5_0: return 2 + 4 + 16;     // + 32 high bits
  case DType::Q5_1: return 2 + 2 + 4 + 16;
  case DType::IQ4_NL: return 2 + 16;       // 4-bit indices into a table
  // K-quants: 256 elements in sub-blocks with packed scales (ggml-common.h).
  case DType::Q2_K: return 16 + 64 + 2 + 2;
  case DType::Q3_K: return 32 + 64 + 12 + 2;
  case DType::Q4_K: return 2 + 2 + 12 + 128;
  case DType::Q5_K: return 2 + 2 + 12 + 32 + 128;
  case DType::Q6_K: return 128 + 64 + 16 + 2;
  }
  return 0;
}

std::optional<uint64_t> llmc::dtypeStorageBytes(DType dtype,
                                                uint64_t numElements) {
  uint64_t blockElems = dtypeBlockElems(dtype);
  if (numElements % blockElems != 0)
    return std::nullopt;
  uint64_t bytes;
  if (__builtin_mul_overflow(numElements / blockElems,
                             static_cast<uint64_t>(
dtypeBlockBytes(dtype)), &bytes))
    return std::nullopt;
  return bytes;
}

std::optional<uint64_t> llmc::numElements(llvm::ArrayRef<int64_t> shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n))
      return std::nullopt;
  }
  // Keep element counts representable as int64 (MLIR shapes).
  if (n > static_cast<uint64_t>(INT64_MAX))
    return std::nullopt;
  return n;
}

std::string llmc::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

float llmc::halfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400u)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t llmc::floatToHalf(float v) {
  llvm::APFloat f(v);
  bool lost = false;
  f.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
}

float llmc::bfloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static uint16_t loadU16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

void llmc::convertToF32(DType dtype, const uint8_t *data, uint64_t count,
                        float *out) {
  switch (dtype) {
  case DType::F32:
    std::memcpy(out, data, count * 4);
    return;
  case DType::F16:
    for (uint64_t i = 0; i < count; ++i)
      out[i] = halfToFloat(loadU16(data + 2 * i));
    return;
  case DType::BF16:
    for (uint64_t i = 0; i < count; ++i)
      out[i] = bfloat16ToFloat(loadU16(data + 2 * i));
    return;
  case DType::Q8_0:
    for (uint64_t b = 0; b < count / 32; ++b, data += 34) {
      float d = halfToFloat(loadU16(data));
      for (int j = 0; j < 32; ++j)
        *out++ = d * static_cast<int8_t>(data[2 + j]);
    }
    return;
  case DType::Q4_0:
    // Low nibbles are elements 0..15, high nibbles 16..31 (ggml layout).
    for (uint64_t b = 0; b < count / 32; ++b, data += 18, out += 32) {
      float d = halfToFloat(loadU16(data));
      for (int j = 0; j < 16; ++j) {
        out[j] = d * ((data[2 + j] & 0x0f) - 8);
        out[j + 16] = d * ((data[2 + j] >> 4) - 8);
      }
    }
    return;
  case DType::Q4_1:
    for (uint64_t b = 0; b < count / 32; ++b, data += 20, out += 32) {
      float d = halfToFloat(loadU16(data));
      float m = halfToFloat(loadU16(data + 2));
      for (int j = 0; j < 16; ++j) {
        out[j] = d * (data[4 + j] & 0x0f) + m;
        out[j + 16] = d * (data[4 + j] >> 4) + m;
      }
    }
    return;
  default:
    dequantizeGGMLBlocks(dtype, data, count, out);
    return;
  }
}
