//===- FlashAttention.cpp - tiled online-softmax attention ----------------===//
//
// Part of --convert-llm-to-linalg: the kernel `--llm-flash-attention`
// selects (attribute `llm.flash`). Every (KV head, group member, token,
// chunk) is one parallel task that streams its visible cache positions in
// blocks of kKeyBlock:
//
//   s   = q · keysT[:, block] / sqrt(d)     (vector of 16 scores, masked)
//   m'  = max(m, max(s));  p = exp(s - m')  (online softmax)
//   l   = l * exp(m - m') + sum(p);  acc = acc * exp(m - m') + p · V[block]
//
// so no score matrix exists and blocks no query can see (causal future,
// outside the sliding window) are never touched. Tasks write partial
// (acc, m, l); a combine step divides (prefill: one chunk per token) or
// merges the chunks of a one-token step (FlashDecoding). With
// softmax = "unified" (FlashDecoding++), decode chunks exponentiate against
// one fixed maximum phi instead (no rescaling, the combine is a plain sum);
// a step whose true maxima leave [phi - 60, phi + 60] is recomputed with
// the synchronized kernel.
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
/// Exponent range around phi within which the unified kernel is exact
/// enough (exp(60) ~ 1e26 leaves f32 headroom for sums of 1e6 terms).
constexpr double kUnifiedRange = 60.0;

struct FlashKernel {
  OpBuilder &b;
  Location loc;
  Type elt;
  int64_t kvh, g, hd;
  std::optional<double> scale;
  bool causal;
  std::optional<int64_t> window;
  std::optional<double> softcap;
  OpFoldResult layer; ///< static, or an outlined layer's index
  int64_t cap;
  /// The whole cache as a flat read-only buffer: the kernel's loads are
  /// plain vector.loads at computed offsets, which keeps them out of the
  /// bufferization analysis of the cache's slices (its value-bounds
  /// comparisons explode on loop-dependent subsets).
  Value flat;
  Value q3, pos, t, len;
  /// int8 cache: `flat` is i8, keys and values alike rows of hd int8
  /// values and a 4-byte f32 scale per position (see cacheTensorType).
  bool int8 = false;
  /// Shared cache: keys only, stored as rows [cap, hd] per head; each
  /// block is loaded once and serves as keys and as values.
  bool shared = false;

  Value c(int64_t v) { return iconst(b, loc, v); }

