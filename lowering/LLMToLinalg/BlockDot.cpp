//===- BlockDot.cpp - q8_0 / q4_0 linears on 8-bit activations ------------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp).
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

namespace {
constexpr int64_t kBlock = 32; ///< weights per GGUF block
constexpr int64_t kLanes = 8;  ///< i32 lanes of one block's dot product

struct Kernel {
  bool q4;      ///< q4_0 (else q8_0)
  bool sparse;  ///< GQSA: half of each row's q4_0 blocks, with indices
  int64_t in, out, blockBytes;

  int64_t blocks() const { return in / kBlock; }
  /// Blocks stored per row.
  int64_t stored() const { return sparse ? blocks() / 2 : blocks(); }
};

VectorType vec(int64_t n, Type t) { return VectorType::get({n}, t); }

Value read(OpBuilder &b, Location l, VectorType t, Value src,
           ValueRange idx) {
  Type elt = t.getElementType();
  Value pad = isa<FloatType>(elt)
                  ? fconst(b, l, elt, 0.0)
                  : arith::ConstantOp::create(b, l, b.getIntegerAttr(elt, 0))
                        .getResult();
  return vector::TransferReadOp::create(b, l, t, src, idx, pad,
                                        ArrayRef<bool>{true});
}

/// acc[k] += sum over q < 4 of u[4k + q] (unsigned) * s[4k + q] (signed),
/// in the portable form `--llm-cpu-vnni` turns into one vpdpbusd.
Value dotBytes(OpBuilder &b, Location l, Value acc, Value u, Value s) {
  Type i32 = b.getI32Type();
  Value p = arith::MulIOp::create(
      b, l, arith::ExtUIOp::create(b, l, vec(kBlock, i32), u),
      arith::ExtSIOp::create(b, l, vec(kBlock, i32), s));
  Value p2 = vector::ShapeCastOp::create(
      b, l, VectorType::get({kLanes, kBlock / kLanes}, i32), p);
  return vector::MultiDimReductionOp::create(
      b, l, p2, acc, ArrayRef<bool>{false, true}, vector::CombiningKind::ADD);
}

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
  Type i8 = b.getI8Type();
  Value data = arith::AddIOp::create(b, l, at, iconst(b, l, 2));
  if (!k.q4)
    return read(b, l, vec(kBlock, i8), bytes, data);
  Value packed = read(b, l, vec(kBlock / 2, i8), bytes, data);
  auto splat = [&](int64_t v) {
    return arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(vec(kBlock / 2, i8),
                                     b.getIntegerAttr(i8, v)));
  };
  Value lo = arith::AndIOp::create(b, l, packed, splat(15));
  Value hi = arith::ShRUIOp::create(b, l, packed, splat(4));
  SmallVector<int64_t> order;
  for (int64_t i = 0; i < kBlock; ++i)
    order.push_back(i);
  return vector::ShuffleOp::create(b, l, lo, hi, order);
}

/// Activations quantized per block: `q` [Tp, in] i8 (q4_0: x, q8_0: |x|),
/// `sign` [Tp, in] i8 (q8_0: x itself, for the weights' sign), `start`
/// [Tp, in / 4] i32 (q4_0: -8 * sums of 4), `amax` [Tp, in / 32] f32.
struct Activations {
  Value q, sign, start, amax;
};

