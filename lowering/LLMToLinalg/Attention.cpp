//===- Attention.cpp - llm.rope and llm.attention -------------------------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp).
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
/// YaRN: each pair's frequency blended between `inv` (extrapolation) and
/// `inv / factor` (interpolation) along a ramp over the pair index from
/// the pair completing beta_fast rotations in the original context to the
/// one completing beta_slow, bounds floored/ceiled (transformers'
/// _compute_yarn_parameters, with its float32 ramp).
SmallVector<float> yarnInverseFrequencies(RopeScalingAttr s, double theta,
                                          SmallVector<float> inv) {
  double dim = 2.0 * inv.size(), original = s.getOriginalMaxPositions();
  auto correctionDim = [&](double rotations) {
    return dim * std::log(original / (rotations * 2 * M_PI)) /
           (2 * std::log(theta));
  };
  double low = std::max(std::floor(correctionDim(s.getBetaFast().convertToDouble())), 0.0);
  double high = std::min(std::ceil(correctionDim(s.getBetaSlow().convertToDouble())), dim - 1);
  if (low == high)
    high += 0.001; // as the reference: no division by zero
  float factor = static_cast<float>(s.getFactor().convertToDouble());
  for (size_t i = 0; i < inv.size(); ++i) {
    float ramp = std::clamp((float(i) - float(low)) / float(high - low), 0.0f,
                            1.0f);
    float extrapolation = 1.0f - ramp;
    inv[i] = inv[i] / factor * (1.0f - extrapolation) + inv[i] * extrapolation;
  }
  return inv;
}

/// Inverse frequencies of the rotary pairs, computed in f32 exactly as
/// llama2.c and Hugging Face do (1 / theta^(2i/d)), then rescaled; for
/// longrope, 1 / (factor[i] * theta^(2i/d)) with `factors` short or long.
SmallVector<float> ropeInverseFrequencies(RoPEOp op,
                                          ArrayRef<double> factors = {}) {
  int64_t hd = op.getRotaryDims(); // the rotated part of a head
  float theta = static_cast<float>(op.getTheta().convertToDouble());
  SmallVector<float> inv;
  for (int64_t i = 0; i < hd / 2; ++i) {
    float base = std::pow(theta, float(2 * i) / float(hd));
    inv.push_back(1.0f / (factors.empty() ? base : float(factors[i]) * base));
  }
  RopeScalingAttr s = op.getScalingAttr();
  if (!s || s.getKind() == RopeScalingKind::longrope)
    return inv;
  if (s.getKind() == RopeScalingKind::yarn)
    return yarnInverseFrequencies(s, op.getTheta().convertToDouble(), inv);
  float factor = static_cast<float>(s.getFactor().convertToDouble());
  if (s.getKind() == RopeScalingKind::linear) {
    for (float &f : inv)
      f /= factor;
    return inv;
  }
  // Llama 3.1 wavelength-dependent scaling.
  float lowFreq = static_cast<float>(s.getLowFreqFactor().convertToDouble());
  float highFreq = static_cast<float>(s.getHighFreqFactor().convertToDouble());
  float oldCtx = static_cast<float>(s.getOriginalMaxPositions());
  float lowWavelen = oldCtx / lowFreq, highWavelen = oldCtx / highFreq;
  for (float &f : inv) {
    float wavelen = 2.0f * static_cast<float>(M_PI) / f;
    if (wavelen < highWavelen)
      continue;
    if (wavelen > lowWavelen) {
      f /= factor;
      continue;
    }
    float smooth = (oldCtx / wavelen - lowFreq) / (highFreq - lowFreq);
    f = (1.0f - smooth) * f / factor + smooth * f;
  }
  return inv;
}

