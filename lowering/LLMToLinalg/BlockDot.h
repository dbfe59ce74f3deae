//===- BlockDot.h - pieces shared by the block-quantized CPU kernels -*- C++ -*-===//
//
// Internal to lowering/LLMToLinalg: the q8_0 / q4_0 / GQSA (BlockDot.cpp),
// DGQ (DGQDot.cpp) and K-quant (KQuantDot.cpp) kernels build their
// loops, loads and byte dot products from these (BlockDotCommon.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_LOWERING_LLMTOLINALG_BLOCKDOT_H
#define LLMC_LOWERING_LLMTOLINALG_BLOCKDOT_H

#include "dialects/llm/BlockLayout.h"
#include "passes/Passes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include <initializer_list>

namespace mlir::llm::lowering::blockdot {

inline constexpr int64_t kBlock = 32; ///< activations per quantization block
inline constexpr int64_t kLanes = 8;  ///< i32 lanes of one block's dot product

VectorType vec(int64_t n, Type t);

/// A vector `t` read from `src` at `idx` (in bounds).
Value read(OpBuilder &b, Location l, VectorType t, Value src, ValueRange idx);
/// Marks a one-token kernel's loop over its weight stream for
/// `--llm-cpu-prefetch`: 2 KiB ahead (1.1B decode, same run: Q4_K_M +12 %,
/// Q4_0 +5 %; 1.1 KiB gained less, 2.5-3.4 KiB less still, prefetchnta lost
/// 30 %). Loops over several tokens are compute-bound: not marked.
void markForPrefetch(OpBuilder &b, Operation *loop);

/// The activation bytes x..x+3 of token `t` of `q`, repeated in all 8 lanes:
/// the signed side of one dot product over 8 interleaved rows.
Value broadcastWord(OpBuilder &b, Location l, Value q, Value t, Value x);

/// The 32 nibbles of the 16 bytes of `bytes` at `data` as unsigned bytes
/// (low halves, then high halves: q4_0's order).
Value unpackNibbles(OpBuilder &b, Location l, Value bytes, Value data);

/// Activations [Tp, in] quantized to 8 bits per block of 32 (scale max|x| /
/// 127, rounded to nearest even), as llama.cpp's q8_0 activation blocks.
struct QuantizedBlocks {
  Value q;          ///< [Tp, in] i8
  Value magnitudes; ///< [Tp, in] i8 |q| (withMagnitudes only)
  Value amax;       ///< [Tp, in / 32] f32 max |x| per block
};
QuantizedBlocks quantizeBlocks(OpBuilder &b, Location l, Value xp, int64_t in,
                               bool withMagnitudes);

/// [Tp, in / span] i32: `bias` times the sum of each `span` consecutive
/// values of the [Tp, in] i8 `q` (where a dot product with unsigned,
/// offset weights starts).
Value blockSums(OpBuilder &b, Location l, Value q, int64_t in, int64_t span,
                int64_t bias);

/// The first of `sizes` that divides `n`, else 1: a register tile size.
int64_t firstDivisor(int64_t n, std::initializer_list<int64_t> sizes);

/// The [Tp, out] f32 result of an scf.forall over tasks of up to 64 output
/// rows, each looping over tokens [0, Tp) in steps of `tokens` and its rows
/// in steps of `rows`: `body(b, l, col0, ts, r0, tile)` builds one register
/// tile (`col0` the task's first row, `ts` the tile's tokens, `r0` its first
/// row within the task) and returns `tile` with its results in.
Value forEachTile(OpBuilder &b, Location l, Value tp, int64_t out,
                  int64_t rows, int64_t tokens,
                  function_ref<Value(OpBuilder &, Location, Value,
                                     ArrayRef<Value>, Value, Value)>
                      body);

/// `tile` with the register tile's 8-lane results stored: `accs[g * T + t]`
/// (T = ts.size()) is rows r0 + 8g .. r0 + 8g + 7 of token ts[t].
Value storeGroups(OpBuilder &b, Location l, ValueRange accs,
                  ArrayRef<Value> ts, Value r0, Value tile);

/// Rows [0, Tp) of y = x w^T, Tp a multiple of `tokens`, for a GGUF K-quant
/// weight [out, in] of format `f` given as its bytes interleaved by 8 rows
/// (dialects/llm/BlockLayout.h, `tile` groups per tile), on 8-bit
/// activations (KQuantDot.cpp).
Value kquantKernel(OpBuilder &b, Location l, const llmc::kquant::Format &f,
                   int64_t in, int64_t out, int64_t tile, Value xp, Value bytes,
                   int64_t tokens);

/// Rows [0, Tp) of y = x w^T, Tp a multiple of `tokens`, for a DGQ A8W4
/// weight [out, in] given as its bytes, `inputScales` multiplying the input
/// features first (DGQDot.cpp).
Value dgqKernel(OpBuilder &b, Location l, Value xp, Value inputScales,
                Value bytes, int64_t in, int64_t out, int64_t group,
                int64_t tokens);

} // namespace mlir::llm::lowering::blockdot

#endif // LLMC_LOWERING_LLMTOLINALG_BLOCKDOT_H
