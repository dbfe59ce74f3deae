//===- Linear.cpp - llm.linear, llm.qlinear, GGUF dequantization ----------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp).
//
//===----------------------------------------------------------------------===//

#include "lowering/LLMToLinalg/Builders.h"
#include "lowering/LLMToLinalg/LLMToLinalg.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;

namespace {
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

/// What follows the contraction: `act(acc + bias) + residual`. Without an
/// activation, bias and residual seed the accumulator (no extra pass).
struct Epilogue {
  Value bias, residual;
  std::optional<Activation> act;
  bool seeds() const { return !act && (bias || residual); }
};

/// act(y + bias) (+ residual) in one elementwise pass.
Value applyEpilogue(OpBuilder &b, Location loc, Value y, const Epilogue &e) {
  MLIRContext *ctx = b.getContext();
  Type elt = cast<RankedTensorType>(y.getType()).getElementType();
  SmallVector<Value> ins = {y};
  SmallVector<AffineMap> maps = {map(ctx, 2, {0, 1})};
  if (e.bias) {
    ins.push_back(e.bias);
    maps.push_back(map(ctx, 2, {1}));
  }
  if (e.residual) {
    ins.push_back(e.residual);
    maps.push_back(map(ctx, 2, {0, 1}));
  }
  maps.push_back(map(ctx, 2, {0, 1}));
  return generic(b, loc, ins, emptyLike(b, loc, y), maps, {par, par},
                 [&](OpBuilder &nb, Location l, ValueRange args) {
                   Value v = args[0];
                   unsigned next = 1;
                   if (e.bias)
                     v = arith::AddFOp::create(
                         nb, l, v, castFloat(nb, l, args[next++], elt));
                   if (e.act)
                     v = activate(nb, l, *e.act, v);
                   if (e.residual)
                     v = arith::AddFOp::create(nb, l, v, args[next]);
                   return v;
                 });
}

/// How the contraction reads weight element (o, i). Float weights and
/// 8-bit integers are a generic input indexed (o, i); per-channel scales
/// (and zero points) are inputs indexed (o). Per-group scales and 4-bit
/// integers (two per byte: element 2k low nibble of byte k) are read in the
/// body by index, and the contraction is then tagged for a schedule that
/// vectorizes those reads (`qmatvec` / `qlinear`).
struct WeightReader {
  Value w;        ///< [out, in] float or 8-bit weights, or null (4-bit)
  QuantAttr quant; ///< null: float weights
  Value scales, zeros; ///< channel: [out]; group: [out, in / group]
  Value bytes;    ///< 4-bit: the flat packed bytes
  /// 4-bit in groups: the bytes as [out, in / group, group / 2]. The
  /// reduction then runs over (group, half, byte) dims (element
  /// g * group + h * group / 2 + j is nibble h of byte j of group g), so
  /// every operand is indexed by a projected permutation: contiguous byte
  /// and input loads, one scale per group, and only the (never tiled) half
  /// dim read by index.
  Value groupedBytes;
  int64_t in = 0;

  bool channel() const {
    return quant && quant.getGranularity() == QuantGranularity::channel;
  }
  bool grouped4() const { return static_cast<bool>(groupedBytes); }
  /// Reads something by index in the body (other than the nibble dim).
  bool indexed() const { return quant && !grouped4() && (!channel() || !w); }
  /// Reduction dims of the contraction: the input features, or (group,
  /// half, byte).
  unsigned reductionDims() const { return grouped4() ? 3 : 1; }