struct LowerRoPE : OpConversionPattern<RoPEOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RoPEOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    if (type.getRank() != 2)
      return rw.notifyMatchFailure(op, "only [tokens, heads*head_dim] inputs");
    Type elt = type.getElementType();
    int64_t hd = op.getHeadDim();
    // Only the first rd elements of a head rotate (partial rotary).
    int64_t rd = op.getRotaryDims();
    bool interleaved = op.getStyle() == RopeStyle::interleaved;
    auto invType = RankedTensorType::get({rd / 2}, rw.getF32Type());
    auto table = [&](ArrayRef<float> inv) -> Value {
      return arith::ConstantOp::create(
          rw, loc, DenseElementsAttr::get(invType, inv));
    };
    Value pos = a.getStartPos();
    RopeScalingAttr scaling = op.getScalingAttr();
    Value invFreq, invLong, beyond;
    std::optional<double> cosSinScale;
    if (scaling && scaling.getKind() == RopeScalingKind::longrope) {
      // The long factors once the sequence outgrows the original context
      // (as transformers decides per forward, from the last position).
      Value end = arith::AddIOp::create(rw, loc, pos,
                                        tensor::DimOp::create(rw, loc, x, 0));
      beyond = arith::CmpIOp::create(
          rw, loc, arith::CmpIPredicate::ugt, end,
          iconst(rw, loc, scaling.getOriginalMaxPositions()));
      invFreq = table(ropeInverseFrequencies(op, scaling.getShortFactor()));
      invLong = table(ropeInverseFrequencies(op, scaling.getLongFactor()));
      cosSinScale = scaling.getAttentionFactor().convertToDouble();
    } else {
      invFreq = table(ropeInverseFrequencies(op));
      if (scaling && scaling.getKind() == RopeScalingKind::yarn &&
          scaling.getAttentionFactor().convertToDouble() != 1.0)
        cosSinScale = scaling.getAttentionFactor().convertToDouble();
    }
    Value out = elementwise(
        rw, loc, x, elt, [&](OpBuilder &b, Location l, ValueRange args) {
          Value t = linalg::IndexOp::create(b, l, 0);
          Value c = linalg::IndexOp::create(b, l, 1);
          Value hdC = iconst(b, l, hd);
          Value j = arith::RemUIOp::create(b, l, c, hdC);
          Value base = arith::SubIOp::create(b, l, c, j);
          // Pair index i, whether this element is the second of its pair,
          // and the partner's column.
          Value i, second, partner;
          if (interleaved) {
            i = arith::DivUIOp::create(b, l, j, iconst(b, l, 2));
            Value odd = arith::RemUIOp::create(b, l, j, iconst(b, l, 2));
            second = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, odd,
                                           iconst(b, l, 1));
            Value pj = arith::XOrIOp::create(b, l, j, iconst(b, l, 1));
            partner = arith::AddIOp::create(b, l, base, pj);
          } else {
            Value half = iconst(b, l, rd / 2);
            second = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, j,
                                           half);
            Value lo = arith::SubIOp::create(b, l, j, half);
            Value hi = arith::AddIOp::create(b, l, j, half);
            i = arith::SelectOp::create(b, l, second, lo, j);
            Value pj = arith::SelectOp::create(b, l, second, lo, hi);
            partner = arith::AddIOp::create(b, l, base, pj);
          }
          // Past the rotary part (partial rotary) elements pass through;
          // their pair index is clamped to stay inside the table.
          Value rotary;
          if (rd < hd) {
            rotary = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, j,
                                           iconst(b, l, rd));
            i = arith::SelectOp::create(b, l, rotary, i, iconst(b, l, 0));
          }
          Value p = arith::AddIOp::create(b, l, pos, t);
          Value pf = arith::UIToFPOp::create(
              b, l, b.getF32Type(),
              arith::IndexCastUIOp::create(b, l, b.getI64Type(), p));
          Value f = tensor::ExtractOp::create(b, l, invFreq, ValueRange{i});
          if (invLong)
            f = arith::SelectOp::create(
                b, l, beyond,
                tensor::ExtractOp::create(b, l, invLong, ValueRange{i}), f);
          Value angle = arith::MulFOp::create(b, l, pf, f);
          Value cosF = math::CosOp::create(b, l, angle);
          Value sinF = math::SinOp::create(b, l, angle);
          if (cosSinScale) {
            Value m = fconst(b, l, b.getF32Type(), *cosSinScale);
            cosF = arith::MulFOp::create(b, l, cosF, m);
            sinF = arith::MulFOp::create(b, l, sinF, m);
          }
          Value cos = castFloat(b, l, cosF, elt);
          Value sin = castFloat(b, l, sinF, elt);
          Value other = tensor::ExtractOp::create(b, l, x,
                                                  ValueRange{t, partner});
          // first' = first*cos - second*sin; second' = first*sin + second*cos
          Value selfCos = arith::MulFOp::create(b, l, args[0], cos);
          Value otherSin = arith::MulFOp::create(b, l, other, sin);
          Value asFirst = arith::SubFOp::create(b, l, selfCos, otherSin);
          Value asSecond = arith::AddFOp::create(b, l, otherSin, selfCos);
          Value rotated =
              arith::SelectOp::create(b, l, second, asSecond, asFirst);
          return rotary ? Value(arith::SelectOp::create(b, l, rotary, rotated,
                                                        args[0]))
                        : rotated;
        });
    rw.replaceOp(op, out);
    return success();
  }
};

