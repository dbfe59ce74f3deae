//===- Quantize.cpp - weight quantization math ----------------------------===//

#include "importers/Quantize.h"
#include "importers/Tensor.h"
#include "llvm/ADT/APFloat.h"
#include <algorithm>
#include <cmath>
#include <cstring>

using namespace llmc;

std::pair<int64_t, bool> llmc::nibbleAt(const QuantSpec &spec, int64_t cols,
                                        int64_t r, int64_t c) {
  int64_t block = spec.group ? spec.group : cols;
  int64_t j = c % block, half = block / 2;
  return {r * cols / 2 + (c / block) * half + (j % half), j >= half};
}

QuantizedMatrix llmc::quantizeMatrix(const float *w, int64_t rows,
                                     int64_t cols, const QuantSpec &spec) {
  QuantizedMatrix m;
  int64_t group = spec.group ? spec.group : cols;
  int64_t groups = cols / group;
  m.packed.assign(spec.packedBytes(rows, cols), 0);
  m.scales.assign(rows * groups, 0.0f);
  if (spec.asymmetric)
    m.zeros.assign(rows * groups, 0.0f);
  int32_t qmax = spec.asymmetric ? (1 << spec.bits) - 1
                                 : (1 << (spec.bits - 1)) - 1;
  auto store = [&](int64_t r, int64_t c, int32_t q) {
    if (spec.bits == 8) {
      m.packed[r * cols + c] = static_cast<uint8_t>(q);
      return;
    }
    auto [byte, high] = nibbleAt(spec, cols, r, c);
    uint8_t nib = static_cast<uint8_t>(q) & 0xF;
    m.packed[byte] |= high ? uint8_t(nib << 4) : nib;
  };
  // Scale and base (the value of q = 0) of a group whose range [lo, hi]
  // is shrunk by `clip`.
  auto range = [&](float lo, float hi, float clip, float &scale,
                   float &base) {
    if (spec.asymmetric) {
      // A constant group stores q = 0 with z = -lo / s, s = |lo|.
      lo *= clip;
      hi *= clip;
      scale = hi > lo ? (hi - lo) / float(qmax) : std::fabs(lo);
      base = lo;
    } else {
      scale = clip * std::max(std::fabs(lo), std::fabs(hi)) / float(qmax);
      base = 0.0f;
    }
  };
  auto quantized = [&](float v, float scale, float base) {
    if (scale <= 0.0f)
      return 0;
    float x = std::nearbyint((v - base) / scale);
    return static_cast<int32_t>(std::clamp(
        x, spec.asymmetric ? 0.0f : -float(qmax), float(qmax)));
  };
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const float *v = w + r * cols + g * group;
      float lo = *std::min_element(v, v + group);
      float hi = *std::max_element(v, v + group);
      float scale, base;
      range(lo, hi, 1.0f, scale, base);
      if (spec.clipSearch && scale > 0.0f) {
        double best = -1;
        for (int step = 0; step <= 10; ++step) {
          float s, b;
          range(lo, hi, 1.0f - 0.05f * step, s, b);
          if (s <= 0.0f)
            continue;
          double err = 0;
          for (int64_t i = 0; i < group; ++i) {
            double d = (quantized(v[i], s, b) * s + b) - v[i];
            err += d * d;
          }
          if (best < 0 || err < best) {
            best = err;
            scale = s;
            base = b;
          }
        }
      }
      float zero = spec.asymmetric && scale > 0.0f ? -base / scale : 0.0f;
      m.scales[r * groups + g] = scale;
      if (spec.asymmetric)
        m.zeros[r * groups + g] = zero;
      for (int64_t i = 0; i < group; ++i)
        store(r, g * group + i, quantized(v[i], scale, base));
    }
  }
  return m;
}

int32_t llmc::quantizedValue(const QuantizedMatrix &m, const QuantSpec &spec,
                             int64_t cols, int64_t r, int64_t c) {
  if (spec.bits == 8) {
    uint8_t v = m.packed[r * cols + c];
    return spec.asymmetric ? int32_t(v) : int32_t(int8_t(v));
  }
  auto [at, high] = nibbleAt(spec, cols, r, c);
  uint8_t byte = m.packed[at];
  int32_t nib = high ? byte >> 4 : byte & 0xF;
  return spec.asymmetric ? nib : ((nib ^ 8) - 8);
}

