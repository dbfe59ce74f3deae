//===- PendingState.cpp - early exit's recompute state in the KV cache ----===//
//
// A `!llm.kv_cache<..., pending = D>` lowers to the usual cache tensor with
// getStateLayers() more layer slots after the model's layers:
//
//   slots [L, L + E - 1): the hidden state of every position, row p's
//     column c at [L + c / W, (c / (KVH * HD)) % 2, (c / HD) % KVH, p,
//     c % HD], W = 2 * KVH * HD (the columns of a position spread over the
//     slots' [2, KVH, *, HD] elements);
//   slot L + E - 1: per layer j, how many leading positions have its keys
//     and values, at [L + E - 1, 0, 0, j, 0], as an f32 (exact up to 2^24).
//
// The runtime zero-fills a new cache: no position filled, none pending.
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
/// Where the state of `type` lives in its cache tensor.
struct StateLayout {
  int64_t layers, slots, kvHeads, headDim, pending;
  explicit StateLayout(KVCacheType t)
      : layers(t.getLayers()), slots(t.getStateLayers()),
        kvHeads(t.getKvHeads()), headDim(t.getHeadDim()),
        pending(t.getPending()) {}

  /// Cache indices [slot, k|v, head, ·, d] of hidden column `c`.
  SmallVector<Value> columnIndices(OpBuilder &b, Location l, Value c) const {
    auto div = [&](Value v, int64_t d) {
      return arith::DivUIOp::create(b, l, v, iconst(b, l, d)).getResult();
    };
    auto rem = [&](Value v, int64_t d) {
      return arith::RemUIOp::create(b, l, v, iconst(b, l, d)).getResult();
    };
    Value slot = arith::AddIOp::create(
        b, l, iconst(b, l, layers), div(c, 2 * kvHeads * headDim));
    return {slot, rem(div(c, kvHeads * headDim), 2), rem(div(c, headDim), kvHeads),
            rem(c, headDim)};
  }

  /// Indices of layer `layer`'s counter.
  SmallVector<Value> counter(OpBuilder &b, Location l, int64_t layer) const {
    Value zero = iconst(b, l, 0);
    return {iconst(b, l, layers + slots - 1), zero, zero, iconst(b, l, layer),
            zero};
  }
};

Value toIndex(OpBuilder &b, Location l, Value f) {
  Value i = arith::FPToSIOp::create(b, l, b.getI64Type(), f);
  return arith::IndexCastOp::create(b, l, b.getIndexType(), i);
}

Value toF32(OpBuilder &b, Location l, Value i) {
  Value v = arith::IndexCastOp::create(b, l, b.getI64Type(), i);
  return arith::SIToFPOp::create(b, l, b.getF32Type(), v);
}

struct LowerCacheFilled : OpConversionPattern<CacheFilledOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CacheFilledOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location l = op.getLoc();
    StateLayout s(op.getCache().getType());
    Value f = tensor::ExtractOp::create(rw, l, a.getCache(),
                                        s.counter(rw, l, op.getLayer()));
    // Clamped to [0, pos]: a rewound sequence keeps only what precedes it.
    Value n = arith::MaxSIOp::create(rw, l, toIndex(rw, l, f), iconst(rw, l, 0));
    rw.replaceOp(op, arith::MinSIOp::create(rw, l, n, a.getPos()));
    return success();
  }
};

struct LowerCachePending : OpConversionPattern<CachePendingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CachePendingOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location l = op.getLoc();
    StateLayout s(op.getCache().getType());
    Value x = a.getInput(), cache = a.getCache();
    Value from = a.getFrom();
    Value k = arith::SubIOp::create(rw, l, a.getTo(), from);
    Value n = tensor::DimOp::create(rw, l, x, 0);
    Value rows = arith::AddIOp::create(rw, l, k, n);
    auto type = op.getResult().getType();
    Value init = empty(rw, l, type.getShape(), type.getElementType(), {rows});
    MLIRContext *ctx = rw.getContext();
    // Row r < k: position from + r's stored state; else row r - k of x.
    // Both reads use in-range indices; select picks one.
    Value out = generic(
        rw, l, {}, init, {map(ctx, 2, {0, 1})}, {par, par},
        [&](OpBuilder &b, Location nl, ValueRange) {
          Value r = linalg::IndexOp::create(b, nl, 0);
          Value c = linalg::IndexOp::create(b, nl, 1);
          Value zero = iconst(b, nl, 0);
          Value stored = arith::CmpIOp::create(b, nl, arith::CmpIPredicate::ult,
                                               r, k);
          Value p = arith::SelectOp::create(
              b, nl, stored, arith::AddIOp::create(b, nl, from, r), zero);
          Value xr = arith::SelectOp::create(
              b, nl, stored, zero, arith::SubIOp::create(b, nl, r, k));
          SmallVector<Value> at = s.columnIndices(b, nl, c);
          Value fromCache = tensor::ExtractOp::create(
              b, nl, cache, ValueRange{at[0], at[1], at[2], p, at[3]});
          Value fromInput =
              tensor::ExtractOp::create(b, nl, x, ValueRange{xr, c});
          return arith::SelectOp::create(b, nl, stored, fromCache, fromInput);
        });
    rw.replaceOp(op, out);
    return success();
  }
};

