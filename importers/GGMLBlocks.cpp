//===- GGMLBlocks.cpp - dequantization of ggml's K-quant and 5-bit blocks -===//
//
// Q5_0, Q5_1, IQ4_NL (32 elements a block) and the K-quants Q2_K .. Q6_K
// (256 elements a super-block), decoded as ggml's reference dequantize_row_*
// functions do, in the same float operation order, so the values equal the
// gguf package's bit for bit (test/import/check_gguf_blocks.py).
//
//===----------------------------------------------------------------------===//

#include "importers/Tensor.h"
#include <cstring>

using namespace llmc;

namespace {
constexpr int QK_K = 256;

uint16_t u16(const uint8_t *p) { return uint16_t(p[0] | (p[1] << 8)); }
float f16(const uint8_t *p) { return halfToFloat(u16(p)); }

/// The 6-bit scale and min of sub-block j of Q4_K / Q5_K (12 packed bytes).
void scaleMinK4(int j, const uint8_t *q, uint8_t &d, uint8_t &m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void q5Block(const uint8_t *x, float *y, bool withMin) {
  float d = f16(x), m = withMin ? f16(x + 2) : 0.0f;
  const uint8_t *h = x + (withMin ? 4 : 2);
  uint32_t qh;
  std::memcpy(&qh, h, 4);
  const uint8_t *qs = h + 4;
  for (int j = 0; j < 16; ++j) {
    uint8_t xh0 = ((qh >> j) << 4) & 0x10;
    uint8_t xh1 = (qh >> (j + 12)) & 0x10;
    int x0 = (qs[j] & 0x0F) | xh0, x1 = (qs[j] >> 4) | xh1;
    if (withMin) {
      y[j] = x0 * d + m;
      y[j + 16] = x1 * d + m;
    } else {
      y[j] = (x0 - 16) * d;
      y[j + 16] = (x1 - 16) * d;
    }
  }
}

void iq4nlBlock(const uint8_t *x, float *y) {
  static const int8_t values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                    1,    13,   25,  38,  53,  69,  89,  113};
  float d = f16(x);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * values[x[2 + j] & 0xF];
    y[j + 16] = d * values[x[2 + j] >> 4];
  }
}

void q2kBlock(const uint8_t *x, float *y) {
  const uint8_t *scales = x, *q = x + 16;
  float d = f16(x + 80), min = f16(x + 82);
  int is = 0;
  for (int n = 0; n < QK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        uint8_t sc = scales[is++];
        float dl = d * (sc & 0xF), ml = min * (sc >> 4);
        for (int l = 0; l < 16; ++l)
          *y++ = dl * int8_t((q[l + 16 * half] >> shift) & 3) - ml;
      }
    }
    q += 32;
  }
}

void q3kBlock(const uint8_t *x, float *y) {
  const uint8_t *hm = x, *q = x + 32;
  float dAll = f16(x + 108);
  uint32_t aux[4];
  std::memcpy(aux, x + 96, 12);
  const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  int8_t scales[16];
  std::memcpy(scales, aux, 16);
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < QK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
      for (int half = 0; half < 2; ++half) {
        float dl = dAll * (scales[is++] - 32);
        for (int l = 16 * half; l < 16 * half + 16; ++l)
          *y++ = dl * (int8_t((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
      }
    }
    q += 32;
  }
}

/// Q4_K (qh == nullptr) and Q5_K: 8 sub-blocks of 32 with 6-bit scales/mins.
void q45kBlock(const uint8_t *x, float *y, bool five) {
  float d = f16(x), min = f16(x + 2);
  const uint8_t *scales = x + 4;
  const uint8_t *qh = five ? x + 16 : nullptr;
  const uint8_t *ql = x + (five ? 48 : 16);
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, ql += 32) {
    uint8_t sc, m;
    scaleMinK4(is, scales, sc, m);
    float d1 = d * sc, m1 = min * m;
    scaleMinK4(is + 1, scales, sc, m);
    float d2 = d * sc, m2 = min * m;
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * ((ql[l] & 0xF) + (qh && (qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * ((ql[l] >> 4) + (qh && (qh[l] & u2) ? 16 : 0)) - m2;
    u1 <<= 2;
    u2 <<= 2;
  }
}

void q6kBlock(const uint8_t *x, float *y) {
  const uint8_t *ql = x, *qh = x + 128;
  const int8_t *sc = reinterpret_cast<const int8_t *>(x + 192);
  float d = f16(x + 208);
  for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = int8_t((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = int8_t((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = int8_t((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = int8_t((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
  }
}

} // namespace

void llmc::dequantizeGGMLBlocks(DType dtype, const uint8_t *data,
                                uint64_t count, float *out) {
  int64_t elems = dtypeBlockElems(dtype), bytes = dtypeBlockBytes(dtype);
  for (uint64_t b = 0; b < count / elems; ++b, data += bytes, out += elems) {
    switch (dtype) {
    case DType::Q5_0: q5Block(data, out, false); break;
    case DType::Q5_1: q5Block(data, out, true); break;
    case DType::IQ4_NL: iq4nlBlock(data, out); break;
    case DType::Q2_K: q2kBlock(data, out); break;
    case DType::Q3_K: q3kBlock(data, out); break;
    case DType::Q4_K: q45kBlock(data, out, false); break;
    case DType::Q5_K: q45kBlock(data, out, true); break;
    case DType::Q6_K: q6kBlock(data, out); break;
    default: return;
    }
  }
}
