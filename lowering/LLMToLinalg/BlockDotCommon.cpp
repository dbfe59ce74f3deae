//===- BlockDotCommon.cpp - pieces of the block-quantized CPU kernels -----===//
//
// Part of --convert-llm-to-linalg: what BlockDot.h declares, shared by the
// q8_0 / q4_0 (BlockDot.cpp), DGQ (DGQDot.cpp) and Q4_K / Q6_K
// (KQuantDot.cpp) kernels: activation quantization per block of 32, byte
// dot products, broadcast activation words and the task / register-tile
// loops.
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/BlockDot.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::llm::lowering;

namespace mlir::llm::lowering::blockdot {

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

Value broadcastWord(OpBuilder &b, Location l, Value q, Value t, Value x) {
  Value four = read(b, l, vec(4, b.getI8Type()), q, {t, x});
  Value word = vector::ExtractOp::create(
      b, l, vector::BitCastOp::create(b, l, vec(1, b.getI32Type()), four),
      ArrayRef<int64_t>{0});
  return vector::BitCastOp::create(
      b, l, vec(kBlock, b.getI8Type()),
      vector::BroadcastOp::create(b, l, vec(kLanes, b.getI32Type()), word));
}

QuantizedBlocks quantizeBlocks(OpBuilder &b, Location l, Value xp, int64_t in,
                               bool withMagnitudes) {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic, G = in / kBlock;
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  Value tp = tensor::DimOp::create(b, l, xp, 0);
  Value x3 = tensor::ExpandShapeOp::create(
      b, l, RankedTensorType::get({dyn, G, kBlock}, f32), xp,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}},
      ArrayRef<OpFoldResult>{tp, b.getIndexAttr(G), b.getIndexAttr(kBlock)});
  QuantizedBlocks a;
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
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return inverseStep(nb, nl, args[0]);
      });
  // x / d, rounded to nearest even: the 8-bit activations (and their
  // magnitudes).
  SmallVector<Type> outTypes(withMagnitudes ? 2 : 1,
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
        if (withMagnitudes)
          ys.push_back(arith::FPToSIOp::create(
              nb, nl, i8, math::AbsFOp::create(nb, nl, r)));
        linalg::YieldOp::create(nb, nl, ys);
      });
  auto collapse = [&](Value v) {
    return tensor::CollapseShapeOp::create(
        b, l, RankedTensorType::get({dyn, in}, i8), v,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  };
  a.q = collapse(qop.getResult(0));
  if (withMagnitudes)
    a.magnitudes = collapse(qop.getResult(1));
  return a;
}

Value unpackNibbles(OpBuilder &b, Location l, Value bytes, Value data) {
  Type i8 = b.getI8Type();
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

Value blockSums(OpBuilder &b, Location l, Value q, int64_t in, int64_t span,
                int64_t bias) {
  // Each sum is one vector read and reduction: as a scalar reduction loop
  // LLVM vectorized it across sums with lane-by-lane inserts.
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type();
  Value tp = tensor::DimOp::create(b, l, q, 0);
  Value init = empty(b, l, {ShapedType::kDynamic, in / span}, i32, tp);
  return generic(
      b, l, {}, init, {map(ctx, 2, {0, 1})}, {par, par},
      [&](OpBuilder &nb, Location nl, ValueRange) -> Value {
        Value t = linalg::IndexOp::create(nb, nl, 0);
        Value col = arith::MulIOp::create(nb, nl, linalg::IndexOp::create(nb, nl, 1),
                                          iconst(nb, nl, span));
        Value v = read(nb, nl, vec(span, nb.getI8Type()), q, {t, col});
        Value wide = arith::ExtSIOp::create(nb, nl, vec(span, i32), v);
        Value sum = vector::ReductionOp::create(nb, nl,
                                                vector::CombiningKind::ADD, wide);
        return arith::MulIOp::create(
            nb, nl, sum, arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(bias)));
      });
}

/// The [Tp, out] f32 result of tasks of `task` output columns run by an
/// scf.forall: `body(b, l, col0, tile)` builds the task whose first column
/// is `col0` and returns its [Tp, task] result (`tile` is the destination
/// slice, to thread through its loops).
static Value forEachRowTask(
    OpBuilder &b, Location l, Value tp, int64_t out, int64_t task,
    function_ref<Value(OpBuilder &, Location, Value, Value)> body) {
  Type f32 = b.getF32Type();
  Value y = empty(b, l, {ShapedType::kDynamic, out}, f32, tp);
  auto forall = scf::ForallOp::create(
      b, l, ArrayRef<OpFoldResult>{b.getIndexAttr(out / task)}, ValueRange{y},
      std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getTerminator());
  Value col0 = arith::MulIOp::create(b, l, forall.getInductionVar(0),
                                     iconst(b, l, task));
  auto tileType = RankedTensorType::get({ShapedType::kDynamic, task}, f32);
  Value tile = tensor::ExtractSliceOp::create(
      b, l, tileType, forall.getRegionIterArgs()[0],
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), col0},
      ArrayRef<OpFoldResult>{tp, b.getIndexAttr(task)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  Value result = body(b, l, col0, tile);
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(
      b, l, result, forall.getRegionIterArgs()[0],
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), col0},
      ArrayRef<OpFoldResult>{tp, b.getIndexAttr(task)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  return forall.getResult(0);
}

void markForPrefetch(OpBuilder &b, Operation *loop) {
  loop->setAttr(kPrefetchBytesAttrName, b.getI64IntegerAttr(2048));
}

int64_t firstDivisor(int64_t n, std::initializer_list<int64_t> sizes) {
  for (int64_t s : sizes)
    if (n % s == 0)
      return s;
  return 1;
}

Value forEachTile(OpBuilder &b, Location l, Value tp, int64_t out,
                  int64_t rows, int64_t tokens,
                  function_ref<Value(OpBuilder &, Location, Value,
                                     ArrayRef<Value>, Value, Value)>
                      body) {
  int64_t task = taskRows(out, rows, 64);
  return forEachRowTask(b, l, tp, out, task, [&](OpBuilder &b, Location l,
                                                 Value col0, Value tile) {
    Value zero = iconst(b, l, 0);
    auto tokenLoop = scf::ForOp::create(
        b, l, zero, tp, iconst(b, l, tokens), ValueRange{tile},
        [&](OpBuilder &b, Location l, Value t0, ValueRange tIter) {
          SmallVector<Value> ts;
          for (int64_t t = 0; t < tokens; ++t)
            ts.push_back(arith::AddIOp::create(b, l, t0, iconst(b, l, t)));
          auto rowLoop = scf::ForOp::create(
              b, l, zero, iconst(b, l, task), iconst(b, l, rows), tIter,
              [&](OpBuilder &b, Location l, Value r0, ValueRange rIter) {
                scf::YieldOp::create(b, l,
                                     body(b, l, col0, ts, r0, rIter[0]));
              });
          scf::YieldOp::create(b, l, rowLoop.getResults());
        });
    return tokenLoop.getResult(0);
  });
}

Value storeGroups(OpBuilder &b, Location l, ValueRange accs,
                  ArrayRef<Value> ts, Value r0, Value tile) {
  int64_t tokens = ts.size();
  for (size_t i = 0; i < accs.size(); ++i)
    tile = vector::TransferWriteOp::create(
               b, l, accs[i], tile,
               ValueRange{ts[i % tokens],
                          arith::AddIOp::create(
                              b, l, r0, iconst(b, l, 8 * (i / tokens)))},
               ArrayRef<bool>{true})
               .getResult();
  return tile;
}

} // namespace mlir::llm::lowering::blockdot
