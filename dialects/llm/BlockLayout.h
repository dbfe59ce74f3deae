//===- BlockLayout.h - GGUF blocks interleaved by 8 rows ---------*- C++ -*-===//
//
// The layout names a weight table records ("rows8", "rows64"), and for
// Q4_K / Q6_K the byte layout shared by the packer (tools/llmc, which writes it) and
// the CPU lowering (lowering/LLMToLinalg, which reads it) for GGUF Q4_K and
// Q6_K weights run as stored: the super-blocks of 256 weights of 8
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

/// Q4_K (144 bytes): f16 d, f16 dmin, 12 bytes of packed 6-bit sub-block
/// scales and mins, 128 bytes of nibbles (bytes 32p..32p+31: sub-block 2p
/// in the low nibbles, 2p+1 in the high ones).
inline constexpr Region kQ4K[] = {
    {0, 2, 2, 0}, {2, 2, 2, 16}, {4, 12, 1, 32}, {16, 128, 4, 128}};
inline constexpr int64_t kQ4KBytes = 144;

/// Q6_K (210 bytes): 128 bytes of low nibbles (ql), 64 bytes of high 2-bit
/// pairs (qh), 16 int8 scales (one per 16 weights), f16 d last.
inline constexpr Region kQ6K[] = {
    {208, 2, 2, 0}, {192, 16, 1, 16}, {0, 128, 4, 144}, {128, 64, 4, 1168}};
inline constexpr int64_t kQ6KBytes = 210;

/// Where byte `k` of row `r` (of 8) of a block lies in its unit.
template <int64_t N>
constexpr int64_t unitByte(const Region (&regions)[N], int64_t r, int64_t k) {
  for (const Region &g : regions)
    if (k >= g.rawStart && k < g.rawStart + g.length) {
      int64_t i = k - g.rawStart;
      return g.unitStart + 8 * g.width * (i / g.width) + g.width * r +
             i % g.width;
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