Activations quantizeActivations(OpBuilder &b, Location l, const Kernel &k,
                                Value xp) {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic, G = k.blocks();
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  Value tp = tensor::DimOp::create(b, l, xp, 0);
  auto expand = [&](Value v, int64_t n, Type elt) {
    return tensor::ExpandShapeOp::create(
        b, l, RankedTensorType::get({dyn, k.in / n, n}, elt), v,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{tp, b.getIndexAttr(k.in / n),
                               b.getIndexAttr(n)});
  };
  Value x3 = expand(xp, kBlock, f32);
  Activations a;
  // max |x| per block.
  a.amax = generic(b, l, {x3}, fill(b, l, empty(b, l, {dyn, G}, f32, tp), 0.0),
                   {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1})},
                   {par, par, red},
                   [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                     return arith::MaximumFOp::create(
                         nb, nl, args[1], math::AbsFOp::create(nb, nl, args[0]));
                   });
  // 1 / d per block (d = amax / 127; 0 for an all-zero block), once per
  // block rather than per element.
  Value inv = generic(
      b, l, {a.amax}, empty(b, l, {dyn, G}, f32, tp),
      {map(ctx, 2, {0, 1}), map(ctx, 2, {0, 1})}, {par, par},
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value d = arith::DivFOp::create(nb, nl, args[0],
                                        fconst(nb, nl, f32, 127.0));
        Value zero = fconst(nb, nl, f32, 0.0);
        return arith::SelectOp::create(
            nb, nl,
            arith::CmpFOp::create(nb, nl, arith::CmpFPredicate::OEQ, d, zero),
            zero, arith::DivFOp::create(nb, nl, fconst(nb, nl, f32, 1.0), d));
      });
  // x / d, rounded to nearest even: the 8-bit activations (and, for q8_0,
  // their magnitudes).
  SmallVector<Type> outTypes(k.q4 ? 1 : 2,
                             RankedTensorType::get({dyn, G, kBlock}, i8));
  SmallVector<Value> outs;
  for (size_t i = 0; i < outTypes.size(); ++i)
    outs.push_back(empty(b, l, {dyn, G, kBlock}, i8, tp));
  SmallVector<AffineMap> maps = {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1})};
  maps.append(outs.size(), map(ctx, 3, {0, 1, 2}));
  auto qop = linalg::GenericOp::create(
      b, l, TypeRange(outTypes), ValueRange{x3, inv}, outs, maps,
      SmallVector<IteratorType>(3, par),
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        Value r = math::RoundEvenOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, args[0], args[1]));
        SmallVector<Value> ys = {arith::FPToSIOp::create(nb, nl, i8, r)};
        if (!k.q4)
          ys.push_back(arith::FPToSIOp::create(
              nb, nl, i8, math::AbsFOp::create(nb, nl, r)));
        linalg::YieldOp::create(nb, nl, ys);
      });
  auto collapse = [&](Value v) {
    return tensor::CollapseShapeOp::create(
        b, l, RankedTensorType::get({dyn, k.in}, i8), v,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  };
  if (k.q4) {
    a.q = collapse(qop.getResult(0));
    // -8 * (sum of each 4 activations): where a q4_0 block's dot starts.
    Value q4 = expand(a.q, 4, i8);
    Value init = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
    Value acc = linalg::FillOp::create(
                    b, l, init, empty(b, l, {dyn, k.in / 4}, i32, tp))
                    .getResult(0);
    a.start = generic(
        b, l, {q4}, acc, {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1})},
        {par, par, red}, [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value v = arith::ExtSIOp::create(nb, nl, i32, args[0]);
          Value m8 = arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(-8));
          return arith::AddIOp::create(nb, nl, args[1],
                                       arith::MulIOp::create(nb, nl, v, m8));
        });
  } else {
    a.sign = collapse(qop.getResult(0));
    a.q = collapse(qop.getResult(1));
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
  int64_t rows = 1;
  for (int64_t r : {int64_t(tokens == 1 ? 16 : 4), int64_t(8), int64_t(4), int64_t(2)})
    if (k.out % r == 0 && !k.sparse) {
      rows = r;
      break;
    }
  int64_t task = taskRows(k.out, rows, 64);
  Value y = empty(b, l, {ShapedType::kDynamic, k.out}, f32, tp);
  auto forall = scf::ForallOp::create(
      b, l, ArrayRef<OpFoldResult>{b.getIndexAttr(k.out / task)}, ValueRange{y},
      std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getTerminator());
  Value taskIdx = forall.getInductionVar(0);
  Value col0 = arith::MulIOp::create(b, l, taskIdx, iconst(b, l, task));
  Value zeroIdx = iconst(b, l, 0), one = iconst(b, l, 1);
  auto tileType = RankedTensorType::get({ShapedType::kDynamic, task}, f32);
  Value tile = tensor::ExtractSliceOp::create(
      b, l, tileType, forall.getRegionIterArgs()[0],
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), col0},
      ArrayRef<OpFoldResult>{tp, b.getIndexAttr(task)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  VectorType accType = vec(kLanes, f32);
  Value invMax = fconst(b, l, f32, 1.0 / 127.0);
  auto tokenLoop = scf::ForOp::create(
      b, l, zeroIdx, tp, iconst(b, l, tokens), ValueRange{tile},
      [&](OpBuilder &b, Location l, Value t0, ValueRange tIter) {
        auto rowLoop = scf::ForOp::create(
            b, l, zeroIdx, iconst(b, l, task), iconst(b, l, rows), tIter,
            [&](OpBuilder &b, Location l, Value r0, ValueRange rIter) {
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
                      Value ti = arith::AddIOp::create(b, l, t0, iconst(b, l, t));
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
                          d = dotBytes(b, l, start[t], w, xq[t]);
                        } else {
                          Value neg = arith::CmpIOp::create(
                              b, l, arith::CmpIPredicate::slt, xs[t], zero8);
                          Value sw8 = arith::SelectOp::create(
                              b, l, neg, arith::SubIOp::create(b, l, zero8, w), w);
                          d = dotBytes(b, l, zero32, xq[t], sw8);
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
              Value out = rIter[0];
              for (int64_t r = 0; r < rows; ++r)
                for (int64_t t = 0; t < tokens; ++t) {
                  Value sum = vector::ReductionOp::create(
                      b, l, vector::CombiningKind::ADD,
                      blockLoop.getResult(r * tokens + t));
                  out = tensor::InsertOp::create(
                      b, l, sum, out,
                      ValueRange{arith::AddIOp::create(b, l, t0, iconst(b, l, t)),
                                 arith::AddIOp::create(b, l, r0, iconst(b, l, r))});
                }
              scf::YieldOp::create(b, l, out);
            });
        scf::YieldOp::create(b, l, rowLoop.getResults());
      });
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(
      b, l, tokenLoop.getResult(0), forall.getRegionIterArgs()[0],
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), col0},
      ArrayRef<OpFoldResult>{tp, b.getIndexAttr(task)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  return forall.getResult(0);
}

} // namespace

