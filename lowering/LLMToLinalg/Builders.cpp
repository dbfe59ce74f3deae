//===- Builders.cpp - helpers shared by the llm -> linalg patterns --------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include <cmath>

namespace mlir::llm::lowering {

/// Float constant of `type`.
Value fconst(OpBuilder &b, Location loc, Type type, double v) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, v));
}

Value iconst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Converts a float scalar to `to` (weights may be f16/bf16, math is f32).
Value castFloat(OpBuilder &b, Location loc, Value v, Type to) {
  Type from = v.getType();
  if (from == to)
    return v;
  if (from.getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
    return arith::ExtFOp::create(b, loc, to, v);
  return arith::TruncFOp::create(b, loc, to, v);
}

/// tensor.empty of `shape`, whose dynamic sizes are given in order.
Value empty(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elt,
            ValueRange dynSizes) {
  return tensor::EmptyOp::create(b, loc, RankedTensorType::get(shape, elt),
                                 dynSizes);
}

/// tensor.empty shaped like `like`.
Value emptyLike(OpBuilder &b, Location loc, Value like, Type elt) {
  auto type = cast<RankedTensorType>(like.getType());
  return tensor::EmptyOp::create(b, loc,
                                 tensor::getMixedSizes(b, loc, like),
                                 elt ? elt : type.getElementType());
}

Value fill(OpBuilder &b, Location loc, Value init, double v) {
  Type elt = cast<RankedTensorType>(init.getType()).getElementType();
  return linalg::FillOp::create(b, loc, ValueRange{fconst(b, loc, elt, v)},
                                ValueRange{init})
      .getResult(0);
}

/// Dynamic sizes of `v` (in dimension order).
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value v) {
  SmallVector<Value> sizes;
  auto type = cast<RankedTensorType>(v.getType());
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      sizes.push_back(tensor::DimOp::create(b, loc, v, d));
  return sizes;
}

/// `v` (rows dynamic, the rest static) as a full slice whose row count is
/// `rows`. Used after an scf.if: shape reasoning (the value-bounds analysis
/// behind bufferization's subset matching) then stops here instead of
/// comparing both branches, and through them every branch upstream, which
/// grows exponentially with depth.
Value withRows(OpBuilder &b, Location loc, Value v, Value rows) {
  auto type = cast<RankedTensorType>(v.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = {rows};
  for (int64_t d = 1; d < type.getRank(); ++d)
    sizes.push_back(b.getIndexAttr(type.getDimSize(d)));
  return tensor::ExtractSliceOp::create(b, loc, type, v, offsets, sizes,
                                        strides);
}

int64_t taskRows(int64_t out, int64_t rowTile, int64_t limit) {
  for (int64_t k = limit / rowTile; k > 1; --k)
    if ((out / rowTile) % k == 0)
      return rowTile * k;
  return rowTile;
}

Value padRows(OpBuilder &b, Location loc, Value x, int64_t multiple) {
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t in = xType.getShape()[1];
  int64_t dyn = ShapedType::kDynamic;
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value padded = arith::MulIOp::create(
      b, loc,
      arith::DivUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, t, iconst(b, loc, multiple - 1)),
          iconst(b, loc, multiple)),
      iconst(b, loc, multiple));
  Type elt = xType.getElementType();
  return linalg::GenericOp::create(
             b, loc, TypeRange{RankedTensorType::get({dyn, in}, elt)},
             ValueRange{}, ValueRange{empty(b, loc, {dyn, in}, elt, padded)},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(2)},
             ArrayRef<IteratorType>{par, par},
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value row = linalg::IndexOp::create(nb, l, 0);
               Value col = linalg::IndexOp::create(nb, l, 1);
               Value real = arith::CmpIOp::create(
                   nb, l, arith::CmpIPredicate::ult, row, t);
               Value safe = arith::SelectOp::create(nb, l, real, row,
                                                    iconst(nb, l, 0));
               Value v = tensor::ExtractOp::create(nb, l, x,
                                                   ValueRange{safe, col});
               linalg::YieldOp::create(
                   nb, l,
                   Value(arith::SelectOp::create(nb, l, real, v,
                                                 fconst(nb, l, elt, 0.0))));
             })
      .getResult(0);
}

AffineMap map(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}


/// One linalg.generic with a single result; `body` gets the block arguments
/// (inputs, then the output) and returns the value to yield.
Value generic(OpBuilder &b, Location loc, ValueRange inputs, Value init,
              ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iters,
              BodyFn body) {
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location nl, ValueRange args) {
        linalg::YieldOp::create(nb, nl, body(nb, nl, args));
      });
  return op.getResult(0);
}

/// Marks the op defining `v` for the backend schedule (see ScheduleCPU).
Value tag(Value v, StringRef schedule) {
  v.getDefiningOp()->setAttr("llm.schedule",
                             StringAttr::get(v.getContext(), schedule));
  return v;
}

/// Elementwise op over tensors of one shape (identity maps).
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs, Type elt,
                  BodyFn body) {
  auto type = cast<RankedTensorType>(inputs[0].getType());
  unsigned rank = type.getRank();
  SmallVector<AffineMap> maps(inputs.size() + 1,
                              b.getMultiDimIdentityMap(rank));
  SmallVector<IteratorType> iters(rank, par);
  return generic(b, loc, inputs, emptyLike(b, loc, inputs[0], elt), maps,
                 iters, body);
}

