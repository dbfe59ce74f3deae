//===- BlockDot.cpp - q8_0 / q4_0 linears on 8-bit activations ------------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp). DGQ A8W4 is DGQDot.cpp,
// GGUF K-quants KQuantDot.cpp; both share the pieces in BlockDot.h.
//
// A GGUF q8_0 / q4_0 weight is a sequence of blocks of 32 weights, each an
// f16 scale followed by 32 signed bytes (q8_0) or 16 bytes of unsigned
// nibbles (q4_0: weight j is nibble j of the low halves then the high
// halves, minus 8). The linear runs on those bytes as stored, as llama.cpp
// does: the activations are quantized to 8 bits per block of 32 (scale
// max|x| / 127, round to nearest even), each block's dot product is an
// integer sum of byte products, and only the sum is scaled to float
// (weight scale * activation scale) and accumulated.
//
// Linalg cannot express that two-level reduction (integers within a block,
// floats across blocks) in one contraction, and splitting it in two would
// materialize a partial sum per block and output. So the contraction is
// emitted as a small kernel at the tensor level instead: an scf.forall
// over output-row tasks, register tiles of 4 rows x (1 or 4) tokens, a
// loop over blocks carrying 8-lane f32 accumulators, and the byte dot
// products as 8-lane i32 vectors in portable vector code, which
// `--llm-cpu-vnni` turns into AVX-VNNI / AVX512-VNNI `vpdpbusd` on targets
// that have it. No dequantized copy of the weights exists anywhere.
//
// vpdpbusd multiplies unsigned by signed bytes. q4_0: the nibbles are the
// unsigned side, the activations the signed one, and the -8 offset is
// folded into the accumulator's start (-8 * the activations' sums of 4,
// computed once per token). q8_0: |x| is the unsigned side and the weight
// takes x's sign (x * w = |x| * (sign(x) w)).
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/BlockLayout.h"
#include "lowering/LLMToLinalg/BlockDot.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

using namespace mlir::llm::lowering::blockdot;

namespace {
struct Kernel {

  bool q4;      ///< q4_0 (else q8_0)
  bool sparse;  ///< GQSA: half of each row's q4_0 blocks, with indices
  int64_t tile; ///< groups of 8 rows per interleaved tile (0: row-major)
  int64_t in, out, blockBytes;

