//===- Norms.cpp - llm.rms_norm, llm.add_rms_norm, llm.layer_norm ---------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp).
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
/// Sum of squares over the last dimension.
Value sumOfSquares(OpBuilder &b, Location loc, Value x) {
  return reduceLast(b, loc, x, 0.0, [](OpBuilder &nb, Location l, ValueRange args) {
    Value sq = arith::MulFOp::create(nb, l, args[0], args[0]);
    return arith::AddFOp::create(nb, l, args[1], sq);
  });
}

/// 1 / sqrt(ss / n + eps), in llama2.c's operation order.
Value inverseRootMean(OpBuilder &b, Location l, Value ss, int64_t n,
                      double eps) {
  Type elt = ss.getType();
  Value mean = arith::DivFOp::create(b, l, ss, fconst(b, l, elt, double(n)));
  Value var = arith::AddFOp::create(b, l, mean, fconst(b, l, elt, eps));
  return arith::DivFOp::create(b, l, fconst(b, l, elt, 1.0),
                               math::SqrtOp::create(b, l, var));
}

/// The norm's scale of one element: `w`, or `offset + w` (Gemma's 1 + w).
Value normScale(OpBuilder &b, Location l, Value w, Type elt,
                std::optional<double> offset) {
  Value g = castFloat(b, l, w, elt);
  return offset ? Value(arith::AddFOp::create(b, l, fconst(b, l, elt, *offset),
                                              g))
                : g;
}

/// `w * (x * inv)` per element (llama2.c's rmsnorm order), or `x * inv`
/// when the scale was folded away; `inv` per row from `ss`.
Value normalizeRows(OpBuilder &b, Location loc, Value x, Value ss, Value w,
                    int64_t n, double eps, std::optional<double> offset) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elt = type.getElementType();
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> ins = {x, ss};
  SmallVector<AffineMap> maps = {b.getMultiDimIdentityMap(rank),
                                 rowMap(ctx, rank)};
  if (w) {
    ins.push_back(w);
    maps.push_back(map(ctx, rank, {rank - 1}));
  }
  maps.push_back(b.getMultiDimIdentityMap(rank));
  return generic(
      b, loc, ins, emptyLike(b, loc, x), maps,
      SmallVector<IteratorType>(rank, par),
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        Value inv = inverseRootMean(nb, l, args[1], n, eps);
        Value scaled = arith::MulFOp::create(nb, l, inv, args[0]);
        if (!w)
          return scaled;
        return arith::MulFOp::create(nb, l,
                                     normScale(nb, l, args[2], elt, offset),
                                     scaled);
      });
}

/// llama2.c's rmsnorm: `w * (x * 1/sqrt(mean(x^2) + eps))`.
struct LowerRMSNorm : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Value x = a.getInput();
    int64_t n = cast<RankedTensorType>(x.getType()).getShape().back();
    Value ss = sumOfSquares(rw, op.getLoc(), x);
    std::optional<double> offset;
    if (auto o = op.getWeightOffset())
      offset = o->convertToDouble();
    rw.replaceOp(op, normalizeRows(rw, op.getLoc(), x, ss, a.getWeight(), n,
                                   op.getEps().convertToDouble(), offset));
    return success();
  }
};

