//===- BlockLayout.h - GGUF blocks interleaved by 8 rows ---------*- C++ -*-===//
//
// The layout names a weight table records ("rows8", "rows64"), and for
// the K-quants (Q2_K .. Q6_K; also Q5_0, Q5_1, IQ4_NL, 8 blocks of 32 taken
// as one super-block) the byte layout shared by the packer
// (tools/llmc, which writes it) and the CPU lowering (lowering/LLMToLinalg,
// which reads it) for GGUF K-quant weights run as stored: the super-blocks of 256 weights of 8
// consecutive rows are interleaved so that one 32-byte load brings the same
// 4 quant bytes of the 8 rows (one dot-product lane per row), and one
// 8-byte load the same scale byte of the 8 rows.
//
// A block as ggml stores it (ggml-common.h) is a list of regions; in the
// interleaved unit of 8 blocks, region by region, the bytes of the 8 rows
// are interleaved in chunks of `width` bytes: chunk c of row r at
//
//   unitStart + 8 * width * c + width * r
//
// (width 2 for the f16 scales, 1 for the 6-/8-bit sub-block scales, 4 for
// the quants). Units are ordered as the q4_0 ones (llmc::interleaveBlockRows):
// by tile of `tile` groups of 8 rows, then super-block column, then group in
// the tile. The same bytes as stored, moved.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_BLOCKLAYOUT_H
#define LLMC_DIALECTS_LLM_BLOCKLAYOUT_H

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llmc {

/// The layout of tiles of `tile` groups of 8 rows (q8_0 / q4_0: see
/// llmc::interleaveBlockRows): "rows8" (tile 1) or "rows64" (tile 8).
constexpr std::string_view blockLayoutName(int64_t tile) {
  return tile == 8 ? "rows64" : "rows8";
}
/// The tile of a layout name, 0 for an unknown one.
constexpr int64_t blockLayoutTile(std::string_view layout) {
  return layout == "rows8" ? 1 : layout == "rows64" ? 8 : 0;
}

} // namespace llmc

namespace llmc::kquant {

/// Weights per super-block.
inline constexpr int64_t kSuperBlock = 256;

struct Region {
  int64_t rawStart;  ///< first byte in ggml's block
  int64_t length;    ///< bytes per block
  int64_t width;     ///< bytes of one row per interleaved chunk
  int64_t unitStart; ///< first byte in the unit of 8 blocks
};

/// Q2_K (84 bytes): 16 scale bytes (low nibble the scale, high nibble the
/// min of each 16 weights), 64 bytes of 2-bit quants (bytes 32n..32n+31:
/// block of 32 number 4n + k in bits 2k, 2k+1), f16 d, f16 dmin.
inline constexpr Region kQ2K[] = {
    {80, 2, 2, 0}, {82, 2, 2, 16}, {0, 16, 1, 32}, {16, 64, 4, 160}};
inline constexpr int64_t kQ2KBytes = 84;

/// Q3_K (110 bytes): 32 bytes of high bits (hmask: bit j of byte l for
/// weight l of block of 32 number j), 64 bytes of low 2-bit pairs (as
/// Q2_K's), 12 bytes of packed 6-bit scales (one per 16 weights, offset by
/// 32), f16 d last.
inline constexpr Region kQ3K[] = {
    {108, 2, 2, 0}, {96, 12, 1, 16}, {0, 32, 4, 112}, {32, 64, 4, 368}};
inline constexpr int64_t kQ3KBytes = 110;

/// Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of packed 6-bit sub-block
/// scales and mins, 128 bytes of nibbles (bytes 32p..32p+31: sub-block 2p
/// in the low nibbles, 2p + 1 in the high ones).
inline constexpr Region kQ4K[] = {
    {0, 2, 2, 0}, {2, 2, 2, 16}, {4, 12, 1, 32}, {16, 128, 4, 128}};
inline constexpr int64_t kQ4KBytes = 144;

/// Q5_K (176 bytes): Q4_K's d, dmin, scales and nibbles, with 32 bytes of
/// fifth bits (qh: bit j of byte l for weight l of sub-block j) before the
/// nibbles.
inline constexpr Region kQ5K[] = {{0, 2, 2, 0},
                                  {2, 2, 2, 16},
                                  {4, 12, 1, 32},
                                  {16, 32, 4, 128},
                                  {48, 128, 4, 384}};
inline constexpr int64_t kQ5KBytes = 176;

/// Q6_K (210 bytes): 128 bytes of low nibbles (ql), 64 bytes of high 2-bit
/// pairs (qh), 16 int8 scales (one per 16 weights), f16 d last.
inline constexpr Region kQ6K[] = {
    {208, 2, 2, 0}, {192, 16, 1, 16}, {0, 128, 4, 144}, {128, 64, 4, 1168}};
inline constexpr int64_t kQ6KBytes = 210;

/// ggml's other formats of blocks of 32 (Q5_0, Q5_1, IQ4_NL) run as the
/// K-quants do, 8 consecutive blocks of a row (256 weights, contiguous as
/// stored) taken as one super-block. A region of such a block of 32 is
/// given once, its `unitStart` the first byte of that region's bytes for
/// all 8 blocks; region k of block j then lies at
///
///   rawStart = j * blockBytes + k.rawStart,
///   unitStart = k.unitStart + j * 8 * k.length
///
/// (blocksOf32 writes the 8 regions per kind out for the interleaver).
inline constexpr int64_t kBlocksPerSuperBlock = 8;

/// Q5_0 (22 bytes): f16 d, 4 bytes of fifth bits (qh, a little-endian u32:
/// bit e for weight e), 16 bytes of nibbles (weight e < 16 the low nibble
/// of byte e, e >= 16 the high nibble of byte e - 16). w = d (q - 16).
inline constexpr Region kQ5_0Block[] = {
    {0, 2, 2, 0}, {2, 4, 4, 128}, {6, 16, 4, 384}};
/// Q5_1 (24 bytes): f16 d, f16 m, qh and nibbles as Q5_0. w = d q + m.
inline constexpr Region kQ5_1Block[] = {
    {0, 2, 2, 0}, {2, 2, 2, 128}, {4, 4, 4, 256}, {8, 16, 4, 512}};
/// IQ4_NL (18 bytes): f16 d, 16 bytes of nibbles (Q4_0's order), each an
/// index into kIQ4NLValues. w = d kIQ4NLValues[q].
inline constexpr Region kIQ4NLBlock[] = {{0, 2, 2, 0}, {2, 16, 4, 128}};
/// kvalues_iq4nl of ggml-common.h.
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35,
                                            -22,  -10,  1,   13,  25,  38,
                                            53,   69,   89,  113};