  /// Partial results [kvh, g, T, S, hd], [kvh, g, T, S] (max), [.., S] (sum)
  /// for `splits` chunks per token; `phi` set = unified kernel.
  SmallVector<Value> partials(Value splits, std::optional<double> phi) {
    int64_t dyn = ShapedType::kDynamic;
    auto accType = RankedTensorType::get({kvh, g, dyn, dyn, hd}, elt);
    auto statType = RankedTensorType::get({kvh, g, dyn, dyn}, elt);
    Value accInit = tensor::EmptyOp::create(b, loc, accType.getShape(), elt,
                                            ValueRange{t, splits});
    Value mInit = tensor::EmptyOp::create(b, loc, statType.getShape(), elt,
                                          ValueRange{t, splits});
    Value lInit = tensor::EmptyOp::create(b, loc, statType.getShape(), elt,
                                          ValueRange{t, splits});
    SmallVector<OpFoldResult> ubs = {b.getIndexAttr(kvh), b.getIndexAttr(g),
                                     t, splits};
    auto forall = scf::ForallOp::create(
        b, loc, ubs, ValueRange{accInit, mInit, lInit}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(forall.getBody());
    ValueRange iv = forall.getInductionVars();
    Value kv = iv[0], gi = iv[1], tok = iv[2], sp = iv[3];
    Value self = arith::AddIOp::create(b, loc, pos, tok);
    // Visible positions [lo, hi).
    Value hi = causal ? Value(arith::AddIOp::create(b, loc, self, c(1))) : len;
    Value lo = c(0);
    if (window) {
      // self + 1 - W, clamped at 0.
      Value from = arith::AddIOp::create(b, loc, self, c(1));
      Value w = c(*window);
      Value past = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                         from, w);
      lo = arith::SelectOp::create(b, loc, past,
                                   arith::SubIOp::create(b, loc, from, w),
                                   c(0));
    }
    auto roundDown = [&](Value v) {
      return arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, v, c(kKeyBlock)),
          c(kKeyBlock));
    };
    Value loBlk = roundDown(lo);
    Value hiBlk = roundDown(arith::AddIOp::create(b, loc, hi, c(kKeyBlock - 1)));
    // Chunk sp of `splits`: whole blocks, the last chunks possibly empty.
    Value nBlocks = arith::DivUIOp::create(
        b, loc, arith::SubIOp::create(b, loc, hiBlk, loBlk), c(kKeyBlock));
    Value per = arith::DivUIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, nBlocks,
                              arith::SubIOp::create(b, loc, splits, c(1))),
        splits);
    Value span = arith::MulIOp::create(b, loc, per, c(kKeyBlock));
    Value start = arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, loBlk,
                                      arith::MulIOp::create(b, loc, sp, span)),
        hiBlk);
    Value end = arith::MinUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, start, span), hiBlk);

    Value head = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, kv, c(g)), gi);
    // Flat offsets of this KV head's transposed keys and values (int8: of
    // its slots, hd + 4 bytes per position).
    int64_t slot = cap * (int8 ? hd + 4 : hd);
    Value kvOff = arith::MulIOp::create(b, loc, kv, c(slot));
    // Flat offset of this layer's kind-0 slot: layer * kinds * kvh * slot.
    int64_t kinds = shared ? 1 : 2;
    Value layerStart = arith::MulIOp::create(
        b, loc, getValueOrCreateConstantIndexOp(b, loc, layer),
        c(kinds * kvh * slot));
    Value keyBase = arith::AddIOp::create(b, loc, layerStart, kvOff);
    Value valBase =
        shared ? keyBase
               : arith::AddIOp::create(b, loc, keyBase, c(kvh * slot))
                     .getResult();
    Type i8 = b.getI8Type();
    // int8: the rows of positions [blk, blk + 16) of a slot, as their f32
    // values [16, hd] and scales [16].
    auto int8Rows = [&](OpBuilder &nb, Location l, Value base,
                        Value blk) -> std::pair<Value, Value> {
      Value at = arith::AddIOp::create(
          nb, l, base, arith::MulIOp::create(nb, l, blk, iconst(nb, l, hd + 4)));
      Value rows = vector::ShapeCastOp::create(
          nb, l, VectorType::get({kKeyBlock, hd + 4}, i8),
          vector::LoadOp::create(nb, l,
                                 VectorType::get({kKeyBlock * (hd + 4)}, i8),
                                 flat, ValueRange{at}));
      Value data = vector::ExtractStridedSliceOp::create(
          nb, l, rows, ArrayRef<int64_t>{0, 0}, ArrayRef<int64_t>{kKeyBlock, hd},
          ArrayRef<int64_t>{1, 1});
      Value bytes = vector::ExtractStridedSliceOp::create(
          nb, l, rows, ArrayRef<int64_t>{0, hd}, ArrayRef<int64_t>{kKeyBlock, 4},
          ArrayRef<int64_t>{1, 1});
      Value scales = vector::BitCastOp::create(
          nb, l, VectorType::get({kKeyBlock}, elt),
          vector::ShapeCastOp::create(
              nb, l, VectorType::get({4 * kKeyBlock}, i8), bytes));
      Value values = arith::SIToFPOp::create(
          nb, l, VectorType::get({kKeyBlock, hd}, elt), data);
      return {values, scales};
    };
    // int8 or shared: this head's query row, for the row-layout keys.
    Value qRow;
    if (int8 || shared)
      qRow = vector::TransferReadOp::create(
          b, loc, VectorType::get({hd}, elt), q3, ValueRange{tok, head, c(0)},
          fconst(b, loc, elt, 0.0), ArrayRef<bool>{true});
    auto vecB = VectorType::get({kKeyBlock}, elt);
    auto vecD = VectorType::get({hd}, elt);
    double ninf = -std::numeric_limits<double>::infinity();
    Value zeroB = arith::ConstantOp::create(b, loc, vecB,
                                            DenseElementsAttr::get(vecB, b.getFloatAttr(elt, 0.0)));
    Value zeroD = arith::ConstantOp::create(b, loc, vecD,
                                            DenseElementsAttr::get(vecD, b.getFloatAttr(elt, 0.0)));
    auto loop = scf::ForOp::create(
        b, loc, start, end, c(kKeyBlock),
        ValueRange{fconst(b, loc, elt, ninf), fconst(b, loc, elt, 0.0), zeroD},
        [&](OpBuilder &nb, Location l, Value blk, ValueRange it) {
          Value m = it[0], sum = it[1], acc = it[2];
          Value s, sharedRows;
          // Rows of keys [16, hd]: sum over d of q[d] * k[j, d].
          auto rowScores = [&](Value keys) {
            Value prod = arith::MulFOp::create(
                nb, l, keys,
                vector::BroadcastOp::create(
                    nb, l, VectorType::get({kKeyBlock, hd}, elt), qRow));
            return vector::MultiDimReductionOp::create(
                nb, l, prod, zeroB, ArrayRef<bool>{false, true},
                vector::CombiningKind::ADD);
          };
          if (shared && !int8) {
            Value at = arith::AddIOp::create(
                nb, l, keyBase, arith::MulIOp::create(nb, l, blk, iconst(nb, l, hd)));
            sharedRows = vector::ShapeCastOp::create(
                nb, l, VectorType::get({kKeyBlock, hd}, elt),
                vector::LoadOp::create(nb, l,
                                       VectorType::get({kKeyBlock * hd}, elt),
                                       flat, ValueRange{at}));
            s = rowScores(sharedRows);
          } else if (int8) {
            // Rows of keys: sum over d of q[d] * k[j, d], times the scale.
            auto [keys, scales] = int8Rows(nb, l, keyBase, blk);
            s = arith::MulFOp::create(nb, l, rowScores(keys), scales);
          } else {
          // Scores of the block: q[d] * keysT[d, blk:blk+16] over d.
          auto dot = scf::ForOp::create(
              nb, l, iconst(nb, l, 0), iconst(nb, l, hd), iconst(nb, l, 1),
              ValueRange{zeroB},
              [&](OpBuilder &db, Location dl, Value d, ValueRange s) {
                Value qd = tensor::ExtractOp::create(db, dl, q3,
                                                     ValueRange{tok, head, d});
                Value at = arith::AddIOp::create(
                    db, dl, keyBase,
                    arith::AddIOp::create(
                        db, dl,
                        arith::MulIOp::create(db, dl, d, iconst(db, dl, cap)),
                        blk));
                Value kd = vector::LoadOp::create(db, dl, vecB, flat,
                                                  ValueRange{at});
                Value qv = vector::BroadcastOp::create(db, dl, vecB, qd);
                scf::YieldOp::create(
                    db, dl, Value(vector::FMAOp::create(db, dl, qv, kd, s[0])));
              });
          s = dot.getResult(0);
          }
          s = scale ? Value(arith::MulFOp::create(
                          nb, l, s,
                          vector::BroadcastOp::create(
                              nb, l, vecB, fconst(nb, l, elt, *scale))))
                    : Value(arith::DivFOp::create(
                          nb, l, s,
                          vector::BroadcastOp::create(
                              nb, l, vecB,
                              fconst(nb, l, elt, std::sqrt(double(hd))))));
          if (softcap)
            s = lowering::softcap(nb, l, s, *softcap);
          // Mask positions outside [lo, hi).
          auto idxVec = VectorType::get({kKeyBlock}, nb.getIndexType());
          Value p = arith::AddIOp::create(
              nb, l, vector::BroadcastOp::create(nb, l, idxVec, blk),
              vector::StepOp::create(nb, l, idxVec));
          Value hidden = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::uge, p,
              vector::BroadcastOp::create(nb, l, idxVec, hi));
          if (window)
            hidden = arith::OrIOp::create(
                nb, l, hidden,
                arith::CmpIOp::create(
                    nb, l, arith::CmpIPredicate::ult, p,
                    vector::BroadcastOp::create(nb, l, idxVec, lo)));
          s = arith::SelectOp::create(
              nb, l, hidden,
              vector::BroadcastOp::create(nb, l, vecB, fconst(nb, l, elt, ninf)),
              s);
          Value bm = vector::ReductionOp::create(
              nb, l, vector::CombiningKind::MAXIMUMF, s);
          Value mNew = arith::MaximumFOp::create(nb, l, m, bm);
          // Unified: exponents against phi, nothing to rescale.
          Value ref = phi ? fconst(nb, l, elt, *phi) : mNew;
          Value e = math::ExpOp::create(
              nb, l, arith::SubFOp::create(
                         nb, l, s, vector::BroadcastOp::create(nb, l, vecB, ref)));
          Value bs = vector::ReductionOp::create(nb, l,
                                                 vector::CombiningKind::ADD, e);
          Value newSum, newAcc = acc;
          if (phi) {
            newSum = arith::AddFOp::create(nb, l, sum, bs);
          } else {
            Value alpha = math::ExpOp::create(
                nb, l, arith::SubFOp::create(nb, l, m, mNew));
            newSum = arith::AddFOp::create(
                nb, l, arith::MulFOp::create(nb, l, sum, alpha), bs);
            newAcc = arith::MulFOp::create(
                nb, l, acc, vector::BroadcastOp::create(nb, l, vecD, alpha));
          }
          // The block's values in one read (few tensor reads keep the
          // bufferization analysis cheap), then row by row.
          Value vBlock, pw = e;
          if (int8) {
            // Each position's weight times its value scale.
            auto [values, scales] = int8Rows(nb, l, valBase, blk);
            vBlock = values;
            pw = arith::MulFOp::create(nb, l, e, scales);
          } else if (shared) {
            vBlock = sharedRows;
          } else {
            Value vAt = arith::AddIOp::create(
                nb, l, valBase,
                arith::MulIOp::create(nb, l, blk, iconst(nb, l, hd)));
            vBlock = vector::ShapeCastOp::create(
                nb, l, VectorType::get({kKeyBlock, hd}, elt),
                vector::LoadOp::create(
                    nb, l, VectorType::get({kKeyBlock * hd}, elt), flat,
                    ValueRange{vAt}));
          }
          for (int64_t j = 0; j < kKeyBlock; ++j) {
            Value pj = vector::ExtractOp::create(nb, l, pw, ArrayRef<int64_t>{j});
            Value vj = vector::ExtractOp::create(nb, l, vBlock,
                                                 ArrayRef<int64_t>{j});
            newAcc = vector::FMAOp::create(
                nb, l, vector::BroadcastOp::create(nb, l, vecD, pj), vj, newAcc);
          }
          scf::YieldOp::create(nb, l, ValueRange{mNew, newSum, newAcc});
        });

    // Written into this task's slices of the shared outputs (in place: a
    // fresh tensor here would become an allocation and a copy per task).
    auto outs = forall.getRegionIterArgs();
    SmallVector<OpFoldResult> one4(4, b.getIndexAttr(1));
    SmallVector<OpFoldResult> at4 = {kv, gi, tok, sp};
    SmallVector<OpFoldResult> at5 = {kv, gi, tok, sp, b.getIndexAttr(0)};
    SmallVector<OpFoldResult> size5 = {b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(1), b.getIndexAttr(1),
                                       b.getIndexAttr(hd)};
    SmallVector<OpFoldResult> one5(5, b.getIndexAttr(1));
    Value accSlice = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({hd}, elt), outs[0], at5, size5, one5);
    Value accT = vector::TransferWriteOp::create(b, loc, loop.getResult(2),
                                                 accSlice, ValueRange{c(0)},
                                                 ArrayRef<bool>{true})
                     .getResult();
    SmallVector<Value> scalars;
    for (unsigned k = 0; k < 2; ++k) {
      Value slice = tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({}, elt), outs[1 + k], at4, one4, one4);
      scalars.push_back(tensor::InsertOp::create(b, loc, loop.getResult(k),
                                                 slice, ValueRange{}));
    }
    auto inParallel = forall.getTerminator();
    b.setInsertionPointToStart(inParallel.getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, accT, outs[0], at5, size5,
                                          one5);
    for (unsigned k = 0; k < 2; ++k)
      tensor::ParallelInsertSliceOp::create(b, loc, scalars[k], outs[1 + k],
                                            at4, one4, one4);
    return {forall.getResult(0), forall.getResult(1), forall.getResult(2)};
  }

  /// out[t, kvh, g, d] from the partials: sum over chunks of
  /// acc * exp(m - M) / sum of l * exp(m - M), M the largest chunk maximum
  /// (unified: plain sums).
  Value combine(ArrayRef<Value> parts, Value splits, bool unified) {
    MLIRContext *ctx = b.getContext();
    int64_t dyn = ShapedType::kDynamic;
    Value init = empty(b, loc, {dyn, kvh, g, hd}, elt, t);
    Value out = generic(
        b, loc, ValueRange{}, init, {map(ctx, 4, {0, 1, 2, 3})},
        {par, par, par, par}, [&](OpBuilder &nb, Location l, ValueRange) {
          Value tok = linalg::IndexOp::create(nb, l, 0);
          Value kv = linalg::IndexOp::create(nb, l, 1);
          Value gi = linalg::IndexOp::create(nb, l, 2);
          Value d = linalg::IndexOp::create(nb, l, 3);
          auto stat = [&](unsigned k, Value sp) {
            return tensor::ExtractOp::create(nb, l, parts[k],
                                             ValueRange{kv, gi, tok, sp})
                .getResult();
          };
          Value zero = iconst(nb, l, 0), step = iconst(nb, l, 1);
          Value mx = fconst(nb, l, elt, 0.0);
          if (!unified)
            mx = scf::ForOp::create(
                     nb, l, zero, splits, step,
                     ValueRange{fconst(nb, l, elt,
                                       -std::numeric_limits<double>::infinity())},
                     [&](OpBuilder &fb, Location fl, Value sp, ValueRange it) {
                       scf::YieldOp::create(
                           fb, fl,
                           Value(arith::MaximumFOp::create(fb, fl, it[0],
                                                           stat(1, sp))));
                     })
                     .getResult(0);
          auto sums = scf::ForOp::create(
              nb, l, zero, splits, step,
              ValueRange{fconst(nb, l, elt, 0.0), fconst(nb, l, elt, 0.0)},
              [&](OpBuilder &fb, Location fl, Value sp, ValueRange it) {
                Value acc = tensor::ExtractOp::create(
                    fb, fl, parts[0], ValueRange{kv, gi, tok, sp, d});
                Value lsum = stat(2, sp);
                if (!unified) {
                  // Empty chunks (max -inf) weigh nothing.
                  Value m = stat(1, sp);
                  Value empty = arith::CmpFOp::create(
                      fb, fl, arith::CmpFPredicate::OEQ, m,
                      fconst(fb, fl, elt,
                             -std::numeric_limits<double>::infinity()));
                  Value w = math::ExpOp::create(
                      fb, fl, arith::SubFOp::create(fb, fl, m, mx));
                  w = arith::SelectOp::create(fb, fl, empty,
                                              fconst(fb, fl, elt, 0.0), w);
                  acc = arith::MulFOp::create(fb, fl, acc, w);
                  lsum = arith::MulFOp::create(fb, fl, lsum, w);
                }
                scf::YieldOp::create(
                    fb, fl,
                    ValueRange{arith::AddFOp::create(fb, fl, it[0], acc),
                               arith::AddFOp::create(fb, fl, it[1], lsum)});
              });
          return arith::DivFOp::create(nb, l, sums.getResult(0),
                                       sums.getResult(1));
        });
    return tag(out, "rows");
  }

  /// Whether any non-empty chunk's maximum left [phi - R, phi + R].
  Value outOfRange(Value m, double phi) {
    MLIRContext *ctx = b.getContext();
    Value init = fill(b, loc, empty(b, loc, {}, elt, {}), 0.0);
    Value dev = generic(
        b, loc, ValueRange{m}, init,
        {map(ctx, 4, {0, 1, 2, 3}), AffineMap::get(4, 0, ctx)},
        {red, red, red, red}, [&](OpBuilder &nb, Location l, ValueRange args) {
          Value x = args[0];
          Value empty = arith::CmpFOp::create(
              nb, l, arith::CmpFPredicate::OEQ, x,
              fconst(nb, l, elt, -std::numeric_limits<double>::infinity()));
          Value d = math::AbsFOp::create(
              nb, l, arith::SubFOp::create(nb, l, x, fconst(nb, l, elt, phi)));
          d = arith::SelectOp::create(nb, l, empty, fconst(nb, l, elt, 0.0), d);
          return arith::MaximumFOp::create(nb, l, args[1], d);
        });
    Value worst = tensor::ExtractOp::create(b, loc, dev, ValueRange{});
    return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, worst,
                                 fconst(b, loc, elt, kUnifiedRange));
  }
};
} // namespace

