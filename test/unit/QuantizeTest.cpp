//===- QuantizeTest.cpp - quantization round trips within their bounds ----===//
//
// For every scheme llm-quantize offers: each dequantized element is within
// half a quantization step (s / 2) of the original, the integers stay in
// the scheme's range, extreme values are exact, degenerate groups (all zero,
// constant) round-trip, and the 4-bit packing puts element 2k in the low
// nibble of byte k.
//
//===----------------------------------------------------------------------===//

#include "importers/Quantize.h"
#include "dialects/llm/BlockLayout.h"
#include <gtest/gtest.h>
#include <cmath>
#include <cstring>
#include <random>

using namespace llmc;

namespace {
struct Scheme {
  const char *name;
  QuantSpec spec;
};

void PrintTo(const Scheme &s, std::ostream *os) { *os << s.name; }

/// `n` seeded draws from N(0, sigma^2): weights of a plausible scale.
std::vector<float> normalValues(int64_t n, unsigned seed, float sigma = 0.05f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(n);
  for (float &x : v)
    x = normal(rng);
  return v;
}

class QuantizeRoundTrip : public ::testing::TestWithParam<Scheme> {};

TEST_P(QuantizeRoundTrip, ErrorWithinHalfAStep) {
  const QuantSpec spec = GetParam().spec;
  const int64_t rows = 24, cols = 256;
  std::vector<float> w = normalValues(rows * cols, 7);
  // Outliers, a constant row and an all-zero row.
  w[5 * cols + 17] = 3.0f;
  for (int64_t c = 0; c < cols; ++c) {
    w[7 * cols + c] = -0.25f;
    w[8 * cols + c] = 0.0f;
  }
  QuantizedMatrix m = quantizeMatrix(w.data(), rows, cols, spec);
  ASSERT_EQ(int64_t(m.packed.size()), spec.packedBytes(rows, cols));
  ASSERT_EQ(int64_t(m.scales.size()), rows * spec.groupsPerRow(cols));
  ASSERT_EQ(m.zeros.size(), spec.asymmetric ? m.scales.size() : 0u);
  int32_t lo = spec.asymmetric ? 0 : -((1 << (spec.bits - 1)) - 1);
  int32_t hi = spec.asymmetric ? (1 << spec.bits) - 1 : (1 << (spec.bits - 1)) - 1;
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int64_t g = r * spec.groupsPerRow(cols) + (spec.group ? c / spec.group : 0);
      float s = m.scales[g];
      int32_t q = quantizedValue(m, spec, cols, r, c);
      EXPECT_GE(q, lo);
      EXPECT_LE(q, hi);
      float back = dequantizedValue(m, spec, cols, r, c);
      float err = std::fabs(back - w[r * cols + c]);
      EXPECT_LE(err, 0.5f * s * (1 + 1e-5f) + 1e-7f)
          << GetParam().name << " at (" << r << ", " << c << ")";
      worst = std::max(worst, double(err) / std::max(s, 1e-30f));
    }
  EXPECT_GT(worst, 0.25) << "the bound is not tight: suspicious";
  // The outlier is the group's maximum: exact up to float rounding.
  EXPECT_NEAR(dequantizedValue(m, spec, cols, 5, 17), 3.0f, 3e-6f);
  for (int64_t c = 0; c < cols; ++c) {
    EXPECT_NEAR(dequantizedValue(m, spec, cols, 7, c), -0.25f, 1e-6f);
    EXPECT_EQ(dequantizedValue(m, spec, cols, 8, c), 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, QuantizeRoundTrip,
    ::testing::Values(Scheme{"w8", {8, 0, false}}, Scheme{"w8a", {8, 0, true}},
                      Scheme{"w8g32", {8, 32, false}},
                      Scheme{"w4g32", {4, 32, false}},
                      Scheme{"w4g64a", {4, 64, true}},
                      Scheme{"w4g128", {4, 128, false}},
                      Scheme{"w4g128a", {4, 128, true}}),
    [](const auto &info) { return std::string(info.param.name); });

TEST(Quantize, NibbleOrder) {
  // Symmetric 4-bit, one group of 4: absmax 7 -> scale 1, q = w. Elements
  // 0, 1 are the low nibbles of bytes 0, 1; elements 2, 3 the high ones.
  const float w[4] = {1.0f, -2.0f, 7.0f, -7.0f};
  QuantizedMatrix m = quantizeMatrix(w, 1, 4, QuantSpec{4, 4, false});
  ASSERT_EQ(m.packed.size(), 2u);
  EXPECT_EQ(m.packed[0], 0x71); // 7 -> 0x7 (high), 1 -> 0x1 (low)
  EXPECT_EQ(m.packed[1], 0x9E); // -7 -> 0x9 (high), -2 -> 0xE (low)
  EXPECT_FLOAT_EQ(m.scales[0], 1.0f);
  // Two groups of 4 in one row of 8: each group packs into its own 2 bytes.
  const float w2[8] = {1, 2, 3, 4, 5, 6, 7, -7};
  m = quantizeMatrix(w2, 1, 8, QuantSpec{4, 4, false});
  EXPECT_EQ(quantizedValue(m, QuantSpec{4, 4, false}, 8, 0, 6), 7);
  EXPECT_EQ(m.packed[2] & 0xF, quantizedValue(m, QuantSpec{4, 4, false}, 8, 0, 4));
}
} // namespace

// GGUF blocks (ggml's reference quantizers): q8_0 elements within half a
// step of d (plus what rounding d to f16 adds, |q| * d * 2^-11); q4_0
// elements within half a step except the clamped side of the range (q =
// 16 -> 15: one step), the block's largest magnitude exact up to the f16
// rounding of d; all-zero blocks decode to zeros.
TEST(Quantize, GGUFBlocksWithinTheirBounds) {
  const int64_t n = 32 * 64;
  std::vector<float> w = normalValues(n, 11);
  for (int j = 0; j < 32; ++j)
    w[3 * 32 + j] = 0.0f;  // a zero block
  w[5 * 32 + 9] = -2.0f;   // an outlier (q4_0: the negative extreme)
  for (BlockFormat f : {BlockFormat::Q8_0, BlockFormat::Q4_0}) {
    std::vector<uint8_t> blocks = quantizeBlocks(w.data(), n, f);
    ASSERT_EQ(blocks.size(), size_t(n / 32 * blockBytes(f)));
    for (int64_t b = 0; b < n / 32; ++b) {
      float amax = 0, max = 0;
      for (int j = 0; j < 32; ++j)
        if (std::fabs(w[b * 32 + j]) > amax) {
          amax = std::fabs(w[b * 32 + j]);
          max = w[b * 32 + j];
        }
      float d = f == BlockFormat::Q8_0 ? amax / 127 : std::fabs(max) / 8;
      float qmax = f == BlockFormat::Q8_0 ? 127 : 8;
      float f16 = qmax * d * std::ldexp(1.0f, -11);
      for (int j = 0; j < 32; ++j) {
        int64_t i = b * 32 + j;
        float got = blockValue(blocks.data(), f, i);
        float err = std::fabs(got - w[i]);
        bool clamped = f == BlockFormat::Q4_0 && w[i] / (max / -8) > 7.5f;
        EXPECT_LE(err, (clamped ? d : d / 2) + f16 + 1e-7f)
            << (f == BlockFormat::Q8_0 ? "q8_0" : "q4_0") << " element " << i;
        if (amax == 0.0f)
          EXPECT_EQ(got, 0.0f);
        if (w[i] == max && amax > 0)
          EXPECT_NEAR(got, max, f16 + 1e-7f);
      }
    }
  }
  // q4_0 nibbles: element j < 16 low nibble of byte j, j >= 16 high nibble
  // of byte j - 16; q8_0 values one signed byte each after the f16 scale.
  std::vector<float> ramp(32);
  for (int j = 0; j < 32; ++j)
    ramp[j] = float(j - 16); // d = -16 / -8 = 2: q = (j - 16) / 2 + 8
  std::vector<uint8_t> q4 = quantizeBlocks(ramp.data(), 32, BlockFormat::Q4_0);
  EXPECT_EQ(q4[2] & 15, 0);       // element 0: -16 -> q 0
  EXPECT_EQ(q4[2] >> 4, 8);       // element 16: 0 -> q 8
  EXPECT_EQ(q4[2 + 15] >> 4, 15); // element 31: 15 / 2 + 8.5 = 16 -> 15
  std::vector<uint8_t> q8 = quantizeBlocks(ramp.data(), 32, BlockFormat::Q8_0);
  EXPECT_EQ(int8_t(q8[2]), -127);
  EXPECT_EQ(int8_t(q8[2 + 16]), 0);
}

// Rows interleaved by 8 (layout "rows8") are the same blocks moved: every
// value reads back as in the row-major blocks, the 8 scales of a unit come
// first, and chunk c of row r sits at 16 + (8c + r) * 4.
TEST(Quantize, InterleavedRowsKeepEveryValue) {
  const int64_t rows = 64, cols = 96;
  std::vector<float> w = normalValues(rows * cols, 7, 1.0f);
  for (BlockFormat f : {BlockFormat::Q8_0, BlockFormat::Q4_0}) {
    std::vector<uint8_t> blocks = quantizeBlocks(w.data(), rows * cols, f);
    int64_t bb = blockBytes(f);
    for (int64_t tile : {1, 8}) {
      std::vector<uint8_t> units =
          interleaveBlockRows(blocks.data(), rows, cols, f, tile);
      ASSERT_EQ(units.size(), blocks.size());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          ASSERT_EQ(interleavedBlockValue(units.data(), cols, f, r, c, tile),
                    blockValue(blocks.data(), f, r * cols + c))
              << "tile " << tile << " row " << r << " col " << c;
      // Row 11 (group 1, lane 3), block 2: its scale and its chunk 1. rows8:
      // unit 1 * 3 + 2; rows64: block 2 of tile 0 holds units of groups
      // 0..7, so unit 2 * 8 + 1.
      const uint8_t *unit =
          units.data() + (tile == 1 ? 1 * 3 + 2 : 2 * 8 + 1) * 8 * bb;
      const uint8_t *block = blocks.data() + (11 * 3 + 2) * bb;
      EXPECT_EQ(std::memcmp(unit + 2 * 3, block, 2), 0);
      EXPECT_EQ(std::memcmp(unit + 16 + (8 * 1 + 3) * 4, block + 2 + 4, 4), 0);
    }
  }
  EXPECT_EQ(blockLayoutTile("rows8"), 1);
  EXPECT_EQ(blockLayoutTile("rows64"), 8);
  EXPECT_EQ(blockLayoutTile("rows"), 0);
}

// K-quant super-blocks (and Q5_0 / Q5_1 / IQ4_NL's 8 blocks of 32)
// interleaved by 8 rows: every byte of every block lands where
// dialects/llm/BlockLayout.h's unitByte says (units in the rows8 / rows64
// order), and the regions cover each unit exactly once.
TEST(Quantize, InterleavedKQuantRowsFollowTheLayout) {
  const int64_t rows = 64, cols = 512, perRow = cols / 256;
  std::mt19937 rng(5);
  for (BlockFormat f : {BlockFormat::Q2_K, BlockFormat::Q3_K, BlockFormat::Q4_K,
                        BlockFormat::Q5_K, BlockFormat::Q6_K, BlockFormat::Q5_0,
                        BlockFormat::Q5_1, BlockFormat::IQ4_NL}) {
    int64_t bb = blockBytes(f);
    const llmc::kquant::Format *layout = nullptr;
    for (const llmc::kquant::Format *k : llmc::kquant::kFormats)
      if (blockFormatNamed(std::string(k->dtype)) == f)
        layout = k;
    ASSERT_NE(layout, nullptr);
    ASSERT_EQ(layout->bytes, bb);
    std::vector<uint8_t> blocks(rows * perRow * bb);
    for (uint8_t &v : blocks)
      v = uint8_t(rng());
    for (int64_t tile : {1, 8}) {
      std::vector<uint8_t> units =
          interleaveBlockRows(blocks.data(), rows, cols, f, tile);
      ASSERT_EQ(units.size(), blocks.size());
      std::vector<int> hits(8 * bb, 0);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t b = 0; b < perRow; ++b)
          for (int64_t k = 0; k < bb; ++k) {
            int64_t at = llmc::kquant::unitByte(*layout, r % 8, k);
            ASSERT_GE(at, 0);
            if (r < 8 && b == 0)
              ++hits[at];
            ASSERT_EQ(units[llmc::kquant::unitOffset(r / 8, b, perRow, bb, tile) + at],
                      blocks[(r * perRow + b) * bb + k])
                << "tile " << tile << " row " << r << " block " << b << " byte " << k;
          }
      for (int h : hits)
        ASSERT_EQ(h, 1);
    }
  }
}