  int64_t blocks() const { return in / kBlock; }
  /// Blocks stored per row.
  int64_t stored() const { return sparse ? blocks() / 2 : blocks(); }
};

/// The f16 scale at byte `at` of the weight bytes, as f32.
Value scaleAt(OpBuilder &b, Location l, Value bytes, Value at) {
  Value two = read(b, l, vec(2, b.getI8Type()), bytes, at);
  Value h = vector::BitCastOp::create(b, l, vec(1, b.getF16Type()), two);
  Value s = vector::ExtractOp::create(b, l, h, ArrayRef<int64_t>{0});
  return arith::ExtFOp::create(b, l, b.getF32Type(), s);
}

/// The 32 weights of the block starting at byte `at`: q4_0 nibbles as
/// unsigned bytes (low halves, then high halves), q8_0 bytes as stored.
Value blockWeights(OpBuilder &b, Location l, const Kernel &k, Value bytes,
                   Value at) {
  Value data = arith::AddIOp::create(b, l, at, iconst(b, l, 2));
  if (!k.q4)
    return read(b, l, vec(kBlock, b.getI8Type()), bytes, data);
  return unpackNibbles(b, l, bytes, data);
}

/// Activations quantized per block: `q` [Tp, in] i8 (q4_0 and rows8: x,
/// q8_0: |x|), `sign` [Tp, in] i8 (row-major q8_0: x itself, for the
/// weights' sign), `start` [Tp, in / 4] i32 (row-major q4_0: -8 * sums of
/// 4; rows8: [Tp, in / 32], -8 or -128 * block sums), `amax` [Tp, in / 32]
/// f32.
struct Activations {
  Value q, sign, start, amax;
};

Activations quantizeActivations(OpBuilder &b, Location l, const Kernel &k,
                                Value xp) {
  bool signedOnly = k.q4 || k.tile;
  QuantizedBlocks qb = quantizeBlocks(b, l, xp, k.in, !signedOnly);
  Activations a;
  a.amax = qb.amax;
  if (k.tile) {
    // Where each block's dot products start: the weights are read as
    // unsigned bytes, q4_0 nibbles (w + 8) and q8_0 bytes xor 0x80
    // (w + 128), so -8 (-128) times the block's activation sum.
    a.q = qb.q;
    a.start = blockSums(b, l, qb.q, k.in, kBlock, k.q4 ? -8 : -128);
  } else if (k.q4) {
    // -8 * (sum of each 4 activations): where a q4_0 block's dot starts.
    a.q = qb.q;
    a.start = blockSums(b, l, qb.q, k.in, 4, -8);
  } else {
    a.sign = qb.q;
    a.q = qb.magnitudes;
  }
  return a;
}

/// Rows [0, Tp) of y = x w^T for Tp (a multiple of `tokens`) padded
/// activation rows: the kernel described at the top of the file.
Value blockKernel(OpBuilder &b, Location l, const Kernel &k,
                  const Activations &a, Value bytes, int64_t tokens) {
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  Value tp = tensor::DimOp::create(b, l, a.q, 0);
  // Register tile: `rows` x `tokens` accumulators, 16 x 1 or 4 x 4 (more
  // rows share each activation load; 32 x 1 spills on AVX-512, and 16 x 1
  // decodes the 110M shape 1.3x faster than 8 x 1).
  int64_t rows =
      k.sparse ? 1 : firstDivisor(k.out, {tokens == 1 ? 16 : 4, 8, 4, 2});
  return forEachTile(
      b, l, tp, k.out, rows, tokens,
      [&](OpBuilder &b, Location l, Value col0, ArrayRef<Value> ts, Value r0,
          Value tile) -> Value {
  Value zeroIdx = iconst(b, l, 0), one = iconst(b, l, 1);
  VectorType accType = vec(kLanes, f32);
  Value invMax = fconst(b, l, f32, 1.0 / 127.0);
  Value zeroAcc = arith::ConstantOp::create(
      b, l, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
  SmallVector<Value> inits(rows * tokens, zeroAcc);
  Value row0 = arith::AddIOp::create(b, l, col0, r0);
  // Dense: loop over every block g of the row. GQSA: over the
  // row's stored blocks; rows share no index, so each row
  // reads its own activations (one row per register tile).
  auto blockLoop = scf::ForOp::create(
      b, l, zeroIdx, iconst(b, l, k.stored()), one, inits,
      [&](OpBuilder &b, Location l, Value kb, ValueRange accs) {
        Value g = kb;
        Value entry0; // GQSA: byte offset of the entry
        if (k.sparse) {
          entry0 = arith::MulIOp::create(
              b, l,
              arith::AddIOp::create(
                  b, l,
                  arith::MulIOp::create(b, l, row0,
                                        iconst(b, l, k.stored())),
                  kb),
              iconst(b, l, k.blockBytes));
          Value two = read(b, l, vec(2, i8), bytes, entry0);
          Value idx = vector::ExtractOp::create(
              b, l,
              vector::BitCastOp::create(
                  b, l, vec(1, b.getI16Type()), two),
              ArrayRef<int64_t>{0});
          g = arith::IndexCastUIOp::create(
              b, l, b.getIndexType(), idx);
        }
        Value x0 = arith::MulIOp::create(b, l, g, iconst(b, l, kBlock));
        SmallVector<Value> xq, xs, start, sx;
        for (int64_t t = 0; t < tokens; ++t) {
          Value ti = ts[t];
          xq.push_back(read(b, l, vec(kBlock, i8), a.q, {ti, x0}));
          if (k.q4)
            start.push_back(read(
                b, l, vec(kLanes, i32), a.start,
                {ti, arith::MulIOp::create(b, l, g,
                                           iconst(b, l, kLanes))}));
          else
            xs.push_back(read(b, l, vec(kBlock, i8), a.sign, {ti, x0}));
          Value m = tensor::ExtractOp::create(b, l, a.amax,
                                              ValueRange{ti, g});
          sx.push_back(arith::MulFOp::create(b, l, m, invMax));
        }
        Value zero8 = arith::ConstantOp::create(
            b, l, DenseElementsAttr::get(vec(kBlock, i8),
                                         b.getIntegerAttr(i8, 0)));
        Value zero32 = arith::ConstantOp::create(
            b, l, DenseElementsAttr::get(vec(kLanes, i32),
                                         b.getI32IntegerAttr(0)));
        SmallVector<Value> next;
        for (int64_t r = 0; r < rows; ++r) {
          Value row = arith::AddIOp::create(b, l, row0, iconst(b, l, r));
          Value at;
          if (k.sparse) {
            // The q4_0 block after the 2-byte index.
            at = arith::AddIOp::create(b, l, entry0,
                                       iconst(b, l, 2));
          } else {
            Value blk = arith::AddIOp::create(
                b, l,
                arith::MulIOp::create(b, l, row,
                                      iconst(b, l, k.blocks())),
                g);
            at = arith::MulIOp::create(b, l, blk,
                                       iconst(b, l, k.blockBytes));
          }
          Value sw = scaleAt(b, l, bytes, at);
          Value w = blockWeights(b, l, k, bytes, at);
          for (int64_t t = 0; t < tokens; ++t) {
            Value d;
            if (k.q4) {
              d = llm::buildByteDot(b, l, start[t], w, xq[t]);
            } else {
              Value neg = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::slt, xs[t], zero8);
              Value sw8 = arith::SelectOp::create(
                  b, l, neg, arith::SubIOp::create(b, l, zero8, w), w);
              d = llm::buildByteDot(b, l, zero32, xq[t], sw8);
            }
            Value df = arith::SIToFPOp::create(b, l, accType, d);
            Value s = vector::BroadcastOp::create(
                b, l, accType, arith::MulFOp::create(b, l, sw, sx[t]));
            next.push_back(vector::FMAOp::create(
                b, l, df, s, accs[r * tokens + t]));
          }
        }
        scf::YieldOp::create(b, l, next);
      });
  Value out = tile;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < tokens; ++t) {
      Value sum = vector::ReductionOp::create(
          b, l, vector::CombiningKind::ADD,
          blockLoop.getResult(r * tokens + t));
      out = tensor::InsertOp::create(
          b, l, sum, out,
          ValueRange{ts[t],
                     arith::AddIOp::create(b, l, r0, iconst(b, l, r))});
    }
  return out;
  });
}

