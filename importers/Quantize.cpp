//===- Quantize.cpp - weight quantization math ----------------------------===//

#include "importers/Quantize.h"
#include "dialects/llm/BlockLayout.h"
#include "importers/Tensor.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/ArrayRef.h"
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


/// The K-quant layout of `f` (also Q5_0 / Q5_1 / IQ4_NL's), null for q8_0
/// / q4_0.
static const kquant::Format *kquantFormat(BlockFormat f) {
  switch (f) {
  case BlockFormat::Q2_K: return &kquant::kQ2KFormat;
  case BlockFormat::Q3_K: return &kquant::kQ3KFormat;
  case BlockFormat::Q4_K: return &kquant::kQ4KFormat;
  case BlockFormat::Q5_K: return &kquant::kQ5KFormat;
  case BlockFormat::Q6_K: return &kquant::kQ6KFormat;
  case BlockFormat::Q5_0: return &kquant::kQ5_0Format;
  case BlockFormat::Q5_1: return &kquant::kQ5_1Format;
  case BlockFormat::IQ4_NL: return &kquant::kIQ4NLFormat;
  case BlockFormat::Q8_0:
  case BlockFormat::Q4_0: break;
  }
  return nullptr;
}

int64_t llmc::blockBytes(BlockFormat f) {
  if (const kquant::Format *k = kquantFormat(f))
    return k->bytes;
  return f == BlockFormat::Q8_0 ? 34 : 18;
}

int64_t llmc::blockElements(BlockFormat f) {
  return kquantFormat(f) ? kquant::kSuperBlock : 32;
}