float llmc::dequantizedValue(const QuantizedMatrix &m, const QuantSpec &spec,
                             int64_t cols, int64_t r, int64_t c) {
  int64_t g = r * spec.groupsPerRow(cols) + (spec.group ? c / spec.group : 0);
  float q = float(quantizedValue(m, spec, cols, r, c));
  if (spec.asymmetric)
    return (q - m.zeros[g]) * m.scales[g];
  return q * m.scales[g];
}

namespace {
uint16_t floatToHalf(float v) {
  llvm::APFloat f(v);
  bool lost = false;
  f.convert(llvm::APFloat::IEEEhalf(), llvm::APFloat::rmNearestTiesToEven,
            &lost);
  return static_cast<uint16_t>(f.bitcastToAPInt().getZExtValue());
}
} // namespace

int64_t llmc::blockBytes(BlockFormat f) {
  return f == BlockFormat::Q8_0 ? 34 : 18;
}

std::vector<uint8_t> llmc::quantizeBlocks(const float *w, int64_t n,
                                          BlockFormat f) {
  int64_t bb = blockBytes(f);
  std::vector<uint8_t> out(n / 32 * bb, 0);
  for (int64_t blk = 0; blk < n / 32; ++blk) {
    const float *x = w + blk * 32;
    uint8_t *y = out.data() + blk * bb;
    float d;
    if (f == BlockFormat::Q8_0) {
      float amax = 0;
      for (int j = 0; j < 32; ++j)
        amax = std::max(amax, std::fabs(x[j]));
      d = amax / 127;
      float id = d ? 1.0f / d : 0.0f;
      for (int j = 0; j < 32; ++j)
        y[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[j] * id)));
    } else {
      float amax = 0, max = 0;
      for (int j = 0; j < 32; ++j)
        if (amax < std::fabs(x[j])) {
          amax = std::fabs(x[j]);
          max = x[j];
        }
      d = max / -8;
      float id = d ? 1.0f / d : 0.0f;
      for (int j = 0; j < 16; ++j) {
        int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
        int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[16 + j] * id + 8.5f)));
        y[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
      }
    }
    uint16_t h = floatToHalf(d);
    std::memcpy(y, &h, 2);
  }
  return out;
}

float llmc::blockValue(const uint8_t *blocks, BlockFormat f, int64_t i) {
  const uint8_t *y = blocks + (i / 32) * blockBytes(f);
  int64_t j = i % 32;
  uint16_t h;
  std::memcpy(&h, y, 2);
  float d = halfToFloat(h);
  if (f == BlockFormat::Q8_0)
    return d * static_cast<int8_t>(y[2 + j]);
  int q = j < 16 ? (y[2 + j] & 15) : (y[2 + j - 16] >> 4);
  return d * (q - 8);
}

std::vector<uint8_t> llmc::quantizeSparseBlocks(const float *w, int64_t rows,
                                                int64_t cols) {
  int64_t blocks = cols / 32, kept = blocks / 2;
  std::vector<uint8_t> out(rows * kept * 20, 0);
  std::vector<int64_t> order(blocks);
  std::vector<double> saliency(blocks);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w + r * cols;
    for (int64_t b = 0; b < blocks; ++b) {
      double s = 0;
      for (int j = 0; j < 32; ++j)
        s += double(row[b * 32 + j]) * row[b * 32 + j];
      saliency[b] = s;
      order[b] = b;
    }
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return saliency[a] > saliency[b];
    });
    std::sort(order.begin(), order.begin() + kept);
    for (int64_t k = 0; k < kept; ++k) {
      uint8_t *e = out.data() + (r * kept + k) * 20;
      uint16_t idx = static_cast<uint16_t>(order[k]);
      std::memcpy(e, &idx, 2);
      std::vector<uint8_t> q =
          quantizeBlocks(row + order[k] * 32, 32, BlockFormat::Q4_0);
      std::memcpy(e + 2, q.data(), 18);
    }
  }
  return out;
}

float llmc::sparseBlockValue(const uint8_t *entries, int64_t cols, int64_t r,
                             int64_t c) {
  int64_t kept = cols / 64;
  for (int64_t k = 0; k < kept; ++k) {
    const uint8_t *e = entries + (r * kept + k) * 20;
    uint16_t idx;
    std::memcpy(&idx, e, 2);
    if (idx == c / 32)
      return blockValue(e + 2, BlockFormat::Q4_0, c % 32);
  }
  return 0.0f;
}