  /// `x` ([..., in]) shaped for the reduction dims: [..., in / g, 2, g / 2]
  /// for grouped 4-bit weights.
  Value shapeInput(OpBuilder &b, Location loc, Value x) const {
    if (!grouped4())
      return x;
    auto t = cast<RankedTensorType>(x.getType());
    int64_t g = quant.getGroup();
    SmallVector<int64_t> shape(t.getShape().drop_back());
    unsigned r = shape.size();
    shape.append({in / g, 2, g / 2});
    SmallVector<ReassociationIndices> re;
    for (unsigned d = 0; d < r; ++d)
      re.push_back({int64_t(d)});
    re.push_back({int64_t(r), int64_t(r) + 1, int64_t(r) + 2});
    SmallVector<OpFoldResult> sizes;
    for (unsigned d = 0; d < r; ++d)
      sizes.push_back(t.isDynamicDim(d)
                          ? OpFoldResult(tensor::DimOp::create(b, loc, x, d)
                                             .getResult())
                          : OpFoldResult(b.getIndexAttr(t.getDimSize(d))));
    sizes.append({b.getIndexAttr(in / g), b.getIndexAttr(2),
                  b.getIndexAttr(g / 2)});
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, t.getElementType()), x, re,
        sizes);
  }

  /// Appends the generic inputs and maps for the weight, given the loop
  /// dims of `o` and `i` among `numDims`.
  void operands(MLIRContext *ctx, unsigned numDims, unsigned oDim,
                unsigned iDim, SmallVectorImpl<Value> &ins,
                SmallVectorImpl<AffineMap> &maps) const {
    if (grouped4()) {
      // iDim is the group dim; then the half and byte dims.
      ins.push_back(groupedBytes);
      maps.push_back(map(ctx, numDims, {oDim, iDim, iDim + 2}));
      ins.push_back(scales);
      maps.push_back(map(ctx, numDims, {oDim, iDim}));
      if (zeros) {
        ins.push_back(zeros);
        maps.push_back(map(ctx, numDims, {oDim, iDim}));
      }
      return;
    }
    if (w) {
      ins.push_back(w);
      maps.push_back(map(ctx, numDims, {oDim, iDim}));
    }
    if (channel()) {
      ins.push_back(scales);
      maps.push_back(map(ctx, numDims, {oDim}));
      if (zeros) {
        ins.push_back(zeros);
        maps.push_back(map(ctx, numDims, {oDim}));
      }
    }
  }

  /// Nibble `high` (index 0: low, 1: high) of the i8 `byte`; signed nibbles
  /// (two's complement) become (n ^ 8) - 8.
  static Value nibble(OpBuilder &b, Location l, Value byte, Value high,
                      bool sym) {
    Type i8 = b.getIntegerType(8);
    auto c8 = [&](int64_t v) {
      return arith::ConstantIntOp::create(b, l, i8, v).getResult();
    };
    Value shift = arith::MulIOp::create(
        b, l, arith::IndexCastOp::create(b, l, i8, high), c8(4));
    Value nib = arith::AndIOp::create(
        b, l, arith::ShRUIOp::create(b, l, byte, shift), c8(15));
    if (!sym)
      return nib;
    return arith::SubIOp::create(
        b, l, arith::XOrIOp::create(b, l, nib, c8(8)), c8(8));
  }

  /// The weight (o, i) as `elt` in the body; `args` starts at the weight's
  /// first block argument.
  Value value(OpBuilder &b, Location l, ValueRange args, unsigned oDim,
              unsigned iDim, Type elt) const {
    if (!quant)
      return castFloat(b, l, args[0], elt);
    unsigned next = 0;
    bool sym = !quant.hasZeroPoints();
    Value o, i; // created only for reads by index
    if (indexed()) {
      o = linalg::IndexOp::create(b, l, oDim);
      i = linalg::IndexOp::create(b, l, iDim);
    }
    Value raw;
    if (grouped4()) {
      // The half dim selects the low (0) or high (1) nibble.
      Value byte = args[next++];
      raw = nibble(b, l, byte, linalg::IndexOp::create(b, l, iDim + 1), sym);
    } else if (w) {
      raw = args[next++];
    } else {
      // 4 bits in blocks of B (the group, or the row): element j of a
      // block is nibble j / (B/2) of the block's byte j % (B/2).
      int64_t block = quant.getGroup() ? quant.getGroup() : in;
      Value j = arith::RemUIOp::create(b, l, i, iconst(b, l, block));
      Value at = arith::AddIOp::create(
          b, l,
          arith::AddIOp::create(
              b, l, arith::MulIOp::create(b, l, o, iconst(b, l, in / 2)),
              arith::MulIOp::create(
                  b, l, arith::DivUIOp::create(b, l, i, iconst(b, l, block)),
                  iconst(b, l, block / 2))),
          arith::RemUIOp::create(b, l, j, iconst(b, l, block / 2)));
      Value byte = tensor::ExtractOp::create(b, l, bytes, ValueRange{at});
      raw = nibble(b, l, byte,
                   arith::DivUIOp::create(b, l, j, iconst(b, l, block / 2)),
                   sym);
    }
    Value q = sym ? arith::SIToFPOp::create(b, l, elt, raw).getResult()
                  : arith::UIToFPOp::create(b, l, elt, raw).getResult();
    Value s, z;
    if (channel() || grouped4()) {
      s = args[next++];
      if (!sym)
        z = args[next++];
    } else {
      Value g = arith::DivUIOp::create(b, l, i, iconst(b, l, quant.getGroup()));
      s = tensor::ExtractOp::create(b, l, scales, ValueRange{o, g});
      if (!sym)
        z = tensor::ExtractOp::create(b, l, zeros, ValueRange{o, g});
    }
    if (!sym)
      q = arith::SubFOp::create(b, l, q, castFloat(b, l, z, elt));
    return arith::MulFOp::create(b, l, q, castFloat(b, l, s, elt));
  }

  /// The schedule tag of a contraction reading this weight.
  StringRef schedule(StringRef plain) const {
    if (grouped4())
      return plain == "matvec" ? "q4matvec" : "q4linear";
    if (!indexed())
      return plain;
    return plain == "matvec" ? "qmatvec" : "qlinear";
  }
};