bool mlir::llm::lowering::isBlockDotLinear(QLinearOp op) {
  QuantScheme s = op.getQuant().getScheme();
  auto in = op.getInput().getType();
  int64_t unit = s == QuantScheme::gqsa_q4_0_s50 ? 2 * kBlock : kBlock;
  return (s == QuantScheme::gguf_q8_0 || s == QuantScheme::gguf_q4_0 ||
          s == QuantScheme::gqsa_q4_0_s50) &&
         in.getRank() == 2 && !in.isDynamicDim(1) &&
         in.getDimSize(1) % unit == 0 && in.getElementType().isF32() &&
         op.getResult().getType().getElementType().isF32();
}

Value mlir::llm::lowering::buildBlockDotLinear(OpBuilder &b, Location loc,
                                               Value x, Value bytes,
                                               QuantScheme scheme,
                                               int64_t out) {
  auto xType = cast<RankedTensorType>(x.getType());
  bool sparse = scheme == QuantScheme::gqsa_q4_0_s50;
  Kernel k{scheme == QuantScheme::gguf_q4_0 || sparse, sparse,
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
    Value y1 = blockKernel(b, loc, k, quantizeActivations(b, loc, k, x), bytes, 1);
    scf::YieldOp::create(b, loc, y1);
    b.setInsertionPointToStart(ifOp.elseBlock());
    Value yp = blockKernel(b, loc, k,
                           quantizeActivations(b, loc, k, padRows(b, loc, x, 4)),
                           bytes, 4);
    Value y = tensor::ExtractSliceOp::create(
        b, loc, resultType, yp,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{t, b.getIndexAttr(out)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
    scf::YieldOp::create(b, loc, y);
  }
  return withRows(b, loc, ifOp.getResult(0), t);
}