/// Reduction of the last dimension of a rank-N tensor into a rank-(N-1) one:
/// `acc = combine(acc, x)` starting from `initValue`.
Value reduceLast(OpBuilder &b, Location loc, Value x, double initValue,
                 BodyFn combine) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<int64_t> shape(type.getShape().drop_back());
  SmallVector<Value> dyn;
  for (unsigned d = 0; d + 1 < rank; ++d)
    if (type.isDynamicDim(d))
      dyn.push_back(tensor::DimOp::create(b, loc, x, d));
  Value init = fill(b, loc, empty(b, loc, shape, type.getElementType(), dyn),
                    initValue);
  SmallVector<unsigned> outer;
  for (unsigned d = 0; d + 1 < rank; ++d)
    outer.push_back(d);
  SmallVector<IteratorType> iters(rank, par);
  iters.back() = red;
  return generic(b, loc, x, init,
                 {b.getMultiDimIdentityMap(rank),
                  map(b.getContext(), rank, outer)},
                 iters, combine);
}

/// `x` with its last dimension broadcast away: maps of rank-N loops reading a
/// rank-(N-1) "row" tensor.
AffineMap rowMap(MLIRContext *ctx, unsigned rank) {
  SmallVector<unsigned> outer;
  for (unsigned d = 0; d + 1 < rank; ++d)
    outer.push_back(d);
  return map(ctx, rank, outer);
}

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

Value sumLast(OpBuilder &b, Location loc, Value x) {
  return reduceLast(b, loc, x, 0.0,
                    [](OpBuilder &nb, Location l, ValueRange args) {
                      return arith::AddFOp::create(nb, l, args[1], args[0]);
                    });
}

/// Softmax over the last dimension: max, exp(x - max), sum, divide.
Value softmaxLast(OpBuilder &b, Location loc, Value x, StringRef schedule) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elt = type.getElementType();
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  Value mx = tag(reduceLast(b, loc, x,
                            -std::numeric_limits<double>::infinity(),
                            [](OpBuilder &nb, Location l, ValueRange args) {
                              return arith::MaximumFOp::create(nb, l, args[1],
                                                               args[0]);
                            }),
                 schedule);
  SmallVector<IteratorType> iters(rank, par);
  AffineMap id = b.getMultiDimIdentityMap(rank), row = rowMap(ctx, rank);
  Value e = tag(generic(b, loc, ValueRange{x, mx}, emptyLike(b, loc, x),
                        {id, row, id}, iters,
                        [](OpBuilder &nb, Location l, ValueRange args) {
                          Value d =
                              arith::SubFOp::create(nb, l, args[0], args[1]);
                          return math::ExpOp::create(nb, l, d);
                        }),
                schedule);
  Value sum = tag(sumLast(b, loc, e), schedule);
  return tag(generic(b, loc, ValueRange{e, sum}, emptyLike(b, loc, x),
                     {id, row, id}, iters,
                     [](OpBuilder &nb, Location l, ValueRange args) {
                       return arith::DivFOp::create(nb, l, args[0], args[1]);
                     }),
             schedule);
}



Value activate(OpBuilder &b, Location l, Activation act,
                                    Value x) {
  Type elt = x.getType();
  if (act == Activation::silu) {
    Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
    Value d = arith::AddFOp::create(b, l, fconst(b, l, elt, 1.0), e);
    Value s = arith::DivFOp::create(b, l, fconst(b, l, elt, 1.0), d);
    return arith::MulFOp::create(b, l, x, s);
  }
  Value inner;
  if (act == Activation::gelu_tanh) {
    // tanh(sqrt(2/pi) * (x + 0.044715 x^3))
    Value x3 = arith::MulFOp::create(b, l, x, arith::MulFOp::create(b, l, x, x));
    Value s = arith::AddFOp::create(
        b, l, x, arith::MulFOp::create(b, l, fconst(b, l, elt, 0.044715), x3));
    inner = math::TanhOp::create(
        b, l,
        arith::MulFOp::create(b, l, fconst(b, l, elt, std::sqrt(2.0 / M_PI)), s));
  } else {
    inner = math::ErfOp::create(
        b, l, arith::MulFOp::create(b, l, x, fconst(b, l, elt, M_SQRT1_2)));
  }
  Value one = arith::AddFOp::create(b, l, fconst(b, l, elt, 1.0), inner);
  Value half = arith::MulFOp::create(b, l, fconst(b, l, elt, 0.5), x);
  return arith::MulFOp::create(b, l, half, one);
}

Value softcap(OpBuilder &b, Location l, Value x, double cap) {
  Type elt = getElementTypeOrSelf(x.getType());
  auto splat = [&](double v) -> Value {
    Value c = fconst(b, l, elt, v);
    if (auto vt = dyn_cast<VectorType>(x.getType()))
      return vector::BroadcastOp::create(b, l, vt, c);
    return c;
  };
  Value t = math::TanhOp::create(
      b, l, arith::DivFOp::create(b, l, x, splat(cap)));
  return arith::MulFOp::create(b, l, t, splat(cap));
}

Value inverseStep(OpBuilder &b, Location l, Value amax) {
  Type f32 = b.getF32Type();
  Value d = arith::DivFOp::create(b, l, amax, fconst(b, l, f32, 127.0));
  Value zero = fconst(b, l, f32, 0.0);
  return arith::SelectOp::create(
      b, l, arith::CmpFOp::create(b, l, arith::CmpFPredicate::OEQ, d, zero),
      zero, arith::DivFOp::create(b, l, fconst(b, l, f32, 1.0), d));
}

bool hasWideUnsignedDots(OpBuilder &b) {
  Operation *at = b.getInsertionBlock()->getParentOp();
  auto module = dyn_cast<ModuleOp>(at);
  if (!module)
    module = at->getParentOfType<ModuleOp>();
  auto dotIsa = module ? module->getAttrOfType<StringAttr>(kDotIsaAttr)
                       : StringAttr();
  return dotIsa &&
         (dotIsa.getValue() == "vnni" || dotIsa.getValue() == "neon-i8mm");
}

} // namespace mlir::llm::lowering