/// The accumulator's initial value for rows [0, rows) of the result: the
/// residual row (zero past `real` rows) plus the bias, or zero.
Value seededInit(OpBuilder &b, Location loc, const Epilogue &e, Type elt,
                 ArrayRef<int64_t> shape, ValueRange dyn,
                 function_ref<Value(OpBuilder &, Location)> rowIndex,
                 Value real) {
  Value init = empty(b, loc, shape, elt, dyn);
  if (!e.seeds())
    return fill(b, loc, init, 0.0);
  unsigned rank = shape.size();
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, ValueRange{}, ValueRange{init},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank)},
             SmallVector<IteratorType>(rank, par),
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value o = linalg::IndexOp::create(nb, l, rank - 1);
               Value v = fconst(nb, l, elt, 0.0);
               if (e.residual) {
                 Value row = rowIndex(nb, l);
                 Value ok = arith::CmpIOp::create(
                     nb, l, arith::CmpIPredicate::ult, row, real);
                 Value safe =
                     arith::SelectOp::create(nb, l, ok, row, iconst(nb, l, 0));
                 Value r = tensor::ExtractOp::create(nb, l, e.residual,
                                                     ValueRange{safe, o});
                 v = arith::SelectOp::create(nb, l, ok, castFloat(nb, l, r, elt),
                                             v);
               }
               if (e.bias) {
                 Value bv = tensor::ExtractOp::create(nb, l, e.bias,
                                                      ValueRange{o});
                 v = arith::AddFOp::create(nb, l, v, castFloat(nb, l, bv, elt));
               }
               linalg::YieldOp::create(nb, l, v);
             })
      .getResult(0);
}

