//===- LLMToLinalg.cpp - llm dialect -> linalg/tensor/arith/math ----------===//
//
// The tensor-level lowering shared by every backend. Each llm op becomes
// linalg.generic ops on tensors (value semantics, destination style), so
// bufferization, tiling and vectorization are upstream's business. The KV
// cache becomes one tensor<layers x 2 x kv_heads x max_seq x head_dim>: keys
// and values of one head are contiguous per position, which is what the
// attention reduction streams over.
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Func/Transforms/FuncConversions.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include <cmath>

namespace mlir::llm {
#define GEN_PASS_DEF_CONVERTLLMTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
using utils::IteratorType;
constexpr IteratorType par = IteratorType::parallel;
constexpr IteratorType red = IteratorType::reduction;

//===----------------------------------------------------------------------===//
// Small builders
//===----------------------------------------------------------------------===//

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
Value emptyLike(OpBuilder &b, Location loc, Value like, Type elt = {}) {
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

AffineMap map(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numDims, 0, exprs, ctx);
}

using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

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

struct LowerEmbedding : OpConversionPattern<EmbeddingOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(EmbeddingOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    auto type = op.getResult().getType();
    Type elt = type.getElementType();
    Value table = a.getTable();
    Value tokens = a.getTokens();
    Value init = empty(rw, loc, type.getShape(), elt,
                       dynamicSizes(rw, loc, tokens));
    MLIRContext *ctx = rw.getContext();
    // Token ids are checked against the vocabulary by the runtime.
    Value out = generic(
        rw, loc, tokens, init, {map(ctx, 2, {0}), map(ctx, 2, {0, 1})},
        {par, par}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value row = arith::IndexCastOp::create(b, l, b.getIndexType(),
                                                 args[0]);
          Value col = linalg::IndexOp::create(b, l, 1);
          Value v = tensor::ExtractOp::create(b, l, table, ValueRange{row, col});
          return castFloat(b, l, v, elt);
        });
    rw.replaceOp(op, out);
    return success();
  }
};