struct LowerCacheStash : OpConversionPattern<CacheStashOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CacheStashOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location l = op.getLoc();
    StateLayout s(op.getCache().getType());
    Value x = a.getInput(), cache = a.getCache();
    Value n = tensor::DimOp::create(rw, l, x, 0);
    // The slots' [E - 1, 2, KVH, n, HD] block of the stored positions,
    // updated in place: elements past column D keep their value.
    SmallVector<OpFoldResult> offsets{rw.getIndexAttr(s.layers),
                                      rw.getIndexAttr(0), rw.getIndexAttr(0),
                                      a.getFrom(), rw.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes{rw.getIndexAttr(s.slots - 1),
                                    rw.getIndexAttr(2),
                                    rw.getIndexAttr(s.kvHeads), n,
                                    rw.getIndexAttr(s.headDim)};
    SmallVector<OpFoldResult> strides(5, rw.getIndexAttr(1));
    Value block =
        tensor::ExtractSliceOp::create(rw, l, cache, offsets, sizes, strides);
    int64_t kvh = s.kvHeads, hd = s.headDim, d = s.pending;
    Value out = generic(
        rw, l, {}, block, {rw.getMultiDimIdentityMap(5)}, {par, par, par, par, par},
        [&](OpBuilder &b, Location nl, ValueRange args) {
          auto idx = [&](unsigned i) {
            return linalg::IndexOp::create(b, nl, i).getResult();
          };
          // c = ((slot * 2 + kv) * KVH + head) * HD + d
          Value c = idx(0);
          c = arith::AddIOp::create(
              b, nl, arith::MulIOp::create(b, nl, c, iconst(b, nl, 2)), idx(1));
          c = arith::AddIOp::create(
              b, nl, arith::MulIOp::create(b, nl, c, iconst(b, nl, kvh)),
              idx(2));
          c = arith::AddIOp::create(
              b, nl, arith::MulIOp::create(b, nl, c, iconst(b, nl, hd)),
              idx(4));
          Value inside = arith::CmpIOp::create(b, nl, arith::CmpIPredicate::ult,
                                               c, iconst(b, nl, d));
          Value col = arith::SelectOp::create(b, nl, inside, c, iconst(b, nl, 0));
          Value v = tensor::ExtractOp::create(b, nl, x, ValueRange{idx(3), col});
          return arith::SelectOp::create(b, nl, inside, v, args[0]);
        });
    rw.replaceOp(op, tensor::InsertSliceOp::create(rw, l, out, cache, offsets,
                                                   sizes, strides));
    return success();
  }
};

struct LowerCacheMark : OpConversionPattern<CacheMarkOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(CacheMarkOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location l = op.getLoc();
    StateLayout s(op.getCache().getType());
    Value cache = a.getCache();
    Value end = toF32(rw, l, a.getEnd());
    Value start = toF32(rw, l, a.getStart());
    for (int64_t j = 0; j < s.layers; ++j) {
      SmallVector<Value> at = s.counter(rw, l, j);
      Value v = end;
      if (j > static_cast<int64_t>(op.getLayer()))
        v = arith::MinimumFOp::create(
            rw, l, tensor::ExtractOp::create(rw, l, cache, at), start);
      cache = tensor::InsertOp::create(rw, l, v, cache, at);
    }
    rw.replaceOp(op, cache);
    return success();
  }
};
} // namespace

void mlir::llm::lowering::populatePendingStatePatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<LowerCacheFilled, LowerCachePending, LowerCacheStash,
               LowerCacheMark>(converter, patterns.getContext());
}