/// Decode: y[0, o] = sum_i x[0, i] * w[o, i] for one token. Tagged
/// `matvec` [task rows, register rows, vector width]: every weight element
/// is loaded once and used once, so it is kept streaming with several
/// independent accumulators.
Value buildMatVec(OpBuilder &b, Location loc, Value x1, const WeightReader &w,
                  Type elt, int64_t in, int64_t out, const Epilogue &e) {
  MLIRContext *ctx = b.getContext();
  Value init = seededInit(
      b, loc, e, elt, {1, out}, {},
      [](OpBuilder &nb, Location l) { return iconst(nb, l, 0); },
      e.residual ? iconst(b, loc, 1) : Value());
  // dims: (token, out, reduction dims...)
  unsigned nr = w.reductionDims(), nd = 2 + nr;
  SmallVector<unsigned> xDims = {0};
  for (unsigned r = 0; r < nr; ++r)
    xDims.push_back(2 + r);
  SmallVector<Value> ins = {w.shapeInput(b, loc, x1)};
  SmallVector<AffineMap> maps = {map(ctx, nd, xDims)};
  w.operands(ctx, nd, 1, 2, ins, maps);
  maps.push_back(map(ctx, nd, {0, 1}));
  SmallVector<IteratorType> iters = {par, par};
  iters.append(nr, red);
  Value y = generic(
      b, loc, ins, init, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value wv = w.value(nb, l, args.slice(1, args.size() - 2), 1, 2, elt);
        Value p = arith::MulFOp::create(nb, l, args[0], wv);
        return arith::AddFOp::create(nb, l, args.back(), p);
      });
  int64_t rowTile = out % 4 == 0 ? 4 : (out % 2 == 0 ? 2 : 1);
  int64_t width = w.grouped4() ? w.quant.getGroup()
                  : in % 32 == 0 ? 32 : vectorWidthFor(in);
  Operation *op = y.getDefiningOp();
  op->setAttr("llm.schedule", b.getStringAttr(w.schedule("matvec")));
  op->setAttr("llm.tiles", b.getDenseI64ArrayAttr(
                               {taskRows(out, rowTile, 64), rowTile, width}));
  return y;
}

Value buildBlockedLinear(OpBuilder &b, Location loc, Value x,
                         const WeightReader &w, RankedTensorType resultType,
                         const Epilogue &e);

/// One token takes the matrix-vector path, several the blocked one.
Value buildLinear(OpBuilder &b, Location loc, Value x, const WeightReader &w,
                  RankedTensorType resultType, const Epilogue &e) {
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
    Epilogue e1 = e;
    if (e.residual)
      e1.residual = tensor::CastOp::create(
          b, loc, RankedTensorType::get({1, out}, elt), e.residual);
    Value y1 = buildMatVec(b, loc, x1, w, elt, in, out, e1);
    scf::YieldOp::create(b, loc,
                         Value(tensor::CastOp::create(b, loc, resultType, y1)));
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc,
                         buildBlockedLinear(b, loc, x, w, resultType, e));
  }
  Value y = withRows(b, loc, ifOp.getResult(0), t);
  return e.act ? applyEpilogue(b, loc, y, e) : y;
}

Value buildBlockedLinear(OpBuilder &b, Location loc, Value x,
                         const WeightReader &w, RankedTensorType resultType,
                         const Epilogue &e) {
  MLIRContext *ctx = b.getContext();
  Type elt = resultType.getElementType();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t in = xType.getShape()[1], out = resultType.getShape()[1];
  int64_t dyn = ShapedType::kDynamic;
  Value t = tensor::DimOp::create(b, loc, x, 0);
  Value xp = padRows(b, loc, x, kTokenBlock);
  Value blocks = arith::DivUIOp::create(
      b, loc, tensor::DimOp::create(b, loc, xp, 0), iconst(b, loc, kTokenBlock));
  Value x3 = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get({dyn, kTokenBlock, in}, xType.getElementType()),
      xp, ArrayRef<ReassociationIndices>{{0, 1}, {2}},
      ArrayRef<OpFoldResult>{blocks, b.getIndexAttr(kTokenBlock),
                             b.getIndexAttr(in)});
  Value init = seededInit(
      b, loc, e, elt, {dyn, kTokenBlock, out}, blocks,
      [](OpBuilder &nb, Location l) -> Value {
        Value blk = linalg::IndexOp::create(nb, l, 0);
        Value lane = linalg::IndexOp::create(nb, l, 1);
        return arith::AddIOp::create(
            nb, l, arith::MulIOp::create(nb, l, blk, iconst(nb, l, kTokenBlock)),
            lane);
      },
      t);
  // dims: (token blocks, 4 tokens, out, reduction dims...)
  unsigned nr = w.reductionDims(), nd = 3 + nr;
  SmallVector<unsigned> xDims = {0, 1};
  for (unsigned r = 0; r < nr; ++r)
    xDims.push_back(3 + r);
  SmallVector<Value> ins = {w.shapeInput(b, loc, x3)};
  SmallVector<AffineMap> maps = {map(ctx, nd, xDims)};
  w.operands(ctx, nd, 2, 3, ins, maps);
  maps.push_back(map(ctx, nd, {0, 1, 2}));
  SmallVector<IteratorType> iters = {par, par, par};
  iters.append(nr, red);
  auto op = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ins, ValueRange{init}, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        Value wv = w.value(nb, l, args.slice(1, args.size() - 2), 2, 3, elt);
        Value p = arith::MulFOp::create(nb, l, args[0], wv);
        linalg::YieldOp::create(
            nb, l, Value(arith::AddFOp::create(nb, l, args.back(), p)));
      });
  // Register tile: 4 output rows when they divide `out`; a parallel task
  // takes up to 16 rows (a multiple of the register tile dividing `out`).
  int64_t rowTile = out % 4 == 0 ? 4 : (out % 2 == 0 ? 2 : 1);
  int64_t task = taskRows(out, rowTile, 16);
  op->setAttr("llm.schedule", b.getStringAttr(w.schedule("linear")));
  op->setAttr("llm.tiles",
              b.getDenseI64ArrayAttr(
                  {task, rowTile,
                   w.grouped4() ? w.quant.getGroup() : vectorWidthFor(in)}));
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
} // namespace