std::optional<BlockFormat> llmc::blockFormatNamed(const std::string &dtype) {
  for (BlockFormat f : {BlockFormat::Q8_0, BlockFormat::Q4_0, BlockFormat::Q2_K,
                        BlockFormat::Q3_K, BlockFormat::Q4_K, BlockFormat::Q5_K,
                        BlockFormat::Q6_K, BlockFormat::Q5_0, BlockFormat::Q5_1,
                        BlockFormat::IQ4_NL}) {
    const kquant::Format *k = kquantFormat(f);
    if (k ? k->dtype == dtype
          : dtype == (f == BlockFormat::Q8_0 ? "q8_0" : "q4_0"))
      return f;
  }
  return std::nullopt;
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

/// interleaveBlockRows of K-quant super-blocks (BlockLayout.h).
static std::vector<uint8_t>
interleaveKQuantRows(const uint8_t *blocks, int64_t rows, int64_t cols,
                     const kquant::Format &f, int64_t tile) {
  int64_t perRow = cols / kquant::kSuperBlock, bb = f.bytes;
  std::vector<uint8_t> out(rows * perRow * bb);
  for (int64_t g = 0; g < rows / 8; ++g)
    for (int64_t b = 0; b < perRow; ++b) {
      uint8_t *unit =
          out.data() + kquant::unitOffset(g, b, perRow, bb, tile);
      for (int64_t r = 0; r < 8; ++r) {
        const uint8_t *y = blocks + ((g * 8 + r) * perRow + b) * bb;
        // Chunk by chunk: kquant::unitByte, a width at a time.
        for (const kquant::Region &rg :
             llvm::ArrayRef(f.regions, f.numRegions))
          for (int64_t c = 0; c < rg.length / rg.width; ++c)
            std::memcpy(unit + rg.unitStart + 8 * rg.width * c + rg.width * r,
                        y + rg.rawStart + rg.width * c, rg.width);
      }
    }
  return out;
}

std::vector<uint8_t> llmc::interleaveBlockRows(const uint8_t *blocks,
                                               int64_t rows, int64_t cols,
                                               BlockFormat f, int64_t tile) {
  if (const kquant::Format *k = kquantFormat(f))
    return interleaveKQuantRows(blocks, rows, cols, *k, tile);
  int64_t bb = blockBytes(f), perRow = cols / 32, data = bb - 2;
  std::vector<uint8_t> out(rows * perRow * bb);
  for (int64_t g = 0; g < rows / 8; ++g)
    for (int64_t b = 0; b < perRow; ++b) {
      uint8_t *unit = out.data() + kquant::unitOffset(g, b, perRow, bb, tile);
      for (int64_t r = 0; r < 8; ++r) {
        const uint8_t *y = blocks + ((g * 8 + r) * perRow + b) * bb;
        std::memcpy(unit + 2 * r, y, 2);
        for (int64_t c = 0; c < data / 4; ++c)
          std::memcpy(unit + 16 + (8 * c + r) * 4, y + 2 + 4 * c, 4);
      }
    }
  return out;
}

float llmc::interleavedBlockValue(const uint8_t *units, int64_t cols,
                                  BlockFormat f, int64_t r, int64_t c,
                                  int64_t tile) {
  int64_t bb = blockBytes(f);
  const uint8_t *unit =
      units + kquant::unitOffset(r / 8, c / 32, cols / 32, bb, tile);
  // Gather row r's block back into the row-major form.
  uint8_t y[34];
  std::memcpy(y, unit + 2 * (r % 8), 2);
  for (int64_t k = 0; k < (bb - 2) / 4; ++k)
    std::memcpy(y + 2 + 4 * k, unit + 16 + (8 * k + r % 8) * 4, 4);
  return blockValue(y, f, c % 32);
}

std::vector<uint8_t> llmc::quantizeSparseBlocks(const float *w, int64_t rows,
                                                int64_t cols,
                                                const float *meanSquare) {
  int64_t blocks = cols / 32, kept = blocks / 2;
  std::vector<uint8_t> out(rows * kept * 20, 0);
  std::vector<int64_t> order(blocks);
  std::vector<double> saliency(blocks);
  for (int64_t r = 0; r < rows; ++r) {
    const float *row = w + r * cols;
    for (int64_t b = 0; b < blocks; ++b) {
      double s = 0;
      for (int j = 0; j < 32; ++j)
        s += double(row[b * 32 + j]) * row[b * 32 + j] *
             (meanSquare ? double(meanSquare[b * 32 + j]) : 1.0);
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

int64_t llmc::dgqRowBytes(int64_t cols, int64_t group) {
  return 4 + cols / group + cols / 2;
}

namespace {
/// DGQ of `w` with columns scaled by `t` (activations by 1 / t), error
/// weights `h` per column; returns the weighted squared weight error of the
/// result (sum over rows and columns of h_j (w_ij t_j - w'_ij)^2).
double quantizeDGQScaled(const float *w, int64_t rows, int64_t cols,
                         int64_t group, const std::vector<float> &t,
                         const std::vector<float> &h, DGQMatrix &m) {
  int64_t groups = cols / group, rowBytes = dgqRowBytes(cols, group);
  m.rows.assign(rows * rowBytes, 0);
  m.smooth.resize(cols);
  for (int64_t c = 0; c < cols; ++c)
    m.smooth[c] = 1.0f / t[c];
  auto quant = [](float v, float s) {
    return s > 0.0f ? int(std::clamp(std::nearbyint(v / s), -8.0f, 7.0f)) : 0;
  };
  double total = 0;
  std::vector<float> row(cols), best(groups);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      row[c] = w[r * cols + c] * t[c];
    auto groupError = [&](int64_t g, float s) {
      double err = 0;
      for (int64_t i = g * group; i < (g + 1) * group; ++i) {
        double d = double(quant(row[i], s)) * s - row[i];
        err += h[i] * d * d;
      }
      return err;
    };
    // Phase 1: each group's float scale.
    float top = 0.0f;
    for (int64_t g = 0; g < groups; ++g) {
      float amax = 0.0f;
      for (int64_t i = g * group; i < (g + 1) * group; ++i)
        amax = std::max(amax, std::fabs(row[i]));
      best[g] = amax / 7.0f;
      double bestErr = groupError(g, best[g]);
      for (int step = 1; step <= 10 && amax > 0.0f; ++step) {
        float s = (1.0f - 0.05f * step) * amax / 7.0f;
        double err = groupError(g, s);
        if (err < bestErr) {
          bestErr = err;
          best[g] = s;
        }
      }
      top = std::max(top, best[g]);
    }
    // Phase 2: the channel scale; the group scales become its integer
    // multiples.
    float s1 = top / 127.0f;
    auto level = [&](int64_t g, float c1) {
      return c1 > 0.0f ? int(std::clamp(std::nearbyint(best[g] / c1), 1.0f,
                                        127.0f))
                       : 1;
    };
    double rowErr = 0;
    for (int64_t g = 0; g < groups; ++g)
      rowErr += groupError(g, s1 * level(g, s1));
    for (int step = 1; step <= 10 && top > 0.0f; ++step) {
      float c1 = (1.0f - 0.05f * step) * top / 127.0f;
      double err = 0;
      for (int64_t g = 0; g < groups; ++g)
        err += groupError(g, c1 * level(g, c1));
      if (err < rowErr) {
        rowErr = err;
        s1 = c1;
      }
    }
    total += rowErr;
    uint8_t *out = m.rows.data() + r * rowBytes;
    std::memcpy(out, &s1, 4);
    uint8_t *nibbles = out + 4 + groups;
    for (int64_t g = 0; g < groups; ++g) {
      int s2 = level(g, s1);
      out[4 + g] = uint8_t(s2);
      float s = s1 * s2;
      for (int64_t i = g * group; i < (g + 1) * group; ++i) {
        uint8_t nib = uint8_t(quant(row[i], s) + 8);
        int64_t blk = i / 32, j = i % 32;
        uint8_t &byte = nibbles[blk * 16 + (j % 16)];
        byte |= j < 16 ? nib : uint8_t(nib << 4);
      }
    }
  }
  return total;
}
} // namespace

DGQMatrix llmc::quantizeDGQ(const float *w, int64_t rows, int64_t cols,
                            int64_t group, const float *meanSquare,
                            const float *range) {
  std::vector<float> ones(cols, 1.0f);
  DGQMatrix best;
  if (!range) {
    std::vector<float> h(cols, 1.0f);
    if (meanSquare)
      for (int64_t c = 0; c < cols; ++c)
        h[c] = std::max(meanSquare[c], 1e-12f);
    quantizeDGQScaled(w, rows, cols, group, ones, h, best);
    return best;
  }
  // Percentile-clipping smoothing t_j = (range_j / max_i |w_ij|)^alpha,
  // alpha searched on the calibration statistics: the expected squared
  // output error of the weights (E[x_j^2] / t_j^2 weighted, see
  // quantizeDGQScaled) plus that of per-token int8 activations (a uniform
  // error of step d = max_j (range_j / t_j) / 127 on each input: d^2 / 12
  // times the sum of the squared smoothed weights).
  std::vector<float> wmax(cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      wmax[c] = std::max(wmax[c], std::fabs(w[r * cols + c]));
  double bestErr = -1;
  for (int step = 0; step <= 5; ++step) {
    float alpha = 0.1f * step;
    std::vector<float> t(cols, 1.0f), h(cols, 1.0f);
    float amax = 0.0f;
    double wsq = 0;
    for (int64_t c = 0; c < cols; ++c) {
      if (alpha > 0.0f && range[c] > 0.0f && wmax[c] > 0.0f)
        t[c] = std::clamp(std::pow(range[c] / wmax[c], alpha), 1.0f / 64,
                          64.0f);
      if (meanSquare)
        h[c] = std::max(meanSquare[c] / (t[c] * t[c]), 1e-12f);
      amax = std::max(amax, range[c] / t[c]);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        wsq += double(w[r * cols + c] * t[c]) * (w[r * cols + c] * t[c]);
    DGQMatrix m;
    double d = amax / 127.0;
    double err = quantizeDGQScaled(w, rows, cols, group, t, h, m) +
                 d * d / 12.0 * wsq;
    if (bestErr < 0 || err < bestErr) {
      bestErr = err;
      best = std::move(m);
    }
  }
  return best;
}

void llmc::dgqParts(const uint8_t *rowBytes, int64_t cols, int64_t group,
                    int64_t r, int64_t c, float &s1, int &s2, int &q) {
  const uint8_t *row = rowBytes + r * dgqRowBytes(cols, group);
  std::memcpy(&s1, row, 4);
  s2 = row[4 + c / group];
  const uint8_t *nibbles = row + 4 + cols / group;
  int64_t blk = c / 32, j = c % 32;
  uint8_t byte = nibbles[blk * 16 + (j % 16)];
  q = int(j < 16 ? byte & 15 : byte >> 4) - 8;
}

float llmc::dgqValue(const uint8_t *rowBytes, int64_t cols, int64_t group,
                     int64_t r, int64_t c) {
  float s1;
  int s2, q;
  dgqParts(rowBytes, cols, group, r, c, s1, s2, q);
  return s1 * float(s2) * float(q);
}