/// Rows [0, Tp) of y = x w^T over blocks interleaved by 8 rows (see
/// llmc::interleaveBlockRows): lane r of every vector is row r of a group
/// of 8. Per group and block, one 16-byte load gives the 8 rows' scales and
/// 32-byte loads give 4 data bytes of each row: q4_0 4 loads whose low and
/// high nibbles are 8 dot products, q8_0 8 loads. Each dot product takes
/// its activation word broadcast to the 8 lanes, so a block's 8 dot
/// products leave each row's whole integer sum in its own lane: no
/// horizontal reduction, one float conversion and fma per 8 rows and block,
/// and the 8 results are one vector store.
Value interleavedKernel(OpBuilder &b, Location l, const Kernel &k,
                        const Activations &a, Value bytes, int64_t tokens) {
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  Value tp = tensor::DimOp::create(b, l, a.q, 0);
  int64_t G = k.blocks(), data = k.blockBytes - 2;
  int64_t unitBytes = 8 * k.blockBytes; // 8 scales then 8 rows' data
  // Register tile: `groups` groups of 8 rows x `tokens` tokens.
  int64_t groups = firstDivisor(k.out / 8, {tokens == 1 ? 8 : 2, 4, 2});
  int64_t rows = 8 * groups;
  return forEachTile(
      b, l, tp, k.out, rows, tokens,
      [&](OpBuilder &b, Location l, Value col0, ArrayRef<Value> ts, Value r0,
          Value tile) -> Value {
  Value zeroIdx = iconst(b, l, 0), one = iconst(b, l, 1);
  VectorType accType = vec(kLanes, f32), dotType = vec(kLanes, i32);
  VectorType bytesType = vec(kBlock, i8);
  Value invMax = fconst(b, l, f32, 1.0 / 127.0);
  auto splat8 = [&](int64_t v) {
    return arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(bytesType, b.getIntegerAttr(i8, v)));
  };
  Value low = splat8(15), shift = splat8(4), flip = splat8(-128);
  Value zeroDot = arith::ConstantOp::create(
      b, l, DenseElementsAttr::get(dotType, b.getI32IntegerAttr(0)));
  Value zeroAcc = arith::ConstantOp::create(
      b, l, DenseElementsAttr::get(accType, b.getF32FloatAttr(0)));
  SmallVector<Value> inits(groups * tokens, zeroAcc);
  // First byte of the tile's first group's units.
  Value group0 = arith::DivUIOp::create(
      b, l, arith::AddIOp::create(b, l, col0, r0), iconst(b, l, 8));
  auto blockLoop = scf::ForOp::create(
      b, l, zeroIdx, iconst(b, l, G), one, inits,
      [&](OpBuilder &b, Location l, Value g, ValueRange accs) {
        Value x0 = arith::MulIOp::create(b, l, g, iconst(b, l, kBlock));
        // Per token: the block's 8 activation words, where its
        // dot products start, and its scale.
        SmallVector<SmallVector<Value>> xw(tokens);
        SmallVector<Value> start, sx;
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t j = 0; j < kBlock / 4; ++j)
            xw[t].push_back(broadcastWord(
                b, l, a.q, ts[t],
                arith::AddIOp::create(b, l, x0, iconst(b, l, 4 * j))));
          start.push_back(vector::BroadcastOp::create(
              b, l, dotType,
              tensor::ExtractOp::create(b, l, a.start,
                                        ValueRange{ts[t], g})));
          sx.push_back(vector::BroadcastOp::create(
              b, l, accType,
              arith::MulFOp::create(
                  b, l,
                  tensor::ExtractOp::create(b, l, a.amax,
                                            ValueRange{ts[t], g}),
                  invMax)));
        }
        SmallVector<Value> next;
        for (int64_t gi = 0; gi < groups; ++gi) {
          // Units ordered by tile of k.tile groups, block,
          // group in the tile (llmc::interleaveBlockRows).
          Value gr = arith::AddIOp::create(b, l, group0,
                                           iconst(b, l, gi));
          Value tileIdx = arith::DivUIOp::create(
              b, l, gr, iconst(b, l, k.tile));
          Value inTile = arith::RemUIOp::create(
              b, l, gr, iconst(b, l, k.tile));
          Value unit = arith::MulIOp::create(
              b, l,
              arith::AddIOp::create(
                  b, l,
                  arith::MulIOp::create(
                      b, l,
                      arith::AddIOp::create(
                          b, l,
                          arith::MulIOp::create(b, l, tileIdx,
                                                iconst(b, l, G)),
                          g),
                      iconst(b, l, k.tile)),
                  inTile),
              iconst(b, l, unitBytes));
          Value sw = arith::ExtFOp::create(
              b, l, accType,
              vector::BitCastOp::create(
                  b, l, vec(kLanes, b.getF16Type()),
                  read(b, l, vec(2 * kLanes, i8), bytes, unit))
                  .getResult());
          // The 8 unsigned weight operands, w[j] pairing with
          // activation word j.
          SmallVector<Value> w(kBlock / 4);
          for (int64_t c = 0; c < data / 4; ++c) {
            Value v = read(
                b, l, bytesType, bytes,
                {arith::AddIOp::create(b, l, unit,
                                       iconst(b, l, 16 + 32 * c))
                     .getResult()});
            if (k.q4) {
              w[c] = arith::AndIOp::create(b, l, v, low);
              w[c + 4] = arith::ShRUIOp::create(b, l, v, shift);
            } else {
              w[c] = arith::XOrIOp::create(b, l, v, flip);
            }
          }
          for (int64_t t = 0; t < tokens; ++t) {
            // Two independent chains of 4 dot products.
            Value d0 = start[t], d1 = zeroDot;
            for (int64_t j = 0; j < kBlock / 4; j += 2) {
              d0 = llm::buildByteDot(b, l, d0, w[j], xw[t][j]);
              d1 = llm::buildByteDot(b, l, d1, w[j + 1], xw[t][j + 1]);
            }
            Value d = arith::AddIOp::create(b, l, d0, d1);
            Value df = arith::SIToFPOp::create(b, l, accType, d);
            Value s = arith::MulFOp::create(b, l, sw, sx[t]);
            next.push_back(vector::FMAOp::create(
                b, l, df, s, accs[gi * tokens + t]));
          }
        }
        scf::YieldOp::create(b, l, next);
      });
  if (tokens == 1)
    markForPrefetch(b, blockLoop);
  return storeGroups(b, l, blockLoop.getResults(), ts, r0, tile);
  });
}

} // namespace