/// int8 KV cache (see cacheTensorType): the writes and, without flash
/// attention, the dequantized reads of one layer. Both keys and values are
/// rows [capacity, head_dim + 4] per head: head_dim int8 values, then the
/// f32 scale's 4 bytes; every region is a slice of the 5-D cache (no
/// reshape), so bufferization updates it in place.
struct Int8Cache {
  OpBuilder &b;
  Location loc;
  OpFoldResult layer; ///< static, or an outlined layer's index
  int64_t kvh, cap, hd;

  SmallVector<OpFoldResult> at(int64_t kind, OpFoldResult pos,
                               int64_t column) {
    return {layer, b.getIndexAttr(kind), b.getIndexAttr(0),
            pos, b.getIndexAttr(column)};
  }
  SmallVector<OpFoldResult> size(OpFoldResult rows, int64_t columns) {
    return {b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(kvh), rows,
            b.getIndexAttr(columns)};
  }
  SmallVector<OpFoldResult> ones() {
    return SmallVector<OpFoldResult>(5, b.getIndexAttr(1));
  }

  /// Writes x ([T, kvh, hd] f32) at positions [pos, pos + T) of `kind` (0
  /// keys, 1 values): per (token, head) the scale d = max |x| / 127 and the
  /// int8 values round_even(x / d).
  Value write(Value cache, Value x, Value pos, Value t, int64_t kind) {
    MLIRContext *ctx = b.getContext();
    int64_t dyn = ShapedType::kDynamic;
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    Value amax = generic(
        b, loc, {x}, fill(b, loc, empty(b, loc, {dyn, kvh}, f32, t), 0.0),
        {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1})}, {par, par, red},
        [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          return arith::MaximumFOp::create(
              nb, nl, args[1], math::AbsFOp::create(nb, nl, args[0]));
        });
    Value inv = elementwise(b, loc, amax, f32,
                            [](OpBuilder &nb, Location nl, ValueRange args) {
                              return inverseStep(nb, nl, args[0]);
                            });
    // Both results are computed into their slices of the cache (so
    // bufferization writes the cache in place, no copy).
    auto dest = [&](int64_t column, int64_t columns) {
      return tensor::ExtractSliceOp::create(
          b, loc, RankedTensorType::get({kvh, dyn, columns}, i8), cache,
          at(kind, pos, column), size(t, columns), ones());
    };
    // Iteration (h, t, d) into [kvh, T, hd].
    Value q = generic(
        b, loc, {x, inv}, dest(0, hd),
        {map(ctx, 3, {1, 0, 2}), map(ctx, 3, {1, 0}), map(ctx, 3, {0, 1, 2})},
        {par, par, par},
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value r = math::RoundEvenOp::create(
              nb, nl, arith::MulFOp::create(nb, nl, args[0], args[1]));
          return arith::FPToSIOp::create(nb, nl, i8, r);
        });
    cache = tensor::InsertSliceOp::create(b, loc, q, cache, at(kind, pos, 0),
                                          size(t, hd), ones());
    // The scales' little-endian bytes, [kvh, T, 4].
    Value sb = generic(
        b, loc, {amax}, dest(hd, 4),
        {map(ctx, 3, {1, 0}), map(ctx, 3, {0, 1, 2})}, {par, par, par},
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Type i32 = nb.getI32Type();
          Value d = arith::DivFOp::create(nb, nl, args[0],
                                          fconst(nb, nl, f32, 127.0));
          Value bits = arith::BitcastOp::create(nb, nl, i32, d);
          Value k = arith::IndexCastOp::create(
              nb, nl, i32, linalg::IndexOp::create(nb, nl, 2));
          Value sh = arith::MulIOp::create(
              nb, nl, k, arith::ConstantIntOp::create(nb, nl, i32, 8));
          return arith::TruncIOp::create(
              nb, nl, i8, arith::ShRUIOp::create(nb, nl, bits, sh));
        });
    return tensor::InsertSliceOp::create(b, loc, sb, cache,
                                         at(kind, pos, hd), size(t, 4),
                                         ones());
  }

  /// Positions [0, padded) of `kind` dequantized to f32: as keys
  /// [kvh, hd, padded] or as values [kvh, padded, hd].
  Value read(Value cache, Value padded, int64_t kind, bool keys) {
    MLIRContext *ctx = b.getContext();
    int64_t dyn = ShapedType::kDynamic;
    Type f32 = b.getF32Type(), i8 = b.getI8Type();
    Value rows = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kvh, dyn, hd + 4}, i8), cache,
        at(kind, b.getIndexAttr(0), 0), size(padded, hd + 4), ones());
    // The scales: [kvh, padded] i32 from each row's 4 bytes, as f32.
    Value bytes = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kvh, dyn, 4}, i8), cache,
        at(kind, b.getIndexAttr(0), hd), size(padded, 4), ones());
    Type i32 = b.getI32Type();
    Value bits = generic(
        b, loc, {bytes},
        linalg::FillOp::create(
            b, loc, arith::ConstantIntOp::create(b, loc, i32, 0).getResult(),
            empty(b, loc, {kvh, dyn}, i32, padded))
            .getResult(0),
        {map(ctx, 3, {0, 1, 2}), map(ctx, 3, {0, 1})}, {par, par, red},
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value k = arith::IndexCastOp::create(
              nb, nl, i32, linalg::IndexOp::create(nb, nl, 2));
          Value sh = arith::MulIOp::create(
              nb, nl, k, arith::ConstantIntOp::create(nb, nl, i32, 8));
          return arith::OrIOp::create(
              nb, nl, args[1],
              arith::ShLIOp::create(
                  nb, nl, arith::ExtUIOp::create(nb, nl, i32, args[0]), sh));
        });
    Value data = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kvh, dyn, hd}, i8), rows,
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                               b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(kvh), padded, b.getIndexAttr(hd)},
        SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
    // Iteration (h, a, c) over the output: the position is c for keys, a
    // for values.
    unsigned p = keys ? 2 : 1, d = keys ? 1 : 2;
    SmallVector<int64_t> outShape = keys ? SmallVector<int64_t>{kvh, hd, dyn}
                                         : SmallVector<int64_t>{kvh, dyn, hd};
    return generic(
        b, loc, {data, bits}, empty(b, loc, outShape, f32, padded),
        {map(ctx, 3, {0, p, d}), map(ctx, 3, {0, p}), map(ctx, 3, {0, 1, 2})},
        {par, par, par},
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value scale = arith::BitcastOp::create(nb, nl, f32, args[1]);
          return arith::MulFOp::create(
              nb, nl, arith::SIToFPOp::create(nb, nl, f32, args[0]), scale);
        });
  }
};