/// Where region `kind` (of Format::block32) of block of 32 number `j`
/// starts in a unit.
constexpr int64_t block32UnitStart(const Region &kind, int64_t j) {
  return kind.unitStart + j * 8 * kind.length;
}

/// The regions of 8 blocks of 32 in unit order (block by block).
template <size_t K>
constexpr std::array<Region, K * kBlocksPerSuperBlock>
blocksOf32(const Region (&kinds)[K], int64_t blockBytes) {
  std::array<Region, K * kBlocksPerSuperBlock> out{};
  for (size_t j = 0; j < size_t(kBlocksPerSuperBlock); ++j)
    for (size_t k = 0; k < K; ++k)
      out[j * K + k] = {int64_t(j) * blockBytes + kinds[k].rawStart,
                        kinds[k].length, kinds[k].width,
                        block32UnitStart(kinds[k], int64_t(j))};
  return out;
}
inline constexpr auto kQ5_0 = blocksOf32(kQ5_0Block, 22);
inline constexpr auto kQ5_1 = blocksOf32(kQ5_1Block, 24);
inline constexpr auto kIQ4NL = blocksOf32(kIQ4NLBlock, 18);

/// A format run as stored: its weight-table dtype, bytes per super-block
/// and regions (in unit order); for the formats of blocks of 32, the
/// regions of one block (see kBlocksPerSuperBlock).
struct Format {
  std::string_view dtype;
  int64_t bytes;
  const Region *regions;
  int64_t numRegions;
  const Region *block32 = nullptr;
  int64_t numBlock32 = 0;
};
inline constexpr Format kQ2KFormat{"q2_k", kQ2KBytes, kQ2K, 4};
inline constexpr Format kQ3KFormat{"q3_k", kQ3KBytes, kQ3K, 4};
inline constexpr Format kQ4KFormat{"q4_k", kQ4KBytes, kQ4K, 4};
inline constexpr Format kQ5KFormat{"q5_k", kQ5KBytes, kQ5K, 5};
inline constexpr Format kQ6KFormat{"q6_k", kQ6KBytes, kQ6K, 4};
inline constexpr Format kQ5_0Format{"q5_0", 8 * 22, kQ5_0.data(),
                                    int64_t(kQ5_0.size()), kQ5_0Block, 3};
inline constexpr Format kQ5_1Format{"q5_1", 8 * 24, kQ5_1.data(),
                                    int64_t(kQ5_1.size()), kQ5_1Block, 4};
inline constexpr Format kIQ4NLFormat{"iq4_nl", 8 * 18, kIQ4NL.data(),
                                     int64_t(kIQ4NL.size()), kIQ4NLBlock, 2};
inline constexpr const Format *kFormats[] = {
    &kQ2KFormat,  &kQ3KFormat,  &kQ4KFormat,  &kQ5KFormat,
    &kQ6KFormat,  &kQ5_0Format, &kQ5_1Format, &kIQ4NLFormat};

/// The K-quant format of a weight-table dtype, null for other dtypes.
constexpr const Format *formatNamed(std::string_view dtype) {
  for (const Format *f : kFormats)
    if (f->dtype == dtype)
      return f;
  return nullptr;
}

/// Where byte `k` of row `r` (of 8) of a block lies in its unit.
constexpr int64_t unitByte(const Format &f, int64_t r, int64_t k) {
  for (int64_t n = 0; n < f.numRegions; ++n) {
    const Region &g = f.regions[n];
    if (k >= g.rawStart && k < g.rawStart + g.length) {
      int64_t i = k - g.rawStart;
      return g.unitStart + 8 * g.width * (i / g.width) + g.width * r +
             i % g.width;
    }
  }
  return -1;
}

/// Byte offset of the unit of row group `g` (8 rows), super-block column
/// `b`, for `perRow` super-blocks per row and units of 8 blocks of
/// `blockBytes`.
constexpr int64_t unitOffset(int64_t g, int64_t b, int64_t perRow,
                             int64_t blockBytes, int64_t tile) {
  return (((g / tile) * perRow + b) * tile + g % tile) * 8 * blockBytes;
}

} // namespace llmc::kquant

#endif // LLMC_DIALECTS_LLM_BLOCKLAYOUT_H