// The clipping search never makes a group's squared error larger than the
// full range does, and helps a group with one outlier.
TEST(Quantize, ClipSearchNeverWorse) {
  const int64_t rows = 16, cols = 128;
  std::vector<float> w = normalValues(rows * cols, 5);
  w[3 * cols + 40] = 0.6f; // an outlier in group (3, 1)
  for (bool asym : {false, true}) {
    QuantSpec plain{4, 32, asym};
    QuantSpec clip = plain;
    clip.clipSearch = true;
    QuantizedMatrix a = quantizeMatrix(w.data(), rows, cols, plain);
    QuantizedMatrix b = quantizeMatrix(w.data(), rows, cols, clip);
    double total[2] = {0, 0};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < cols / 32; ++g) {
        double e[2] = {0, 0};
        for (int64_t c = g * 32; c < (g + 1) * 32; ++c) {
          float v = w[r * cols + c];
          e[0] += std::pow(dequantizedValue(a, plain, cols, r, c) - v, 2);
          e[1] += std::pow(dequantizedValue(b, clip, cols, r, c) - v, 2);
        }
        EXPECT_LE(e[1], e[0] * (1 + 1e-5) + 1e-12) << "group " << r << "," << g;
        total[0] += e[0];
        total[1] += e[1];
      }
    EXPECT_LT(total[1], total[0]) << (asym ? "asymmetric" : "symmetric");
  }
}