/// f32/f16 KV cache (see cacheTensorType): one layer's writes and reads.
/// Keys are stored transposed ([kvh, hd, cap], so scores stream positions),
/// values (and a shared cache's keys) as rows [kvh, cap, hd]; every region
/// is a slice of the 5-D cache, so bufferization updates it in place.
struct FloatCache {
  OpBuilder &b;
  Location loc;
  OpFoldResult layer; ///< static, or an outlined layer's index
  int64_t kvh, cap, hd;
  Type elt;

  SmallVector<OpFoldResult> at(int64_t kind, OpFoldResult pos) {
    return {layer, b.getIndexAttr(kind), b.getIndexAttr(0),
            pos, b.getIndexAttr(0)};
  }
  SmallVector<OpFoldResult> size(OpFoldResult rows) {
    return {b.getIndexAttr(1), b.getIndexAttr(1), b.getIndexAttr(kvh), rows,
            b.getIndexAttr(hd)};
  }
  SmallVector<OpFoldResult> ones(unsigned n) {
    return SmallVector<OpFoldResult>(n, b.getIndexAttr(1));
  }
  /// [kvh, cap, hd] slot <-> [kvh, hd, cap]: the same memory seen with the
  /// other shape.
  Value reshaped(Value v, ArrayRef<int64_t> to) {
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, v, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
    return tensor::ExpandShapeOp::create(
               b, loc, RankedTensorType::get(to, elt), flat,
               ArrayRef<ReassociationIndices>{{0}, {1, 2}})
        .getResult();
  }
  Value slot(Value cache, int64_t kind) {
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kvh, cap, hd}, elt), cache,
        at(kind, b.getIndexAttr(0)), size(b.getIndexAttr(cap)), ones(5));
  }

  /// x ([T, kvh, hd]) as rows [pos, pos + T) of `kind`.
  Value writeRows(Value cache, Value x, Value pos, Value t, int64_t kind) {
    Value rows = linalg::TransposeOp::create(
                     b, loc, x,
                     empty(b, loc, {kvh, ShapedType::kDynamic, hd}, elt, t),
                     ArrayRef<int64_t>{1, 0, 2})
                     .getResult()[0];
    return tensor::InsertSliceOp::create(b, loc, rows, cache, at(kind, pos),
                                         size(t), ones(5));
  }

  /// Keys x ([T, kvh, hd]) into the transposed key slot at column pos.
  Value writeTransposed(Value cache, Value x, Value pos, Value t) {
    Value keySlot = slot(cache, 0);
    Value kT = linalg::TransposeOp::create(
                   b, loc, x,
                   empty(b, loc, {kvh, hd, ShapedType::kDynamic}, elt, t),
                   ArrayRef<int64_t>{1, 2, 0})
                   .getResult()[0];
    Value keysT = tensor::InsertSliceOp::create(
        b, loc, kT, reshaped(keySlot, {kvh, hd, cap}),
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0), pos},
        ArrayRef<OpFoldResult>{b.getIndexAttr(kvh), b.getIndexAttr(hd), t},
        ones(3));
    return tensor::InsertSliceOp::create(
        b, loc, reshaped(keysT, {kvh, cap, hd}), cache,
        at(0, b.getIndexAttr(0)), size(b.getIndexAttr(cap)), ones(5));
  }

  /// Rows [0, padded) of `kind`: [kvh, padded, hd].
  Value readRows(Value cache, Value padded, int64_t kind) {
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kvh, ShapedType::kDynamic, hd}, elt),
        cache, at(kind, b.getIndexAttr(0)), size(padded), ones(5));
  }

  /// Transposed keys of positions [0, padded): [kvh, hd, padded].
  Value readTransposed(Value cache, Value padded) {
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({kvh, hd, ShapedType::kDynamic}, elt),
        reshaped(slot(cache, 0), {kvh, hd, cap}),
        ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0),
                               b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(kvh), b.getIndexAttr(hd), padded},
        ones(3));
  }

  /// [kvh, padded, hd] rows as [kvh, hd, padded] (a shared cache's keys).
  Value transposeRows(Value rows, Value padded) {
    return linalg::TransposeOp::create(
               b, loc, rows,
               empty(b, loc, {kvh, hd, ShapedType::kDynamic}, elt, padded),
               ArrayRef<int64_t>{0, 2, 1})
        .getResult()[0];
  }
};

