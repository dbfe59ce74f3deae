//===- Quantize.h - weight quantization math --------------------*- C++ -*-===//
//
// What `llmc compile` runs while packing an `llm.quantize` weight, and what
// the backends' `llm.qlinear` kernels undo in registers. A [rows, cols]
// row-major matrix is quantized per row (one scale per output channel) or
// per group of `group` consecutive columns:
//
//   symmetric:  q = clamp(round(w / s), -Q, Q), s = absmax / Q,
//               Q = 2^(bits-1) - 1, w' = q * s          (q signed)
//   asymmetric: q = clamp(round((w - min) / s), 0, 2^bits - 1),
//               s = (max - min) / (2^bits - 1), z = -min / s,
//               w' = (q - z) * s                          (q unsigned)
//
// so |w - w'| <= s / 2 for every element (with the clipping search, for
// elements inside the clipped range; the group's squared error is never
// larger than without it). Storage: 8-bit values one per
// byte; 4-bit values two per byte, per block of B elements of a row (B =
// the group, or the row for per-channel scales): element j < B/2 of the
// block in the low nibble of the block's byte j, element j >= B/2 in the
// high nibble of byte j - B/2 (as GGUF q4_0 does), so that a kernel reads
// B/2 consecutive bytes and gets two runs of consecutive elements. Signed
// nibbles are two's complement.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_IMPORTERS_QUANTIZE_H
#define LLMC_IMPORTERS_QUANTIZE_H

#include <cstdint>
#include <optional>
#include <utility>
#include <string>
#include <vector>