namespace {
/// Dequantizes a GGUF block-quantized [rows, cols] weight to f32, reading its
/// packed bytes (the weight is reinterpreted as a flat byte tensor, which
/// `--llm-buffer-abi` binds to the packed blocks in the weight buffer).
Value dequantizeBlocks(OpBuilder &b, Location loc, Value packed, QuantAttr q,
                       RankedTensorType resultType) {
  return dequantizeBlockBytes(b, loc, ggufBytes(b, loc, packed, q), q,
                              resultType);
}
} // namespace

bool mlir::llm::lowering::isLowerableQLinear(Operation *op) {
  auto q = dyn_cast<QLinearOp>(op);
  if (!q || q.getInput().getType().getRank() != 2)
    return false;
  QuantAttr quant = q.getQuant();
  auto wType = q.getWeight().getType();
  return (quant.getScheme() == QuantScheme::symmetric ||
          quant.getScheme() == QuantScheme::asymmetric) &&
         (quant.getBits() == 8 ||
          (quant.getBits() == 4 && wType.getNumElements() % 2 == 0)) &&
         wType.getRank() == 2 && wType.hasStaticShape();
}

namespace {
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

/// Quantized linear. Symmetric/asymmetric 8- and 4-bit integers are
/// dequantized in registers inside the contraction (WeightReader). GGUF
/// q8_0 / q4_0 blocks run as stored on 8-bit activations (BlockDot.cpp);
/// other GGUF blocks (q4_1) are dequantized to f32 first, then the f32
/// linear runs: correct, not fast.
struct LowerQLinear : OpConversionPattern<QLinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(QLinearOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    if (!isLowerableGGUF(op) && !isLowerableQLinear(op) && !isBlockDotLinear(op))
      return rw.notifyMatchFailure(op, "unsupported quantization");
    auto wType = cast<RankedTensorType>(op.getWeight().getType());
    Epilogue e{a.getBias(), a.getResidual(), op.getActivation()};
    if (isBlockDotLinear(op)) {
      Location loc = op.getLoc();
      int64_t tile = interleaveTile(op);
      Value packed = ggufBytes(rw, loc, a.getWeight(), op.getQuant(), tile);
      Value y = buildBlockDotLinear(rw, loc, a.getInput(), packed,
                                    op.getQuant(), wType.getShape()[0],
                                    a.getScales(), tile);
      if (e.bias || e.residual || e.act)
        y = applyEpilogue(rw, loc, y, e);
      rw.replaceOp(op, y);
      return success();
    }
    WeightReader w;
    if (isLowerableGGUF(op)) {
      w.w = dequantizeBlocks(rw, op.getLoc(), a.getWeight(), op.getQuant(),
                             wType.clone(rw.getF32Type()));
    } else {
      Location loc = op.getLoc();
      QuantAttr quant = op.getQuant();
      w.quant = quant;
      w.in = wType.getShape()[1];
      if (quant.getBits() == 8) {
        w.w = a.getWeight();
      } else {
        // Read as its packed bytes, which --llm-buffer-abi binds.
        w.bytes = UnrealizedConversionCastOp::create(
                      rw, loc,
                      RankedTensorType::get({wType.getNumElements() / 2},
                                            rw.getIntegerType(8)),
                      a.getWeight())
                      .getResult(0);
        int64_t g = quant.getGroup();
        if (quant.getGranularity() == QuantGranularity::group && g % 2 == 0) {
          int64_t out = wType.getShape()[0];
          w.groupedBytes = tensor::ExpandShapeOp::create(
              rw, loc,
              RankedTensorType::get({out, w.in / g, g / 2},
                                    rw.getIntegerType(8)),
              w.bytes, ArrayRef<ReassociationIndices>{{0, 1, 2}});
        }
      }
      auto flatten = [&](Value v) -> Value {
        if (!v || !w.channel())
          return v;
        auto t = cast<RankedTensorType>(v.getType());
        return tensor::CollapseShapeOp::create(
            rw, loc, RankedTensorType::get({t.getShape()[0]}, t.getElementType()),
            v, ArrayRef<ReassociationIndices>{{0, 1}});
      };
      w.scales = flatten(a.getScales());
      w.zeros = flatten(a.getZeros());
    }
    rw.replaceOp(op, buildLinear(rw, op.getLoc(), a.getInput(), w,
                                 op.getResult().getType(), e));
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
    Epilogue e{a.getBias(), a.getResidual(), op.getActivation()};
    WeightReader w;
    w.w = a.getWeight();
    rw.replaceOp(op, buildLinear(rw, op.getLoc(), a.getInput(), w,
                                 op.getResult().getType(), e));
    return success();
  }
};