/// Sum of squares (or of values) over the last dimension, as llama2.c's
/// rmsnorm: `w * (x * 1/sqrt(mean(x^2) + eps))`.
struct LowerRMSNorm : OpConversionPattern<RMSNormOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(RMSNormOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value x = a.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    Type elt = type.getElementType();
    unsigned rank = type.getRank();
    int64_t n = type.getShape().back();
    Value ss = reduceLast(rw, loc, x, 0.0,
                          [&](OpBuilder &b, Location l, ValueRange args) {
                            Value sq = arith::MulFOp::create(b, l, args[0], args[0]);
                            return arith::AddFOp::create(b, l, args[1], sq);
                          });
    double eps = op.getEps().convertToDouble();
    MLIRContext *ctx = rw.getContext();
    Value out = generic(
        rw, loc, ValueRange{x, ss, a.getWeight()}, emptyLike(rw, loc, x),
        {rw.getMultiDimIdentityMap(rank), rowMap(ctx, rank),
         map(ctx, rank, {rank - 1}), rw.getMultiDimIdentityMap(rank)},
        SmallVector<IteratorType>(rank, par),
        [&](OpBuilder &b, Location l, ValueRange args) {
          Value mean = arith::DivFOp::create(b, l, args[1],
                                             fconst(b, l, elt, double(n)));
          Value var = arith::AddFOp::create(b, l, mean, fconst(b, l, elt, eps));
          Value inv = arith::DivFOp::create(b, l, fconst(b, l, elt, 1.0),
                                            math::SqrtOp::create(b, l, var));
          Value scaled = arith::MulFOp::create(b, l, inv, args[0]);
          return arith::MulFOp::create(b, l, castFloat(b, l, args[2], elt),
                                       scaled);
        });
    rw.replaceOp(op, out);
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
    auto add = [](OpBuilder &b, Location l, ValueRange args) -> Value {
      return arith::AddFOp::create(b, l, args[1], args[0]);
    };
    Value sum = reduceLast(rw, loc, x, 0.0, add);
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
    Value ss = reduceLast(rw, loc, centred, 0.0,
                          [](OpBuilder &b, Location l, ValueRange args) {
                            Value sq = arith::MulFOp::create(b, l, args[0], args[0]);
                            return arith::AddFOp::create(b, l, args[1], sq);
                          });
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
          Value var = arith::DivFOp::create(b, l, args[1],
                                            fconst(b, l, elt, double(n)));
          var = arith::AddFOp::create(b, l, var, fconst(b, l, elt, eps));
          Value inv = arith::DivFOp::create(b, l, fconst(b, l, elt, 1.0),
                                            math::SqrtOp::create(b, l, var));
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

/// Largest of {16, 8, 4, 2, 1} dividing n: the reduction's vector width (16
/// f32 lanes fill an AVX-512 register, or two AVX2 ones).
int64_t vectorWidthFor(int64_t n) {
  for (int64_t v : {16, 8, 4, 2})
    if (n % v == 0)
      return v;
  return 1;
}

/// y[t, o] = sum_i x[t, i] * w[o, i] (+ bias[o]): a contraction over the
/// input features with the weight in its stored [out, in] layout.
///
/// Tokens are padded to a multiple of kTokenBlock and the contraction runs
/// over [T/4, 4, out, in], so every tile a backend vectorizes has static
/// shapes whatever the (dynamic) token count: decode computes 3 zero rows
/// next to the real one (free: decode is bound by the weight stream), and
/// prefill reuses each weight vector for 4 tokens. The op carries
/// `llm.schedule = "linear"` and its tile sizes (`llm.tiles`: output rows per
/// parallel task, output rows per register tile, reduction vector width) for
/// the backend's schedule.
constexpr int64_t kTokenBlock = 4;

/// A parallel task's output rows: a multiple of `rowTile` dividing `out`,
/// at most `limit`.
int64_t taskRows(int64_t out, int64_t rowTile, int64_t limit) {
  for (int64_t k = limit / rowTile; k > 1; --k)
    if ((out / rowTile) % k == 0)
      return rowTile * k;
  return rowTile;
}

/// Decode: y[0, o] = sum_i x[0, i] * w[o, i] for one token. Tagged
/// `matvec` [task rows, register rows, vector width]: every weight element
/// is loaded once and used once, so it is kept streaming with several
/// independent accumulators.
Value buildMatVec(OpBuilder &b, Location loc, Value x1, Value w,
                  Type elt, int64_t in, int64_t out) {
  MLIRContext *ctx = b.getContext();
  Value init = fill(b, loc, empty(b, loc, {1, out}, elt, {}), 0.0);
  Value y = generic(
      b, loc, ValueRange{x1, w}, init,
      {map(ctx, 3, {0, 2}), map(ctx, 3, {1, 2}), map(ctx, 3, {0, 1})},
      {par, par, red}, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value p = arith::MulFOp::create(nb, l, args[0],
                                        castFloat(nb, l, args[1], elt));
        return arith::AddFOp::create(nb, l, args[2], p);
      });
  int64_t rowTile = out % 4 == 0 ? 4 : (out % 2 == 0 ? 2 : 1);
  int64_t width = in % 32 == 0 ? 32 : vectorWidthFor(in);
  Operation *op = y.getDefiningOp();
  op->setAttr("llm.schedule", b.getStringAttr("matvec"));
  op->setAttr("llm.tiles", b.getDenseI64ArrayAttr(
                               {taskRows(out, rowTile, 64), rowTile, width}));
  return y;
}

Value buildBlockedLinear(OpBuilder &b, Location loc, Value x, Value w,
                         RankedTensorType resultType);