static bool isKQuant(QuantScheme s) { return kquantFormat(s) != nullptr; }

/// Whether the K-quant kernel can run `q` (given its weight's layout).
static bool isKQuantLinear(QLinearOp q) {
  auto in = q.getInput().getType();
  auto w = cast<RankedTensorType>(q.getWeight().getType());
  return isKQuant(q.getQuant().getScheme()) && in.getRank() == 2 &&
         !in.isDynamicDim(1) && in.getElementType().isF32() &&
         q.getResult().getType().getElementType().isF32() &&
         w.getRank() == 2 && w.hasStaticShape() &&
         w.getDimSize(1) % llmc::kquant::kSuperBlock == 0 &&
         w.getDimSize(0) % 8 == 0;
}

/// Whether every reader of the stacked [experts, rows, cols] `weight` is
/// llm.moe's per-expert kernels (MoE.cpp), each expert's rows a matrix of
/// its own, or a byte cast already made interleaved.
static bool readOnlyAsExperts(Value weight) {
  return llvm::all_of(weight.getUsers(), [&](Operation *u) {
    if (auto moe = dyn_cast<MoEOp>(u))
      return moe.getInput() != weight && moe.getRouter() != weight;
    return isa<UnrealizedConversionCastOp>(u) && u->hasAttr(kBlockLayoutAttr);
  });
}