/// One matrix per head: a generic over (token, head, out, in), the
/// reduction innermost so each (token, head, out) is a dot product of
/// contiguous rows (transposed weights read with a stride instead).
struct LowerHeadLinear : OpConversionPattern<HeadLinearOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(HeadLinearOp op, OpAdaptor a,
                  ConversionPatternRewriter &rw) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rw.getContext();
    int64_t dyn = ShapedType::kDynamic;
    int64_t heads = op.getHeads(), in = op.getHeadIn(), out = op.getHeadOut();
    Type elt = op.getResult().getType().getElementType();
    Value x = a.getInput();
    Value t = tensor::DimOp::create(rw, loc, x, 0);
    Value x3 = tensor::ExpandShapeOp::create(
        rw, loc, RankedTensorType::get({dyn, heads, in}, elt), x,
        ArrayRef<ReassociationIndices>{{0}, {1, 2}},
        ArrayRef<OpFoldResult>{t, rw.getIndexAttr(heads), rw.getIndexAttr(in)});
    Value init = fill(rw, loc, empty(rw, loc, {dyn, heads, out}, elt, t), 0.0);
    // dims: (t, h, o, i)
    Value y3 = tag(generic(
        rw, loc, ValueRange{x3, a.getWeight()}, init,
        {map(ctx, 4, {0, 1, 3}),
         op.getTransposed() ? map(ctx, 4, {1, 3, 2}) : map(ctx, 4, {1, 2, 3}),
         map(ctx, 4, {0, 1, 2})},
        {par, par, par, red}, [&](OpBuilder &b, Location l, ValueRange args) {
          Value w = castFloat(b, l, args[1], elt);
          return arith::AddFOp::create(
              b, l, args[2], arith::MulFOp::create(b, l, args[0], w));
        }), "rows");
    rw.replaceOp(op, tensor::CollapseShapeOp::create(
                         rw, loc, op.getResult().getType(), y3,
                         ArrayRef<ReassociationIndices>{{0}, {1, 2}}));
    return success();
  }
};

} // namespace

Value mlir::llm::lowering::buildFloatLinear(OpBuilder &b, Location loc,
                                            Value x, Value w,
                                            RankedTensorType resultType) {
  WeightReader r;
  r.w = w;
  return buildLinear(b, loc, x, r, resultType, Epilogue{});
}

void mlir::llm::lowering::populateLinearPatterns(TypeConverter &converter,
                                                 RewritePatternSet &patterns) {
  patterns.add<LowerLinear, LowerDequantize, LowerQLinear, LowerHeadLinear>(
      converter, patterns.getContext());
}