/// Grouped-query attention over the cache tensor (see cacheTensorType):
/// keys stored transposed per layer, values row by row.
struct LowerAttention : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    KVCacheType cacheType = op.getCache().getType();
    Type elt = op.getQuery().getType().getElementType();
    bool int8 = cacheType.getElementType().isInteger(8);
    if (cacheType.getElementType() != elt && !(int8 && elt.isF32()))
      return rw.notifyMatchFailure(op, "cache and activations differ in type");
    int64_t kvh = op.getNumKvHeads(), h = op.getNumHeads();
    int64_t g = h / kvh, hd = cacheType.getHeadDim();
    OpFoldResult layer = cacheLayer(rw, op, a.getLayerIndex());
    int64_t dyn = ShapedType::kDynamic;
    Value q = a.getQuery(), k = a.getKey(), v = a.getValue();
    Value cache = a.getCache();
    Value pos = a.getStartPos();
    Value t = tensor::DimOp::create(rw, loc, q, 0);
    Value len = arith::AddIOp::create(rw, loc, pos, t);

    int64_t cap = cacheTensorType(cacheType).getShape()[3];
    // Positions read back, rounded up to whole blocks of kKeyBlock (the
    // capacity is a multiple of it); positions >= len are masked.
    Value padded = arith::MulIOp::create(
        rw, loc,
        arith::DivUIOp::create(
            rw, loc, arith::AddIOp::create(rw, loc, len, iconst(rw, loc, kKeyBlock - 1)),
            iconst(rw, loc, kKeyBlock)),
        iconst(rw, loc, kKeyBlock));
    auto split = [&](Value src) {
      return tensor::ExpandShapeOp::create(
                 rw, loc, RankedTensorType::get({dyn, kvh, hd}, elt), src,
                 ArrayRef<ReassociationIndices>{{0}, {1, 2}},
                 ArrayRef<OpFoldResult>{t, rw.getIndexAttr(kvh),
                                        rw.getIndexAttr(hd)})
          .getResult();
    };

    // A shared cache stores the keys only, as rows: they are also the
    // values (the flash kernel then reads each block once for both).
    bool shared = cacheType.getShared();
    Int8Cache int8Cache{rw, loc, layer, kvh, cap, hd};
    FloatCache floatCache{rw, loc, layer, kvh, cap, hd,
                          elt};
    if (int8) {
      cache = int8Cache.write(cache, split(k), pos, t, 0);
      if (!shared)
        cache = int8Cache.write(cache, split(v), pos, t, 1);
    } else if (shared) {
      cache = floatCache.writeRows(cache, split(k), pos, t, 0);
    } else {
      cache = floatCache.writeTransposed(cache, split(k), pos, t);
      cache = floatCache.writeRows(cache, split(v), pos, t, 1);
    }

    // Flash attention reads the cache in place; no score matrix.
    if (auto flash = op->getAttrOfType<DictionaryAttr>(kFlashAttrName)) {
      Value out = buildFlashAttention(rw, loc, op, flash, q, cache, pos, t,
                                      len, layer);
      rw.replaceOp(op, {out, cache});
      return success();
    }

    // Read back [kvh, hd, padded] keys and [kvh, padded, hd] values.
    Value keys, values;
    if (int8) {
      keys = int8Cache.read(cache, padded, 0, /*asKeys=*/true);
      values = int8Cache.read(cache, padded, shared ? 0 : 1, /*asKeys=*/false);
    } else if (shared) {
      values = floatCache.readRows(cache, padded, 0);
      keys = floatCache.transposeRows(values, padded);
    } else {
      keys = floatCache.readTransposed(cache, padded);
      values = floatCache.readRows(cache, padded, 1);
    }

    // Scores [kvh, g, T, padded]: query head kvh*g + gi attends KV head kvh;
    // positions in blocks of kKeyBlock so the vectorized tile is static.
    auto qType = RankedTensorType::get({dyn, kvh, g, hd}, elt);
    Value q4 = tensor::ExpandShapeOp::create(
        rw, loc, qType, q, ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}},
        ArrayRef<OpFoldResult>{t, rw.getIndexAttr(kvh), rw.getIndexAttr(g),
                               rw.getIndexAttr(hd)});
    Value blocks = arith::DivUIOp::create(rw, loc, padded,
                                          iconst(rw, loc, kKeyBlock));
    Value keys4 = tensor::ExpandShapeOp::create(
        rw, loc, RankedTensorType::get({kvh, hd, dyn, kKeyBlock}, elt), keys,
        ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}},
        ArrayRef<OpFoldResult>{rw.getIndexAttr(kvh), rw.getIndexAttr(hd),
                               blocks, rw.getIndexAttr(kKeyBlock)});
    Value scoresInit = fill(
        rw, loc,
        empty(rw, loc, {kvh, g, dyn, dyn, kKeyBlock}, elt, {t, blocks}), 0.0);
    // dims: (kvh, g, t, block, lane, d)
    Value dots5 = tag(generic(
        rw, loc, ValueRange{q4, keys4}, scoresInit,
        {map(ctx, 6, {2, 0, 1, 5}), map(ctx, 6, {0, 5, 3, 4}),
         map(ctx, 6, {0, 1, 2, 3, 4})},
        {par, par, par, par, par, red}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value p = arith::MulFOp::create(b, l, args[0], args[1]);
          return arith::AddFOp::create(b, l, args[2], p);
        }), "attn_qk");
    Value dots = tensor::CollapseShapeOp::create(
        rw, loc, dots5, ArrayRef<ReassociationIndices>{{0}, {1}, {2}, {3, 4}});

    // Scale and mask: position s is visible from token t when
    // s <= pos + t (causal) and s > pos + t - window (sliding window).
    std::optional<double> scale;
    if (auto s = op.getScale())
      scale = s->convertToDouble();
    bool causal = op.getCausal();
    std::optional<int64_t> window = op.getSlidingWindow();
    std::optional<double> softcapAt;
    if (auto c = op.getLogitSoftcap())
      softcapAt = c->convertToDouble();
    double ninf = -std::numeric_limits<double>::infinity();
    Value scores = tag(elementwise(
        rw, loc, dots, elt, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          // Default scale divides by sqrt(head_dim) as the references do.
          Value sc = scale ? Value(arith::MulFOp::create(b, l, args[0],
                                                   fconst(b, l, elt, *scale)))
                           : Value(arith::DivFOp::create(
                                 b, l, args[0],
                                 fconst(b, l, elt, std::sqrt(double(hd)))));
          if (softcapAt)
            sc = softcap(b, l, sc, *softcapAt);
          Value tt = linalg::IndexOp::create(b, l, 2);
          Value s = linalg::IndexOp::create(b, l, 3);
          Value self = arith::AddIOp::create(b, l, pos, tt);
          // Block padding past the written positions is never visible.
          Value hidden = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge,
                                               s, len);
          if (causal)
            hidden = arith::OrIOp::create(
                b, l, hidden,
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt, s, self));
          if (window) {
            // s + window <= self  <=>  too old.
            Value sw = arith::AddIOp::create(b, l, s, iconst(b, l, *window));
            Value old = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ule,
                                              sw, self);
            hidden = arith::OrIOp::create(b, l, hidden, old);
          }
          return arith::SelectOp::create(b, l, hidden, fconst(b, l, elt, ninf),
                                         sc);
        }), "heads");
    Value probs = softmaxLast(rw, loc, scores, "heads");

    // out[t, kvh, g, d] = sum_s p[kvh, g, t, s] * v[kvh, s, d]
    Value outInit =
        fill(rw, loc, empty(rw, loc, {dyn, kvh, g, hd}, elt, t), 0.0);
    // dims: (t, kvh, g, d, s)
    Value out4 = tag(generic(
        rw, loc, ValueRange{probs, values}, outInit,
        {map(ctx, 5, {1, 2, 0, 4}), map(ctx, 5, {1, 4, 3}),
         map(ctx, 5, {0, 1, 2, 3})},
        {par, par, par, par, red}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value p = arith::MulFOp::create(b, l, args[0], args[1]);
          return arith::AddFOp::create(b, l, args[2], p);
        }), "attn_pv");
    Value out = tensor::CollapseShapeOp::create(
        rw, loc, op.getOutput().getType(), out4,
        ArrayRef<ReassociationIndices>{{0}, {1, 2, 3}});
    rw.replaceOp(op, {out, cache});
    return success();
  }


};

} // namespace

OpFoldResult mlir::llm::lowering::cacheLayer(OpBuilder &b, AttentionOp op,
                                             Value layerIndex) {
  if (layerIndex)
    return layerIndex;
  return b.getIndexAttr(op.getLayer());
}

void mlir::llm::lowering::populateAttentionPatterns(
    TypeConverter &converter, RewritePatternSet &patterns) {
  patterns.add<LowerRoPE, LowerAttention>(converter, patterns.getContext());
}