// GQSA 50 %: each row keeps exactly half of its blocks, the ones with the
// largest sums of squares, in index order; kept blocks equal plain q4_0,
// pruned ones are zero.
TEST(Quantize, SparseBlocksKeepTheSalientHalf) {
  const int64_t rows = 6, cols = 256; // 8 blocks per row, 4 kept
  std::vector<float> w = normalValues(rows * cols, 3);
  for (int j = 0; j < 32; ++j) {
    w[0 * cols + 5 * 32 + j] *= 10; // row 0: block 5 salient
    w[1 * cols + 2 * 32 + j] = 0;   // row 1: block 2 empty
  }
  std::vector<uint8_t> e = quantizeSparseBlocks(w.data(), rows, cols);
  ASSERT_EQ(e.size(), size_t(rows * 4 * 20));
  std::vector<uint8_t> dense = quantizeBlocks(w.data(), rows * cols, BlockFormat::Q4_0);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> sal(8, 0);
    for (int64_t c = 0; c < cols; ++c)
      sal[c / 32] += double(w[r * cols + c]) * w[r * cols + c];
    int kept = 0, prev = -1;
    std::vector<bool> stored(8, false);
    for (int k = 0; k < 4; ++k) {
      uint16_t idx = e[(r * 4 + k) * 20] | (e[(r * 4 + k) * 20 + 1] << 8);
      EXPECT_GT(int(idx), prev) << "indices ascend";
      prev = idx;
      ASSERT_LT(idx, 8);
      stored[idx] = true;
    }
    for (int64_t b = 0; b < 8; ++b) {
      int larger = 0;
      for (int64_t o = 0; o < 8; ++o)
        larger += sal[o] > sal[b];
      bool isKept = stored[b];
      EXPECT_EQ(isKept, larger < 4) << "row " << r << " block " << b;
      kept += isKept;
      for (int j = 0; j < 32; ++j) {
        float want = isKept ? blockValue(dense.data(), BlockFormat::Q4_0,
                                         r * cols + b * 32 + j)
                            : 0.0f;
        EXPECT_EQ(sparseBlockValue(e.data(), cols, r, b * 32 + j), want);
      }
    }
    EXPECT_EQ(kept, 4);
  }
}