int64_t mlir::llm::lowering::stackedExpertTile(Value weight, QuantAttr q) {
  if (kquantFormat(q.getScheme()))
    return kquantTile(weight);
  auto w = dyn_cast<RankedTensorType>(weight.getType());
  bool interleavable = q.getScheme() == QuantScheme::gguf_q8_0 ||
                       q.getScheme() == QuantScheme::gguf_q4_0;
  return interleavable && w && w.getRank() == 3 && w.hasStaticShape() &&
                 w.getDimSize(1) % 8 == 0 && w.getDimSize(2) % kBlock == 0 &&
                 readOnlyAsExperts(weight)
             ? 1
             : 0;
}

int64_t mlir::llm::lowering::kquantTile(Value weight) {
  auto w = dyn_cast<RankedTensorType>(weight.getType());
  if (!w || w.getRank() < 2 || w.getRank() > 3 || !w.hasStaticShape() ||
      w.getDimSize(w.getRank() - 2) % 8 ||
      w.getDimSize(w.getRank() - 1) % llmc::kquant::kSuperBlock)
    return 0;
  if (w.getRank() == 3)
    return readOnlyAsExperts(weight) ? 1 : 0;
  // Every reader must read the interleaved units: the K-quant kernel, an
  // embedding gather (it decodes the rows it looks up from either layout,
  // blockElementAt), or a byte cast already made so.
  bool all = llvm::all_of(weight.getUsers(), [&](Operation *u) {
    if (auto q = dyn_cast<QLinearOp>(u))
      return q.getWeight() == weight && q.getInput() != weight &&
             isKQuantLinear(q);
    if (auto d = dyn_cast<DequantizeOp>(u))
      return d.getResult().getType().getElementType().isF32() &&
             llvm::all_of(d->getUsers(),
                          [](Operation *e) { return isa<EmbeddingOp>(e); });
    return isa<UnrealizedConversionCastOp>(u) && u->hasAttr(kBlockLayoutAttr);
  });
  if (!all)
    return 0;
  // "rows8": the kernel runs one group of 8 rows through all its
  // super-blocks, so with each group's units together a task reads one
  // sequential stream. "rows64" puts 8 groups' units per super-block column
  // together: the same kernel then steps 8 units (9-13 KB, a new page) per
  // super-block, which the hardware prefetchers follow worse (1.1B Q4_K_M
  // decode: rows8 +7 %, same run).
  return 1;
}

