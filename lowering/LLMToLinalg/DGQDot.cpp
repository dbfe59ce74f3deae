//===- DGQDot.cpp - DGQ A8W4 linears on 8-bit activations -----------------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp and BlockDot.cpp).
//
// A row is its f32 scale s1, a u8 scale s2 per group of G inputs and the
// int4 weights as nibbles q + 8 in blocks of 32. The activations, times
// the input scales m (the smoothing), are quantized to int8 per token
// (scale max|x m| / 127), so
//
//   y[t, r] = s1[r] * d[t] * sum_g s2[r, g] * sum_{j in g} q[r, j] x[t, j]
//
// and the whole double sum is exact in i32: per group, the byte dot
// products of the nibbles with the activations start at -8 * the group's
// activation sums (precomputed per token, in the 8-lane layout of the dot
// products), are multiplied by s2 as integers and accumulated; one float
// conversion and scaling per output.
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/BlockDot.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::llm::lowering;
using namespace mlir::llm::lowering::blockdot;

namespace {
/// [Tp, in] i8 activations, [Tp, groups * 8] i32 group starts, [Tp] f32
/// per-token amax.
struct TokenActivations {
  Value q, start, amax;
};

TokenActivations quantizeTokens(OpBuilder &b, Location l, Value xp, Value m,
                                int64_t in, int64_t group) {
  MLIRContext *ctx = b.getContext();
  int64_t dyn = ShapedType::kDynamic, groups = in / group;
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  Value tp = tensor::DimOp::create(b, l, xp, 0);
  TokenActivations a;
  // max |x m| per token.
  a.amax = generic(b, l, {xp, m}, fill(b, l, empty(b, l, {dyn}, f32, tp), 0.0),
                   {map(ctx, 2, {0, 1}), map(ctx, 2, {1}), map(ctx, 2, {0})},
                   {par, red},
                   [](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                     Value v = arith::MulFOp::create(nb, nl, args[0], args[1]);
                     return arith::MaximumFOp::create(
                         nb, nl, args[2], math::AbsFOp::create(nb, nl, v));
                   });
  // 1 / d per token (d = amax / 127; 0 for an all-zero row).
  Value inv = generic(
      b, l, {a.amax}, empty(b, l, {dyn}, f32, tp),
      {map(ctx, 1, {0}), map(ctx, 1, {0})}, {par},
      [](OpBuilder &nb, Location nl, ValueRange args) {
        return inverseStep(nb, nl, args[0]);
      });
  a.q = generic(b, l, {xp, m, inv}, empty(b, l, {dyn, in}, i8, tp),
                {map(ctx, 2, {0, 1}), map(ctx, 2, {1}), map(ctx, 2, {0}),
                 map(ctx, 2, {0, 1})},
                {par, par},
                [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                  Value v = arith::MulFOp::create(
                      nb, nl, arith::MulFOp::create(nb, nl, args[0], args[1]),
                      args[2]);
                  return arith::FPToSIOp::create(
                      nb, nl, i8, math::RoundEvenOp::create(nb, nl, v));
                });
  // start[t, g, k] = -8 * sum over the group's blocks c and q < 4 of
  // x[t, g G + 32 c + 4 k + q]: lane k of the group's dot products.
  Value q5 = tensor::ExpandShapeOp::create(
      b, l,
      RankedTensorType::get({dyn, groups, group / kBlock, kLanes, 4}, i8), a.q,
      ArrayRef<ReassociationIndices>{{0}, {1, 2, 3, 4}},
      ArrayRef<OpFoldResult>{tp, b.getIndexAttr(groups),
                             b.getIndexAttr(group / kBlock),
                             b.getIndexAttr(kLanes), b.getIndexAttr(4)});
  Value zero = arith::ConstantOp::create(b, l, b.getI32IntegerAttr(0));
  Value acc = linalg::FillOp::create(
                  b, l, zero, empty(b, l, {dyn, groups, kLanes}, i32, tp))
                  .getResult(0);
  Value start = generic(
      b, l, {q5}, acc, {map(ctx, 5, {0, 1, 2, 3, 4}), map(ctx, 5, {0, 1, 3})},
      {par, par, red, par, red},
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value v = arith::ExtSIOp::create(nb, nl, i32, args[0]);
        Value m8 = arith::ConstantOp::create(nb, nl, nb.getI32IntegerAttr(-8));
        return arith::AddIOp::create(nb, nl, args[1],
                                     arith::MulIOp::create(nb, nl, v, m8));
      });
  a.start = tensor::CollapseShapeOp::create(
      b, l, RankedTensorType::get({dyn, groups * kLanes}, i32), start,
      ArrayRef<ReassociationIndices>{{0}, {1, 2}});
  return a;
}