namespace llmc {

struct QuantSpec {
  int bits = 8;       ///< 4 or 8
  int64_t group = 0;  ///< 0: one scale per row
  bool asymmetric = false;
  /// Per group, search the clipping of the range (scale factor 1.0, 0.95,
  /// ..., 0.5 of the max-abs / min-max scale) with the least squared
  /// error instead of always using the full range.
  bool clipSearch = false;
  /// Scales (and zero points) per row.
  int64_t groupsPerRow(int64_t cols) const { return group ? cols / group : 1; }
  /// Bytes of the packed integers of a [rows, cols] matrix.
  int64_t packedBytes(int64_t rows, int64_t cols) const {
    return rows * cols * bits / 8;
  }
};

struct QuantizedMatrix {
  std::vector<uint8_t> packed; ///< the integers, packed as described above
  std::vector<float> scales;   ///< [rows, groupsPerRow]
  std::vector<float> zeros;    ///< asymmetric only, like scales
};

/// Quantizes row-major `w` ([rows, cols]; `group` must divide `cols`; for
/// 4 bits the block size, group or cols, must be even).
QuantizedMatrix quantizeMatrix(const float *w, int64_t rows, int64_t cols,
                               const QuantSpec &spec);

/// Where 4-bit element (r, c) lives: its byte and whether it is the high
/// nibble.
std::pair<int64_t, bool> nibbleAt(const QuantSpec &spec, int64_t cols,
                                  int64_t r, int64_t c);

/// The integer stored for element (r, c): signed for symmetric schemes,
/// unsigned for asymmetric ones.
int32_t quantizedValue(const QuantizedMatrix &m, const QuantSpec &spec,
                       int64_t cols, int64_t r, int64_t c);

/// The dequantized value of element (r, c).
float dequantizedValue(const QuantizedMatrix &m, const QuantSpec &spec,
                       int64_t cols, int64_t r, int64_t c);

/// GGUF blocks of 32 weights, quantized as ggml's reference quantizers
/// (quantize_row_q8_0_ref / quantize_row_q4_0_ref) do:
///   q8_0: d = absmax / 127, q = round(w / d) (half away from zero), block =
///         f16 d, 32 x int8;
///   q4_0: m = the element of largest magnitude (signed), d = m / -8,
///         q = min(15, trunc(w / d + 8.5)), block = f16 d, 16 bytes (element
///         j < 16 in the low nibble of byte j, j >= 16 in the high nibble of
///         byte j - 16); w' = d * (q - 8).
/// The K-quants Q2_K .. Q6_K (super-blocks of 256, as llama.cpp writes
/// them) and Q5_0, Q5_1, IQ4_NL (8 blocks of 32 taken as one super-block,
/// BlockLayout.h) are only moved by interleaveBlockRows, never quantized or
/// read here.
enum class BlockFormat {
  Q8_0, Q4_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q5_0, Q5_1, IQ4_NL
};
/// Bytes of one block (of a super-block for the formats run as K-quants).
int64_t blockBytes(BlockFormat f);
/// Weights per block: 32 (q8_0, q4_0), or 256 for the others.
int64_t blockElements(BlockFormat f);
/// The format of a weight-table dtype ("q8_0", "q4_0", "q2_k" .. "q6_k",
/// "q5_0", "q5_1", "iq4_nl").
std::optional<BlockFormat> blockFormatNamed(const std::string &dtype);
/// `n` (a multiple of 32) row-major values as blocks.
std::vector<uint8_t> quantizeBlocks(const float *w, int64_t n, BlockFormat f);
/// Value `i` of the blocks `blocks` (d rounded to f16, as stored).
float blockValue(const uint8_t *blocks, BlockFormat f, int64_t i);

/// Rows of q8_0 / q4_0 blocks interleaved by 8 (what the CPU block kernel
/// reads): for each group of 8 rows and each block column, one unit of the
/// 8 rows' f16 scales (16 bytes) then their data as 4-byte chunks,
/// chunk-major: chunk c of row r (bytes 4c..4c+3 of the block's data) at
/// 16 + (8c + r) * 4. Units are ordered by tile of `tile` groups, then
/// block column, then group in the tile: layout "rows8" is tile 1, "rows64"
/// tile 8 (rows a multiple of 8 * tile). The same bytes as the row-major
/// blocks, moved: one 32-byte load brings the same 4 data bytes of 8 rows
/// (one dot-product lane per row), one 16-byte load the 8 rows' scales,
/// and a kernel tile of `tile` groups reads one contiguous stream. K-quant
/// super-blocks: as dialects/llm/BlockLayout.h describes.
std::vector<uint8_t> interleaveBlockRows(const uint8_t *blocks, int64_t rows,
                                         int64_t cols, BlockFormat f,
                                         int64_t tile = 1);
/// Value (r, c) of a [rows, cols] matrix stored as interleaveBlockRows'.
float interleavedBlockValue(const uint8_t *units, int64_t cols, BlockFormat f,
                            int64_t r, int64_t c, int64_t tile = 1);

/// GQSA with 50 % group sparsity on q4_0 blocks: each row of a [rows, cols]
/// matrix (cols a multiple of 64) keeps the cols / 64 blocks of 32 with the
/// largest saliency (the lower index on ties), stored in index order as
/// 20-byte entries: the block index (u16, little endian) then the q4_0
/// block. Pruned blocks are zero. Saliency: the sum of w^2 over the block,
/// each term times the column's E[x^2] when calibration statistics
/// `meanSquare` are given (the block's expected contribution to the output
/// energy, as Wanda-style pruning scores weights).
std::vector<uint8_t> quantizeSparseBlocks(const float *w, int64_t rows,
                                          int64_t cols,
                                          const float *meanSquare = nullptr);
/// Element (r, c) of such a matrix.
float sparseBlockValue(const uint8_t *entries, int64_t cols, int64_t r,
                       int64_t c);

/// DGQ A8W4 (Dual Grained Quantization) of a [rows, cols] matrix with
/// groups of `group` columns (a multiple of 32 dividing cols). Each row is
/// stored as dgqRowBytes(cols, group) bytes: its f32 channel scale s1, one
/// u8 group scale s2 in [1, 127] per group, then the int4 weights q in
/// [-8, 7] as nibbles q + 8 in blocks of 32 (element j < 16 of a block in
/// the low nibble of byte j, j >= 16 in the high nibble of byte j - 16).
/// The stored weight is s1 * s2 * q.
///
/// Calibration (optional, per column): `meanSquare` E[x^2] weights each
/// column's squared error (the expected output error of a weight error),
/// `range` (a high percentile of |x|) drives the percentile-clipping
/// smoothing: column j of the weight is multiplied by t_j = (range_j /
/// max_i |w_ij|)^alpha before quantizing and the activations by 1 / t_j at
/// run time (`smooth`; all ones without `range`), alpha in {0, 0.1, ...,
/// 0.5} chosen to minimize the estimated output error of weights and
/// per-token int8 activations together. Scales come from the two-phase
/// grid search: (1) per group the float scale S' = c * absmax / 7, c in
/// {1, 0.95, ..., 0.5}, with the least weighted squared error; (2) per row
/// s1 = f * max S' / 127, f in {1, 0.95, ..., 0.5}, s2 = clamp(round(S' /
/// s1), 1, 127), with q re-rounded for the effective scale s1 * s2, least
/// weighted error.
struct DGQMatrix {
  std::vector<uint8_t> rows;  ///< [rows, dgqRowBytes]
  std::vector<float> smooth;  ///< [cols]: activation multipliers 1 / t_j
};
int64_t dgqRowBytes(int64_t cols, int64_t group);
DGQMatrix quantizeDGQ(const float *w, int64_t rows, int64_t cols,
                      int64_t group, const float *meanSquare = nullptr,
                      const float *range = nullptr);
/// The stored (smoothed) weight s1 * s2 * q of element (r, c); the
/// effective weight is this times smooth[c].
float dgqValue(const uint8_t *rowBytes, int64_t cols, int64_t group,
               int64_t r, int64_t c);
/// Its parts: s1, s2 and q.
void dgqParts(const uint8_t *rowBytes, int64_t cols, int64_t group,
              int64_t r, int64_t c, float &s1, int &s2, int &q);

} // namespace llmc

#endif