bool mlir::llm::lowering::isBlockDotLinear(QLinearOp op) {
  QuantScheme s = op.getQuant().getScheme();
  if (isKQuant(s))
    return isKQuantLinear(op) && kquantTile(op.getWeight()) != 0;
  auto in = op.getInput().getType();
  int64_t unit = s == QuantScheme::gqsa_q4_0_s50 ? 2 * kBlock
                 : s == QuantScheme::dgq_a8w4    ? op.getQuant().getGroup()
                                                 : kBlock;
  if (s == QuantScheme::dgq_a8w4 &&
      (!op.getScales() || in.getRank() != 2 || in.isDynamicDim(1) ||
       in.getDimSize(1) > 16384))
    return false;
  return (s == QuantScheme::gguf_q8_0 || s == QuantScheme::gguf_q4_0 ||
          s == QuantScheme::gqsa_q4_0_s50 || s == QuantScheme::dgq_a8w4) &&
         in.getRank() == 2 && !in.isDynamicDim(1) &&
         in.getDimSize(1) % unit == 0 && in.getElementType().isF32() &&
         op.getResult().getType().getElementType().isF32();
}

int64_t mlir::llm::lowering::interleaveTile(QLinearOp op) {
  if (isKQuant(op.getQuant().getScheme()))
    return kquantTile(op.getWeight());
  auto interleavable = [](QLinearOp q) {
    QuantScheme s = q.getQuant().getScheme();
    auto w = cast<RankedTensorType>(q.getWeight().getType());
    return (s == QuantScheme::gguf_q8_0 || s == QuantScheme::gguf_q4_0) &&
           isBlockDotLinear(q) && w.getRank() == 2 &&
           w.getDimSize(0) % 8 == 0;
  };
  // Every reader of the weight must read it so (an embedding gather of a
  // tied table reads rows as stored).
  bool all = interleavable(op) &&
             llvm::all_of(op.getWeight().getUsers(), [&](Operation *u) {
               if (auto q = dyn_cast<QLinearOp>(u))
                 return q.getInput() != op.getWeight() && interleavable(q);
               return isa<UnrealizedConversionCastOp>(u) &&
                      u->hasAttr(kBlockLayoutAttr);
             });
  if (!all)
    return 0;
  return cast<RankedTensorType>(op.getWeight().getType()).getDimSize(0) % 64
             ? 1
             : 8;
}

Value mlir::llm::lowering::buildBlockDotLinear(OpBuilder &b, Location loc,
                                               Value x, Value bytes,
                                               QuantAttr quant, int64_t out,
                                               Value inputScales, int64_t tile) {
  QuantScheme scheme = quant.getScheme();
  auto xType = cast<RankedTensorType>(x.getType());
  bool sparse = scheme == QuantScheme::gqsa_q4_0_s50;
  Kernel k{scheme == QuantScheme::gguf_q4_0 || sparse, sparse, tile,
           xType.getShape()[1], out,
           sparse ? 20 : scheme == QuantScheme::gguf_q4_0 ? 18 : 34};
  auto resultType = RankedTensorType::get({ShapedType::kDynamic, out},
                                          b.getF32Type());
  // One token: a 1-token kernel; several: 4 tokens per register tile (rows
  // padded with zeros, whose results are dropped).
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t,
                                       iconst(b, loc, 1));
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{resultType}, single,
                                /*addThenBlock=*/true, /*addElseBlock=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    // One kernel for `tokens` tokens per register tile.
    auto kernel = [&](Value xp, int64_t tokens) {
      if (isKQuant(scheme))
        return kquantKernel(b, loc, *kquantFormat(scheme), k.in, out, tile,
                            xp, bytes, tokens);
      if (scheme == QuantScheme::dgq_a8w4)
        return dgqKernel(b, loc, xp, inputScales, bytes, k.in, out,
                         quant.getGroup(), tokens);
      Activations a = quantizeActivations(b, loc, k, xp);
      return tile ? interleavedKernel(b, loc, k, a, bytes, tokens)
                   : blockKernel(b, loc, k, a, bytes, tokens);
    };
    scf::YieldOp::create(b, loc, kernel(x, 1));
    b.setInsertionPointToStart(ifOp.elseBlock());
    Value yp = kernel(padRows(b, loc, x, 4), 4);
    Value y = tensor::ExtractSliceOp::create(
        b, loc, resultType, yp,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{t, b.getIndexAttr(out)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    scf::YieldOp::create(b, loc, y);
  }
  return withRows(b, loc, ifOp.getResult(0), t);
}