/// Rows [0, Tp) of y = x w^T over DGQ rows, Tp a multiple of `tokens`.
Value dgqTiles(OpBuilder &b, Location l, const TokenActivations &a,
                      Value bytes, int64_t in, int64_t out, int64_t group,
                      int64_t tokens) {
  Type f32 = b.getF32Type(), i8 = b.getI8Type(), i32 = b.getI32Type();
  int64_t groups = in / group, chunks = group / kBlock;
  int64_t rowBytes = 4 + groups + in / 2;
  Value tp = tensor::DimOp::create(b, l, a.q, 0);
  int64_t rows = firstDivisor(out, {tokens == 1 ? 16 : 4, 8, 4, 2});
  return forEachTile(
      b, l, tp, out, rows, tokens,
      [&](OpBuilder &b, Location l, Value col0, ArrayRef<Value> ts, Value r0,
          Value tile) -> Value {
  Value zeroIdx = iconst(b, l, 0), one = iconst(b, l, 1);
  VectorType accType = vec(kLanes, i32);
  Value zeroAcc = arith::ConstantOp::create(
      b, l, DenseElementsAttr::get(accType, b.getI32IntegerAttr(0)));
  SmallVector<Value> inits(rows * tokens, zeroAcc);
  Value row0 = arith::AddIOp::create(b, l, col0, r0);
  SmallVector<Value> rowBase;
  for (int64_t r = 0; r < rows; ++r)
    rowBase.push_back(arith::MulIOp::create(
        b, l, arith::AddIOp::create(b, l, row0, iconst(b, l, r)),
        iconst(b, l, rowBytes)));
  auto groupLoop = scf::ForOp::create(
      b, l, zeroIdx, iconst(b, l, groups), one, inits,
      [&](OpBuilder &b, Location l, Value g, ValueRange accs) {
        Value x0 = arith::MulIOp::create(b, l, g, iconst(b, l, group));
        // The group's activations, per token and block.
        SmallVector<SmallVector<Value>> xq(tokens);
        SmallVector<Value> start;
        for (int64_t t = 0; t < tokens; ++t) {
          for (int64_t c = 0; c < chunks; ++c)
            xq[t].push_back(read(
                b, l, vec(kBlock, i8), a.q,
                {ts[t], arith::AddIOp::create(
                            b, l, x0, iconst(b, l, c * kBlock))}));
          start.push_back(read(
              b, l, accType, a.start,
              {ts[t], arith::MulIOp::create(b, l, g,
                                            iconst(b, l, kLanes))}));
        }
        SmallVector<Value> next;
        for (int64_t r = 0; r < rows; ++r) {
          Value s2 = arith::ExtUIOp::create(
              b, l, i32,
              tensor::ExtractOp::create(
                  b, l, bytes,
                  ValueRange{arith::AddIOp::create(
                      b, l, rowBase[r],
                      arith::AddIOp::create(b, l, g,
                                            iconst(b, l, 4)))}));
          Value s2v = vector::BroadcastOp::create(b, l, accType, s2);
          // Nibbles of block (g * chunks + c): 16 bytes each.
          Value wBase = arith::AddIOp::create(
              b, l, rowBase[r],
              arith::AddIOp::create(
                  b, l, iconst(b, l, 4 + groups),
                  arith::MulIOp::create(
                      b, l, g, iconst(b, l, chunks * kBlock / 2))));
          SmallVector<Value> w;
          for (int64_t c = 0; c < chunks; ++c)
            w.push_back(unpackNibbles(
                b, l, bytes,
                arith::AddIOp::create(b, l, wBase,
                                      iconst(b, l, c * kBlock / 2))));
          for (int64_t t = 0; t < tokens; ++t) {
            Value d = start[t];
            for (int64_t c = 0; c < chunks; ++c)
              d = llm::buildByteDot(b, l, d, w[c], xq[t][c]);
            next.push_back(arith::AddIOp::create(
                b, l, accs[r * tokens + t],
                arith::MulIOp::create(b, l, d, s2v)));
          }
        }
        scf::YieldOp::create(b, l, next);
      });
  Value outT = tile;
  for (int64_t r = 0; r < rows; ++r) {
    Value four = read(b, l, vec(4, i8), bytes, rowBase[r]);
    Value s1 = vector::ExtractOp::create(
        b, l, vector::BitCastOp::create(b, l, vec(1, f32), four),
        ArrayRef<int64_t>{0});
    for (int64_t t = 0; t < tokens; ++t) {
      Value sum = vector::ReductionOp::create(
          b, l, vector::CombiningKind::ADD,
          groupLoop.getResult(r * tokens + t));
      Value amax = tensor::ExtractOp::create(b, l, a.amax,
                                             ValueRange{ts[t]});
      Value scale = arith::MulFOp::create(
          b, l, s1,
          arith::DivFOp::create(b, l, amax,
                                fconst(b, l, f32, 127.0)));
      Value v = arith::MulFOp::create(
          b, l, arith::SIToFPOp::create(b, l, f32, sum), scale);
      outT = tensor::InsertOp::create(
          b, l, v, outT,
          ValueRange{ts[t],
                     arith::AddIOp::create(b, l, r0, iconst(b, l, r))});
    }
  }
  return outT;
  });
}
} // namespace

Value mlir::llm::lowering::blockdot::dgqKernel(OpBuilder &b, Location l,
                                               Value xp, Value inputScales,
                                               Value bytes, int64_t in,
                                               int64_t out, int64_t group,
                                               int64_t tokens) {
  return dgqTiles(b, l, quantizeTokens(b, l, xp, inputScales, in, group),
                  bytes, in, out, group, tokens);
}