/// One token takes the matrix-vector path, several the blocked one.
Value buildLinear(OpBuilder &b, Location loc, Value x, Value w, Value bias,
                  RankedTensorType resultType) {
  MLIRContext *ctx = b.getContext();
  Type elt = resultType.getElementType();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t in = xType.getShape()[1], out = resultType.getShape()[1];
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, t,
                                       iconst(b, loc, 1));
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{resultType}, single,
                                /*addThenBlock=*/true, /*addElseBlock=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    Value x1 = tensor::CastOp::create(
        b, loc, RankedTensorType::get({1, in}, xType.getElementType()), x);
    Value y1 = buildMatVec(b, loc, x1, w, elt, in, out);
    scf::YieldOp::create(b, loc,
                         Value(tensor::CastOp::create(b, loc, resultType, y1)));
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, buildBlockedLinear(b, loc, x, w, resultType));
  }
  Value y = ifOp.getResult(0);
  if (!bias)
    return y;
  return generic(b, loc, ValueRange{y, bias}, emptyLike(b, loc, y),
                 {map(ctx, 2, {0, 1}), map(ctx, 2, {1}), map(ctx, 2, {0, 1})},
                 {par, par}, [&](OpBuilder &nb, Location l, ValueRange args) {
                   return arith::AddFOp::create(
                       nb, l, args[0], castFloat(nb, l, args[1], elt));
                 });
}

Value buildBlockedLinear(OpBuilder &b, Location loc, Value x, Value w,
                         RankedTensorType resultType) {
  MLIRContext *ctx = b.getContext();
  Type elt = resultType.getElementType();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t in = xType.getShape()[1], out = resultType.getShape()[1];
  int64_t dyn = ShapedType::kDynamic;
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value blk = iconst(b, loc, kTokenBlock);
  Value blocks = arith::DivUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, t, iconst(b, loc, kTokenBlock - 1)),
      blk);
  Value padded = arith::MulIOp::create(b, loc, blocks, blk);
  // x with zero rows after the T real ones, written by one generic (a pad
  // or a copy into a slice would become a strided memref.copy).
  Type xElt = xType.getElementType();
  Value xp = linalg::GenericOp::create(
                 b, loc, TypeRange{RankedTensorType::get({dyn, in}, xElt)},
                 ValueRange{}, ValueRange{empty(b, loc, {dyn, in}, xElt, padded)},
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
                       Value(arith::SelectOp::create(
                           nb, l, real, v, fconst(nb, l, xElt, 0.0))));
                 })
                 .getResult(0);
  Value x3 = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({dyn, kTokenBlock, in}, xType.getElementType()),
      xp, ArrayRef<ReassociationIndices>{{0, 1}, {2}},
      ArrayRef<OpFoldResult>{blocks, b.getIndexAttr(kTokenBlock),
                             b.getIndexAttr(in)});
  Value init =
      fill(b, loc, empty(b, loc, {dyn, kTokenBlock, out}, elt, blocks), 0.0);
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x3, w}, ValueRange{init},
      ArrayRef<AffineMap>{map(ctx, 4, {0, 1, 3}), map(ctx, 4, {2, 3}),
                          map(ctx, 4, {0, 1, 2})},
      ArrayRef<IteratorType>{par, par, par, red},
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value p = arith::MulFOp::create(nb, l, args[0],
                                        castFloat(nb, l, args[1], elt));
        linalg::YieldOp::create(nb, l,
                                Value(arith::AddFOp::create(nb, l, args[2], p)));
      });
  // Register tile: 4 output rows when they divide `out`; a parallel task
  // takes up to 16 rows (a multiple of the register tile dividing `out`).
  int64_t rowTile = out % 4 == 0 ? 4 : (out % 2 == 0 ? 2 : 1);
  int64_t task = taskRows(out, rowTile, 16);
  op->setAttr("llm.schedule", b.getStringAttr("linear"));
  op->setAttr("llm.tiles", b.getDenseI64ArrayAttr(
                               {task, rowTile, vectorWidthFor(in)}));
  Value y3 = op.getResult(0);
  Value yp = tensor::CollapseShapeOp::create(
      b, loc, RankedTensorType::get({dyn, out}, elt), y3,
      ArrayRef<ReassociationIndices>{{0, 1}, {2}});
  return tensor::ExtractSliceOp::create(
      b, loc, resultType, yp,
      ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(0)},
      ArrayRef<OpFoldResult>{t, b.getIndexAttr(out)},
      ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
}

/// GGUF block layouts: bytes per block of 32 weights, and where the
/// quantized values start (after the f16 scale, and for q4_1 the f16 min).
struct BlockLayout {
  int64_t bytes, dataOffset;
};
std::optional<BlockLayout> ggufBlockLayout(QuantAttr q) {
  switch (q.getScheme()) {
  case QuantScheme::gguf_q8_0: return BlockLayout{34, 2};
  case QuantScheme::gguf_q4_0: return BlockLayout{18, 2};
  case QuantScheme::gguf_q4_1: return BlockLayout{20, 4};
  default: return std::nullopt;
  }
}

/// Dequantizes a GGUF block-quantized [rows, cols] weight to f32, reading its
/// packed bytes (the weight is reinterpreted as a flat byte tensor, which
/// `--llm-buffer-abi` binds to the packed blocks in the weight buffer):
/// q8_0: d * q; q4_0: d * (nibble - 8); q4_1: d * nibble + m; nibble j < 16 is
/// the low half of byte j, j >= 16 the high half of byte j - 16.
Value dequantizeBlocks(OpBuilder &b, Location loc, Value packed, QuantAttr q,
                       RankedTensorType resultType) {
  BlockLayout layout = *ggufBlockLayout(q);
  auto wType = cast<RankedTensorType>(packed.getType());
  int64_t cols = wType.getShape().back();
  int64_t blocks = wType.getNumElements() / 32;
  Value bytes = UnrealizedConversionCastOp::create(
                    b, loc,
                    RankedTensorType::get({blocks * layout.bytes},
                                          b.getIntegerType(8)),
                    packed)
                    .getResult(0);
  Type f32 = b.getF32Type();
  QuantScheme scheme = q.getScheme();
  return linalg::GenericOp::create(
             b, loc, TypeRange{resultType}, ValueRange{},
             ValueRange{empty(b, loc, resultType.getShape(), f32, {})},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(2)},
             ArrayRef<IteratorType>{par, par},
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value r = linalg::IndexOp::create(nb, l, 0);
               Value c = linalg::IndexOp::create(nb, l, 1);
               Value flat = arith::AddIOp::create(
                   nb, l, arith::MulIOp::create(nb, l, r, iconst(nb, l, cols)),
                   c);
               Value block = arith::DivUIOp::create(nb, l, flat, iconst(nb, l, 32));
               Value j = arith::RemUIOp::create(nb, l, flat, iconst(nb, l, 32));
               Value base = arith::MulIOp::create(nb, l, block,
                                                  iconst(nb, l, layout.bytes));
               auto byteAt = [&](Value offset) {
                 Value at = arith::AddIOp::create(nb, l, base, offset);
                 return tensor::ExtractOp::create(nb, l, bytes, ValueRange{at})
                     .getResult();
               };
               // Little-endian f16 at `offset` within the block.
               auto half = [&](int64_t offset) {
                 Type i16 = nb.getIntegerType(16);
                 Value lo = arith::ExtUIOp::create(nb, l, i16,
                                                   byteAt(iconst(nb, l, offset)));
                 Value hi = arith::ExtUIOp::create(
                     nb, l, i16, byteAt(iconst(nb, l, offset + 1)));
                 Value bits = arith::OrIOp::create(
                     nb, l, lo,
                     arith::ShLIOp::create(
                         nb, l, hi,
                         arith::ConstantIntOp::create(nb, l, i16, 8)));
                 Value h = arith::BitcastOp::create(nb, l, nb.getF16Type(), bits);
                 return arith::ExtFOp::create(nb, l, f32, h).getResult();
               };
               Value d = half(0);
               Value value;
               if (scheme == QuantScheme::gguf_q8_0) {
                 Value qv = byteAt(arith::AddIOp::create(
                     nb, l, j, iconst(nb, l, layout.dataOffset)));
                 value = arith::MulFOp::create(
                     nb, l, d, arith::SIToFPOp::create(nb, l, f32, qv));
               } else {
                 Value sixteen = iconst(nb, l, 16);
                 Value high = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::uge, j, sixteen);
                 Value idx = arith::SelectOp::create(
                     nb, l, high, arith::SubIOp::create(nb, l, j, sixteen), j);
                 Value byte = byteAt(arith::AddIOp::create(
                     nb, l, idx, iconst(nb, l, layout.dataOffset)));
                 Type i8 = nb.getIntegerType(8);
                 Value shifted = arith::SelectOp::create(
                     nb, l, high,
                     arith::ShRUIOp::create(
                         nb, l, byte, arith::ConstantIntOp::create(nb, l, i8, 4)),
                     byte);
                 Value nib = arith::AndIOp::create(
                     nb, l, shifted, arith::ConstantIntOp::create(nb, l, i8, 15));
                 Value nf = arith::UIToFPOp::create(nb, l, f32, nib);
                 if (scheme == QuantScheme::gguf_q4_0)
                   value = arith::MulFOp::create(
                       nb, l, d,
                       arith::SubFOp::create(nb, l, nf, fconst(nb, l, f32, 8.0)));
                 else
                   value = arith::AddFOp::create(
                       nb, l, arith::MulFOp::create(nb, l, d, nf), half(2));
               }
               linalg::YieldOp::create(nb, l, value);
             })
      .getResult(0);
}

/// Whether `op` is a GGUF-block dequantize/qlinear this lowering handles.
bool isLowerableGGUF(Operation *op) {
  if (auto d = dyn_cast<DequantizeOp>(op))
    return ggufBlockLayout(d.getQuant()) && !d.getScales() && !d.getZeros() &&
           d.getResult().getType().getRank() == 2 &&
           d.getResult().getType().getElementType().isF32();
  if (auto q = dyn_cast<QLinearOp>(op))
    return ggufBlockLayout(q.getQuant()) && !q.getScales() && !q.getZeros() &&
           q.getInput().getType().getRank() == 2;
  return false;
}

struct LowerDequantize : OpConversionPattern<DequantizeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(DequantizeOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    if (!isLowerableGGUF(op))
      return rw.notifyMatchFailure(op, "only 2-D GGUF block schemes");
    auto type = op.getResult().getType();
    rw.replaceOp(op, dequantizeBlocks(rw, op.getLoc(), a.getInput(),
                                      op.getQuant(), type));
    return success();
  }
};

/// GGUF-quantized linear: the blocks are dequantized to f32, then the f32
/// linear runs. Correct, not fast: executing the blocks directly is the
/// [quant] work.
struct LowerQLinear : OpConversionPattern<QLinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QLinearOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    if (!isLowerableGGUF(op))
      return rw.notifyMatchFailure(op, "only GGUF block schemes, rank 2");
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    Value w = dequantizeBlocks(rw, op.getLoc(), a.getWeight(), op.getQuant(),
                               wType.clone(rw.getF32Type()));
    rw.replaceOp(op, buildLinear(rw, op.getLoc(), a.getInput(), w, a.getBias(),
                                 op.getResult().getType()));
    return success();
  }
};

struct LowerLinear : OpConversionPattern<LinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(LinearOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    if (op.getInput().getType().getRank() != 2)
      return rw.notifyMatchFailure(op, "only [tokens, features] inputs");
    rw.replaceOp(op, buildLinear(rw, op.getLoc(), a.getInput(), a.getWeight(),
                                 a.getBias(), op.getResult().getType()));
    return success();
  }
};

/// Inverse frequencies of the rotary pairs, computed in f32 exactly as
/// llama2.c and Hugging Face do (1 / theta^(2i/d)), then rescaled.
SmallVector<float> ropeInverseFrequencies(RoPEOp op) {
  int64_t hd = op.getHeadDim();
  float theta = static_cast<float>(op.getTheta().convertToDouble());
  SmallVector<float> inv;
  for (int64_t i = 0; i < hd / 2; ++i)
    inv.push_back(1.0f / std::pow(theta, float(2 * i) / float(hd)));
  RopeScalingAttr s = op.getScalingAttr();
  if (!s)
    return inv;
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
    bool interleaved = op.getStyle() == RopeStyle::interleaved;
    SmallVector<float> inv = ropeInverseFrequencies(op);
    auto invType = RankedTensorType::get({hd / 2}, rw.getF32Type());
    Value invFreq = arith::ConstantOp::create(
        rw, loc, DenseElementsAttr::get(invType, ArrayRef<float>(inv)));
    Value pos = a.getStartPos();
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
            Value half = iconst(b, l, hd / 2);
            second = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, j,
                                           half);
            Value lo = arith::SubIOp::create(b, l, j, half);
            Value hi = arith::AddIOp::create(b, l, j, half);
            i = arith::SelectOp::create(b, l, second, lo, j);
            Value pj = arith::SelectOp::create(b, l, second, lo, hi);
            partner = arith::AddIOp::create(b, l, base, pj);
          }
          Value p = arith::AddIOp::create(b, l, pos, t);
          Value pf = arith::UIToFPOp::create(
              b, l, b.getF32Type(),
              arith::IndexCastUIOp::create(b, l, b.getI64Type(), p));
          Value f = tensor::ExtractOp::create(b, l, invFreq, ValueRange{i});
          Value angle = arith::MulFOp::create(b, l, pf, f);
          Value cos = castFloat(b, l, math::CosOp::create(b, l, angle), elt);
          Value sin = castFloat(b, l, math::SinOp::create(b, l, angle), elt);
          Value other = tensor::ExtractOp::create(b, l, x,
                                                  ValueRange{t, partner});
          // first' = first*cos - second*sin; second' = first*sin + second*cos
          Value selfCos = arith::MulFOp::create(b, l, args[0], cos);
          Value otherSin = arith::MulFOp::create(b, l, other, sin);
          Value asFirst = arith::SubFOp::create(b, l, selfCos, otherSin);
          Value asSecond = arith::AddFOp::create(b, l, otherSin, selfCos);
          return arith::SelectOp::create(b, l, second, asSecond, asFirst);
        });
    rw.replaceOp(op, out);
    return success();
  }
};

/// Grouped-query attention over the cache tensor
/// [layers, 2 (k|v), kv_heads, max_seq, head_dim].
struct LowerAttention : OpConversionPattern<AttentionOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(AttentionOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    KVCacheType cacheType = op.getCache().getType();
    Type elt = op.getQuery().getType().getElementType();
    if (cacheType.getElementType() != elt)
      return rw.notifyMatchFailure(op, "cache and activations differ in type");
    int64_t kvh = op.getNumKvHeads(), h = op.getNumHeads();
    int64_t g = h / kvh, hd = cacheType.getHeadDim();
    int64_t layer = op.getLayer();
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
    SmallVector<OpFoldResult> strides5(5, rw.getIndexAttr(1));
    SmallVector<OpFoldResult> strides3(3, rw.getIndexAttr(1));
    auto layerOffsets = [&](int64_t kind) {
      return SmallVector<OpFoldResult>{rw.getIndexAttr(layer),
                                       rw.getIndexAttr(kind), rw.getIndexAttr(0),
                                       rw.getIndexAttr(0), rw.getIndexAttr(0)};
    };
    SmallVector<OpFoldResult> layerSizes = {
        rw.getIndexAttr(1), rw.getIndexAttr(1), rw.getIndexAttr(kvh),
        rw.getIndexAttr(cap), rw.getIndexAttr(hd)};
    auto slotType = RankedTensorType::get({kvh, cap, hd}, elt);
    auto keyTType = RankedTensorType::get({kvh, hd, cap}, elt);
    // [kvh, cap, hd] slot <-> [kvh, hd, cap] (keys are stored transposed):
    // the same memory seen with the other shape.
    auto reshaped = [&](Value v, RankedTensorType to) {
      Value flat = tensor::CollapseShapeOp::create(
          rw, loc, v, ArrayRef<ReassociationIndices>{{0}, {1, 2}});
      return tensor::ExpandShapeOp::create(
                 rw, loc, to, flat, ArrayRef<ReassociationIndices>{{0}, {1, 2}})
          .getResult();
    };
    auto asKeysT = [&](Value slot) { return reshaped(slot, keyTType); };
    auto asSlot = [&](Value keysT) { return reshaped(keysT, slotType); };
    auto split = [&](Value src) {
      return tensor::ExpandShapeOp::create(
                 rw, loc, RankedTensorType::get({dyn, kvh, hd}, elt), src,
                 ArrayRef<ReassociationIndices>{{0}, {1, 2}},
                 ArrayRef<OpFoldResult>{t, rw.getIndexAttr(kvh),
                                        rw.getIndexAttr(hd)})
          .getResult();
    };

    // Keys: [T, kvh*hd] -> [kvh, hd, T] into the transposed key slot at
    // column pos, so scores stream keys along positions.
    Value kSlot = tensor::ExtractSliceOp::create(rw, loc, slotType, cache,
                                                 layerOffsets(0), layerSizes,
                                                 strides5);
    Value kT = linalg::TransposeOp::create(
                   rw, loc, split(k), empty(rw, loc, {kvh, hd, dyn}, elt, t),
                   ArrayRef<int64_t>{1, 2, 0})
                   .getResult()[0];
    Value keysT = tensor::InsertSliceOp::create(
        rw, loc, kT, asKeysT(kSlot),
        ArrayRef<OpFoldResult>{rw.getIndexAttr(0), rw.getIndexAttr(0), pos},
        ArrayRef<OpFoldResult>{rw.getIndexAttr(kvh), rw.getIndexAttr(hd), t},
        strides3);
    cache = tensor::InsertSliceOp::create(rw, loc, asSlot(keysT), cache,
                                          layerOffsets(0), layerSizes, strides5);
    // Values: [T, kvh*hd] -> [kvh, T, hd] at row pos.
    Value vT = linalg::TransposeOp::create(
                   rw, loc, split(v), empty(rw, loc, {kvh, dyn, hd}, elt, t),
                   ArrayRef<int64_t>{1, 0, 2})
                   .getResult()[0];
    SmallVector<OpFoldResult> vOffsets = layerOffsets(1);
    vOffsets[3] = pos;
    cache = tensor::InsertSliceOp::create(
        rw, loc, vT, cache, vOffsets,
        ArrayRef<OpFoldResult>{rw.getIndexAttr(1), rw.getIndexAttr(1),
                               rw.getIndexAttr(kvh), t, rw.getIndexAttr(hd)},
        strides5);

    // Read back [kvh, hd, padded] keys and [kvh, padded, hd] values.
    Value kRead = asKeysT(tensor::ExtractSliceOp::create(
        rw, loc, slotType, cache, layerOffsets(0), layerSizes, strides5));
    Value keys = tensor::ExtractSliceOp::create(
        rw, loc, RankedTensorType::get({kvh, hd, dyn}, elt), kRead,
        ArrayRef<OpFoldResult>{rw.getIndexAttr(0), rw.getIndexAttr(0),
                               rw.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{rw.getIndexAttr(kvh), rw.getIndexAttr(hd),
                               padded},
        strides3);
    Value values = tensor::ExtractSliceOp::create(
        rw, loc, RankedTensorType::get({kvh, dyn, hd}, elt), cache,
        layerOffsets(1),
        ArrayRef<OpFoldResult>{rw.getIndexAttr(1), rw.getIndexAttr(1),
                               rw.getIndexAttr(kvh), padded,
                               rw.getIndexAttr(hd)},
        strides5);

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
    double ninf = -std::numeric_limits<double>::infinity();
    Value scores = tag(elementwise(
        rw, loc, dots, elt, [&](OpBuilder &b, Location l, ValueRange args) -> Value {
          // Default scale divides by sqrt(head_dim) as the references do.
          Value sc = scale ? Value(arith::MulFOp::create(b, l, args[0],
                                                   fconst(b, l, elt, *scale)))
                           : Value(arith::DivFOp::create(
                                 b, l, args[0],
                                 fconst(b, l, elt, std::sqrt(double(hd)))));
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

public:
  /// Softmax over the last dimension: max, exp(x - max), sum, divide.
  static Value softmaxLast(OpBuilder &b, Location loc, Value x,
                           StringRef schedule = "rows") {
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
    Value sum = tag(reduceLast(b, loc, e, 0.0,
                               [](OpBuilder &nb, Location l, ValueRange args) {
                                 return arith::AddFOp::create(nb, l, args[1],
                                                              args[0]);
                               }),
                    schedule);
    return tag(generic(b, loc, ValueRange{e, sum}, emptyLike(b, loc, x),
                       {id, row, id}, iters,
                       [](OpBuilder &nb, Location l, ValueRange args) {
                         return arith::DivFOp::create(nb, l, args[0], args[1]);
                       }),
               schedule);
  }
};

struct LowerSoftmax : OpConversionPattern<SoftmaxOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SoftmaxOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    int64_t rank = op.getInput().getType().getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis != rank - 1)
      return rw.notifyMatchFailure(op, "softmax over a non-last axis");
    rw.replaceOp(op, LowerAttention::softmaxLast(rw, op.getLoc(), a.getInput()));
    return success();
  }
};

/// silu(x) = x * (1 / (1 + exp(-x))), in llama2.c's operation order.
Value silu(OpBuilder &b, Location l, Value x) {
  Type elt = x.getType();
  Value e = math::ExpOp::create(b, l, arith::NegFOp::create(b, l, x));
  Value d = arith::AddFOp::create(b, l, fconst(b, l, elt, 1.0), e);
  Value s = arith::DivFOp::create(b, l, fconst(b, l, elt, 1.0), d);
  return arith::MulFOp::create(b, l, x, s);
}

struct LowerSiLU : OpConversionPattern<SiLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SiLUOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Type elt = op.getType().getElementType();
    rw.replaceOp(op, elementwise(rw, op.getLoc(), a.getInput(), elt,
                                 [](OpBuilder &b, Location l, ValueRange args) {
                                   return silu(b, l, args[0]);
                                 }));
    return success();
  }
};

struct LowerGeLU : OpConversionPattern<GeLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(GeLUOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Type elt = op.getType().getElementType();
    bool tanhForm = op.getApproximate() == GeluApproximation::tanh;
    rw.replaceOp(
        op, elementwise(rw, op.getLoc(), a.getInput(), elt,
                        [&](OpBuilder &b, Location l, ValueRange args) {
                          Value x = args[0];
                          Value inner;
                          if (tanhForm) {
                            // sqrt(2/pi) * (x + 0.044715 x^3)
                            Value x3 = arith::MulFOp::create(
                                b, l, x, arith::MulFOp::create(b, l, x, x));
                            Value s = arith::AddFOp::create(
                                b, l, x,
                                arith::MulFOp::create(
                                    b, l, fconst(b, l, elt, 0.044715), x3));
                            inner = math::TanhOp::create(
                                b, l,
                                arith::MulFOp::create(
                                    b, l,
                                    fconst(b, l, elt, std::sqrt(2.0 / M_PI)),
                                    s));
                          } else {
                            inner = math::ErfOp::create(
                                b, l,
                                arith::MulFOp::create(b, l, x,
                                                      fconst(b, l, elt, M_SQRT1_2)));
                          }
                          Value one = arith::AddFOp::create(
                              b, l, fconst(b, l, elt, 1.0), inner);
                          Value half = arith::MulFOp::create(
                              b, l, fconst(b, l, elt, 0.5), x);
                          return arith::MulFOp::create(b, l, half, one);
                        }));
    return success();
  }
};

struct LowerSwiGLU : OpConversionPattern<SwiGLUOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(SwiGLUOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    Value gate = a.getGate(), up = a.getUp();
    auto type = op.getResult().getType();
    if (!up) {
      // One fused [.., 2H] operand: gate columns first, then up.
      auto gType = cast<RankedTensorType>(gate.getType());
      int64_t rank = gType.getRank(), hidden = type.getShape().back();
      SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(rw, loc, gate);
      sizes.back() = rw.getIndexAttr(hidden);
      SmallVector<OpFoldResult> off(rank, rw.getIndexAttr(0));
      SmallVector<OpFoldResult> strides(rank, rw.getIndexAttr(1));
      Value g = tensor::ExtractSliceOp::create(rw, loc, type, gate, off, sizes,
                                               strides);
      off.back() = rw.getIndexAttr(hidden);
      up = tensor::ExtractSliceOp::create(rw, loc, type, gate, off, sizes,
                                          strides);
      gate = g;
    }
    Type elt = type.getElementType();
    rw.replaceOp(op, elementwise(rw, loc, ValueRange{gate, up}, elt,
                                 [](OpBuilder &b, Location l, ValueRange args) {
                                   return arith::MulFOp::create(
                                       b, l, silu(b, l, args[0]), args[1]);
                                 }));
    return success();
  }
};

template <typename Op, typename ArithOp>
struct LowerBinary : OpConversionPattern<Op> {
  using OpConversionPattern<Op>::OpConversionPattern;
  using OpAdaptor = typename Op::Adaptor;
  LogicalResult
  matchAndRewrite(Op op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Type elt = op.getType().getElementType();
    rw.replaceOp(op, elementwise(rw, op.getLoc(),
                                 ValueRange{a.getLhs(), a.getRhs()}, elt,
                                 [](OpBuilder &b, Location l, ValueRange args) {
                                   return ArithOp::create(b, l, args[0],
                                                          args[1]);
                                 }));
    return success();
  }
};

/// The cache's tensor form: [layers, 2, kv_heads, max_seq, head_dim].
class CacheTypeConverter : public TypeConverter {
public:
  CacheTypeConverter() {
    addConversion([](Type t) { return t; });
    addConversion([](KVCacheType t) -> Type { return cacheTensorType(t); });
  }
};

struct ConvertLLMToLinalg
    : llm::impl::ConvertLLMToLinalgBase<ConvertLLMToLinalg> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    // Ops with no lowering yet get one clear diagnostic each, instead of a
    // generic legalization failure.
    bool unsupported = false;
    module.walk([&](Operation *op) {
      if (isa<MoEOp, ExitOp, QLinearOp, DequantizeOp, QuantizeOp, ConcatOp>(op) &&
          !isLowerableGGUF(op)) {
        op->emitError() << "'" << op->getName()
                        << "' has no linalg lowering yet";
        unsupported = true;
      }
      if (auto lin = dyn_cast<LinearOp>(op);
          lin && lin.getInput().getType().getRank() != 2) {
        op->emitError("llm.linear lowering expects a rank-2 input");
        unsupported = true;
      }
      if (auto r = dyn_cast<RoPEOp>(op);
          r && r.getInput().getType().getRank() != 2) {
        op->emitError("llm.rope lowering expects a rank-2 input");
        unsupported = true;
      }
    });
    if (unsupported)
      return signalPassFailure();

    // Record which entry arguments/results are KV caches before their type
    // is lowered; the buffer ABI ties them to one in-place buffer.
    module.walk([&](func::FuncOp f) {
      FunctionType ft = f.getFunctionType();
      for (unsigned i = 0; i < ft.getNumInputs(); ++i)
        if (isa<KVCacheType>(ft.getInput(i)))
          f.setArgAttr(i, "llm.kv_cache", UnitAttr::get(ctx));
      for (unsigned i = 0; i < ft.getNumResults(); ++i)
        if (isa<KVCacheType>(ft.getResult(i)))
          f.setResultAttr(i, "llm.kv_cache", UnitAttr::get(ctx));
    });

    CacheTypeConverter converter;
    ConversionTarget target(*ctx);
    target.addLegalDialect<linalg::LinalgDialect, tensor::TensorDialect,
                           arith::ArithDialect, math::MathDialect,
                           bufferization::BufferizationDialect,
                           memref::MemRefDialect, scf::SCFDialect>();
    target.addIllegalDialect<LLMDialect>();
    target.addLegalOp<ParamOp, UnrealizedConversionCastOp>();
    target.addDynamicallyLegalOp<func::FuncOp>([&](func::FuncOp f) {
      return converter.isSignatureLegal(f.getFunctionType());
    });
    target.addDynamicallyLegalOp<func::ReturnOp, func::CallOp>(
        [&](Operation *op) { return converter.isLegal(op); });

    RewritePatternSet patterns(ctx);
    patterns.add<LowerEmbedding, LowerRMSNorm, LowerLayerNorm, LowerLinear,
                 LowerDequantize, LowerQLinear,
                 LowerRoPE, LowerAttention, LowerSoftmax, LowerSiLU, LowerGeLU,
                 LowerSwiGLU, LowerBinary<AddOp, arith::AddFOp>,
                 LowerBinary<MulOp, arith::MulFOp>>(converter, ctx);
    populateFunctionOpInterfaceTypeConversionPattern<func::FuncOp>(patterns,
                                                                   converter);
    populateReturnOpTypeConversionPattern(patterns, converter);
    populateCallOpTypeConversionPattern(patterns, converter);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    // Every other generic whose outermost loop is parallel works row by row
    // (tokens): backends may split it across threads.
    module.walk([&](linalg::GenericOp op) {
      if (!op->hasAttr("llm.schedule") && op.getNumLoops() > 0 &&
          op.getIteratorTypesArray()[0] == IteratorType::parallel)
        op->setAttr("llm.schedule", StringAttr::get(ctx, "rows"));
    });
  }
};
} // namespace

RankedTensorType mlir::llm::cacheTensorType(KVCacheType t) {
  int64_t cap = (t.getMaxSeq() + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  return RankedTensorType::get(
      {t.getLayers(), 2, t.getKvHeads(), cap, t.getHeadDim()},
      t.getElementType());
}