/// sum = a + b and its rmsnorm in two passes over the rows: the sum of
/// squares adds on the fly, the second pass writes both results.
struct LowerAddRMSNorm : OpConversionPattern<AddRMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AddRMSNormOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    Value x = a.getInput(), r = a.getResidual();
    auto type = cast<RankedTensorType>(x.getType());
    Type elt = type.getElementType();
    unsigned rank = type.getRank();
    int64_t n = type.getShape().back();
    double eps = op.getEps().convertToDouble();
    std::optional<double> offset;
    if (auto o = op.getWeightOffset())
      offset = o->convertToDouble();
    SmallVector<int64_t> rowShape(type.getShape().drop_back());
    SmallVector<Value> rowDyn = dynamicSizes(rw, loc, x);
    if (type.isDynamicDim(rank - 1))
      rowDyn.pop_back();
    Value ssInit = fill(rw, loc, empty(rw, loc, rowShape, elt, rowDyn), 0.0);
    SmallVector<IteratorType> iters(rank, par);
    iters.back() = red;
    AffineMap id = rw.getMultiDimIdentityMap(rank);
    Value ss = generic(rw, loc, ValueRange{x, r}, ssInit,
                       {id, id, rowMap(ctx, rank)}, iters,
                       [&](OpBuilder &b, Location l, ValueRange args) {
                         Value s = arith::AddFOp::create(b, l, args[0], args[1]);
                         Value sq = arith::MulFOp::create(b, l, s, s);
                         return arith::AddFOp::create(b, l, args[2], sq);
                       });
    SmallVector<Value> ins = {x, r, ss};
    SmallVector<AffineMap> maps = {id, id, rowMap(ctx, rank)};
    Value w = a.getWeight();
    if (w) {
      ins.push_back(w);
      maps.push_back(map(ctx, rank, {rank - 1}));
    }
    maps.append({id, id});
    auto both = linalg::GenericOp::create(
        rw, loc, TypeRange{type, type}, ins,
        ValueRange{emptyLike(rw, loc, x), emptyLike(rw, loc, x)}, maps,
        SmallVector<IteratorType>(rank, par),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value s = arith::AddFOp::create(b, l, args[0], args[1]);
          Value inv = inverseRootMean(b, l, args[2], n, eps);
          Value y = arith::MulFOp::create(b, l, inv, s);
          if (w)
            y = arith::MulFOp::create(b, l,
                                      normScale(b, l, args[3], elt, offset), y);
          linalg::YieldOp::create(b, l, ValueRange{s, y});
        });
    rw.replaceOp(op, both.getResults());
    return success();
  }
};

struct LowerLayerNorm : OpConversionPattern<LayerNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LayerNormOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    Type elt = type.getElementType();
    unsigned rank = type.getRank();
    int64_t n = type.getShape().back();
    MLIRContext *ctx = rw.getContext();
    Value sum = sumLast(rw, loc, x);
    // Centre first, then the variance of the centred values (two passes,
    // stable for large means).
    Value centred = generic(
        rw, loc, ValueRange{x, sum}, emptyLike(rw, loc, x),
        {rw.getMultiDimIdentityMap(rank), rowMap(ctx, rank),
         rw.getMultiDimIdentityMap(rank)},
        SmallVector<IteratorType>(rank, par),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(b, l, args[1],
                                             fconst(b, l, elt, double(n)));
          return arith::SubFOp::create(b, l, args[0], mean);
        });
    Value ss = sumOfSquares(rw, loc, centred);
    SmallVector<Value> ins = {centred, ss, a.getWeight()};
    SmallVector<AffineMap> maps = {rw.getMultiDimIdentityMap(rank),
                                   rowMap(ctx, rank),
                                   map(ctx, rank, {rank - 1})};
    if (a.getBias()) {
      ins.push_back(a.getBias());
      maps.push_back(map(ctx, rank, {rank - 1}));
    }
    maps.push_back(rw.getMultiDimIdentityMap(rank));
    double eps = op.getEps().convertToDouble();
    bool hasBias = static_cast<bool>(a.getBias());
    Value out = generic(
        rw, loc, ins, emptyLike(rw, loc, x), maps,
        SmallVector<IteratorType>(rank, par),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value inv = inverseRootMean(b, l, args[1], n, eps);
          Value y = arith::MulFOp::create(b, l, args[0], inv);
          y = arith::MulFOp::create(b, l, y, castFloat(b, l, args[2], elt));
          if (hasBias)
            y = arith::AddFOp::create(b, l, y, castFloat(b, l, args[3], elt));
          return y;
        });
    rw.replaceOp(op, out);
    return success();
  }
};

} // namespace

void mlir::llm::lowering::populateNormPatterns(TypeConverter &converter,
                                               RewritePatternSet &patterns) {
  patterns.add<LowerRMSNorm, LowerAddRMSNorm, LowerLayerNorm>(
      converter, patterns.getContext());
}