static std::optional<double> softcapOf(AttentionOp op) {
  if (auto c = op.getLogitSoftcap())
    return c->convertToDouble();
  return std::nullopt;
}

Value mlir::llm::lowering::buildFlashAttention(
    OpBuilder &b, Location loc, AttentionOp op, DictionaryAttr flash, Value q,
    Value cache, Value pos, Value t, Value len, OpFoldResult layer) {
  auto type = cast<RankedTensorType>(q.getType());
  Type elt = type.getElementType();
  int64_t kvh = op.getNumKvHeads(), h = op.getNumHeads();
  int64_t hd = op.getHeadDim();
  int64_t splits = 1;
  if (auto s = flash.getAs<IntegerAttr>("decode_splits"))
    splits = s.getInt();
  auto softmax = flash.getAs<StringAttr>("softmax");
  std::optional<double> phi;
  if (softmax && softmax.getValue() == "unified")
    if (auto u = flash.getAs<FloatAttr>("unified_max"))
      phi = u.getValueAsDouble();
  std::optional<double> scale;
  if (auto s = op.getScale())
    scale = s->convertToDouble();
  Value q3 = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic, h, hd}, elt), q,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{t, b.getIndexAttr(h), b.getIndexAttr(hd)});
  auto cacheType = cast<RankedTensorType>(cache.getType());
  bool int8 = cacheType.getElementType().isInteger(8);
  Value buffer = bufferization::ToBufferOp::create(
      b, loc, MemRefType::get(cacheType.getShape(), cacheType.getElementType()),
      cache, /*read_only=*/true);
  Value flat = memref::CollapseShapeOp::create(
      b, loc, buffer, ArrayRef<ReassociationIndices>{{0, 1, 2, 3, 4}});
  FlashKernel k{b,
                loc,
                elt,
                kvh,
                h / kvh,
                hd,
                scale,
                op.getCausal(),
                op.getSlidingWindow(),
                softcapOf(op),
                layer,
                cacheType.getShape()[3],
                flat,
                q3,
                pos,
                t,
                len};
  k.int8 = int8;
  k.shared = op.getCache().getType().getShared();
  Value one = iconst(b, loc, 1);
  Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t, one);
  // Several tokens: one chunk each (they already fill the threads).
  Value chunks = arith::SelectOp::create(b, loc, single, iconst(b, loc, splits),
                                         one);
  // [T, kvh, g, hd] -> the op's [T, h * hd], inside each branch below: a
  // collapse of a branch result's (strided) buffer would need a copy.
  auto rows = [&](Value out4) -> Value {
    return tensor::CollapseShapeOp::create(
        b, loc, op.getOutput().getType(), out4,
        ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}});
  };
  auto synchronized = [&](OpBuilder &) {
    return rows(k.combine(k.partials(chunks, std::nullopt), chunks, false));
  };
  if (!phi || splits == 1)
    return synchronized(b);
  auto rt = cast<RankedTensorType>(op.getOutput().getType());
  auto ifDecode = scf::IfOp::create(b, loc, TypeRange{rt}, single, true, true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifDecode.thenBlock());
    SmallVector<Value> parts = k.partials(chunks, phi);
    Value bad = k.outOfRange(parts[1], *phi);
    auto ifBad = scf::IfOp::create(b, loc, TypeRange{rt}, bad, true, true);
    b.setInsertionPointToStart(ifBad.thenBlock());
    scf::YieldOp::create(b, loc, synchronized(b));
    b.setInsertionPointToStart(ifBad.elseBlock());
    scf::YieldOp::create(b, loc, rows(k.combine(parts, chunks, true)));
    b.setInsertionPointAfter(ifBad);
    scf::YieldOp::create(b, loc, ifBad.getResult(0));
    b.setInsertionPointToStart(ifDecode.elseBlock());
    scf::YieldOp::create(b, loc, synchronized(b));
  }
  return withRows(b, loc, ifDecode.getResult(0), t);
}