TEST(Quantize, CalibratedSaliencyWeighsByInputEnergy) {
  // Equal weights everywhere: with E[x^2] large on blocks 1 and 6 only,
  // those (and the two next lowest indices on ties) are kept.
  const int64_t rows = 2, cols = 256;
  std::vector<float> w(rows * cols, 0.01f), ms(cols, 1.0f);
  for (int j = 0; j < 32; ++j)
    ms[1 * 32 + j] = ms[6 * 32 + j] = 100.0f;
  std::vector<uint8_t> e = quantizeSparseBlocks(w.data(), rows, cols, ms.data());
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int> idx;
    for (int k = 0; k < 4; ++k)
      idx.push_back(e[(r * 4 + k) * 20] | (e[(r * 4 + k) * 20 + 1] << 8));
    EXPECT_EQ(idx, (std::vector<int>{0, 1, 2, 6})) << "row " << r;
  }
}

TEST(Quantize, DGQWithinItsBounds) {
  // w' = s1 * s2 * q with q in [-8, 7], s2 in [1, 127]; every element
  // inside the representable range [-8 s, 7 s] (s = s1 * s2) is within
  // s / 2 of the (smoothed) weight, the others are clipped to its edge.
  const int64_t rows = 12, cols = 512, group = 128;
  std::vector<float> w = normalValues(rows * cols, 9);
  std::vector<float> ms(cols), range(cols);
  w[3 * cols + 17] = 0.9f; // an outlier
  for (int64_t c = 0; c < cols; ++c) {
    ms[c] = 0.5f + float(c % 7);
    range[c] = 1.0f + float(c % 5);
  }
  for (bool calibrated : {false, true}) {
    DGQMatrix m = quantizeDGQ(w.data(), rows, cols, group,
                              calibrated ? ms.data() : nullptr,
                              calibrated ? range.data() : nullptr);
    ASSERT_EQ(m.rows.size(), size_t(rows * dgqRowBytes(cols, group)));
    ASSERT_EQ(dgqRowBytes(cols, group), 4 + 4 + 256);
    for (int64_t c = 0; c < cols; ++c) {
      if (calibrated)
        EXPECT_GT(m.smooth[c], 0.0f);
      else
        EXPECT_EQ(m.smooth[c], 1.0f);
    }
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float s1;
        int s2, q;
        dgqParts(m.rows.data(), cols, group, r, c, s1, s2, q);
        ASSERT_GE(s2, 1);
        ASSERT_LE(s2, 127);
        ASSERT_GE(q, -8);
        ASSERT_LE(q, 7);
        float s = s1 * float(s2);
        float smoothed = w[r * cols + c] / m.smooth[c];
        float got = dgqValue(m.rows.data(), cols, group, r, c);
        EXPECT_FLOAT_EQ(got, s * float(q));
        float lo = -8 * s, hi = 7 * s;
        float want = std::clamp(smoothed, lo, hi);
        EXPECT_LE(std::fabs(got - want), s / 2 * (1 + 1e-5f))
            << "r " << r << " c " << c << (calibrated ? " calibrated" : "");
      }
  }
}

TEST(Quantize, DGQTwoLevelScalesTrackTheGroups) {
  // Two groups whose magnitudes differ 10x: the integer group scales
  // differ by about 10x too (the channel scale is shared).
  const int64_t cols = 64, group = 32;
  std::vector<float> w(cols);
  for (int64_t c = 0; c < cols; ++c)
    w[c] = (c < 32 ? 1.0f : 0.1f) * ((c % 3) - 1.0f) * (1 + c % 5) / 5.0f;
  DGQMatrix m = quantizeDGQ(w.data(), 1, cols, group);
  float s1;
  int big, small, q;
  dgqParts(m.rows.data(), cols, group, 0, 0, s1, big, q);
  dgqParts(m.rows.data(), cols, group, 0, 40, s1, small, q);
  EXPECT_GT(big, 8 * small);
  EXPECT_LT(big, 12 * small + 12);
}
