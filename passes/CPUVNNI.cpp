//===- CPUVNNI.cpp - byte dot products as vpdpbusd, vpmaddubsw or sdot ----===//
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/MathExtras.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_CPUVNNI
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
/// `v` as an extension of a vector of i8 of kind `Ext`, or null.
template <typename Ext> Value bytesOf(Value v) {
  auto ext = v.getDefiningOp<Ext>();
  if (!ext)
    return {};
  auto t = dyn_cast<VectorType>(ext.getIn().getType());
  return t && t.getElementType().isInteger(8) ? ext.getIn() : Value();
}

/// The largest unsigned element of the integer constant `v`, if it is one.
std::optional<uint64_t> constantBound(Value v) {
  DenseIntElementsAttr c;
  if (!matchPattern(v, m_Constant(&c)))
    return std::nullopt;
  uint64_t m = 0;
  for (const APInt &x : c.getValues<APInt>())
    m = std::max<uint64_t>(m, x.getZExtValue());
  return m;
}

/// A bound on every byte of the i8 vector `v` read as unsigned: 255 unless
/// `v` is a constant, a mask (andi), a logical shift right, an or of such,
/// or built of elements looked up in a constant table (a byte shuffle).
uint64_t unsignedBound(Value v) {
  if (std::optional<uint64_t> m = constantBound(v))
    return *m;
  if (auto from = v.getDefiningOp<vector::FromElementsOp>()) {
    uint64_t m = 0;
    for (Value e : from.getElements()) {
      auto ex = e.getDefiningOp<vector::ExtractOp>();
      std::optional<uint64_t> t =
          ex ? constantBound(ex.getSource()) : std::nullopt;
      if (!t)
        return 255;
      m = std::max(m, *t);
    }
    return m;
  }
  auto splat = [](Value x) -> std::optional<uint64_t> {
    DenseIntElementsAttr a;
    if (!matchPattern(x, m_Constant(&a)) || !a.isSplat())
      return std::nullopt;
    return a.getSplatValue<APInt>().getZExtValue();
  };
  // The smallest all-ones mask covering `x`.
  auto ones = [](uint64_t x) { return x ? (uint64_t(2) << llvm::Log2_64(x)) - 1 : 0; };
  if (auto a = v.getDefiningOp<arith::AndIOp>()) {
    uint64_t m = std::min(unsignedBound(a.getLhs()), unsignedBound(a.getRhs()));
    return std::min<uint64_t>(255, m);
  }
  if (auto sh = v.getDefiningOp<arith::ShRUIOp>())
    if (std::optional<uint64_t> k = splat(sh.getRhs()); k && *k < 8)
      return unsignedBound(sh.getLhs()) >> *k;
  if (auto o = v.getDefiningOp<arith::OrIOp>())
    return ones(unsignedBound(o.getLhs()) | unsignedBound(o.getRhs()));
  return 255;
}

struct DotBytes {
  Value acc, u, s;
  int64_t lanes;
};

/// The portable 4-way byte dot product `op` reduces, if it is one.
std::optional<DotBytes> dotBytesOf(vector::MultiDimReductionOp op) {
  auto srcType = op.getSourceVectorType();
  if (op.getKind() != vector::CombiningKind::ADD || srcType.getRank() != 2 ||
      srcType.isScalable() || srcType.getDimSize(1) != 4 ||
      !srcType.getElementType().isInteger(32) ||
      op.getReductionMask() != ArrayRef<bool>{false, true})
    return std::nullopt;
  int64_t lanes = srcType.getDimSize(0);
  if (lanes != 4 && lanes != 8)
    return std::nullopt;
  auto cast = op.getSource().getDefiningOp<vector::ShapeCastOp>();
  auto mul = cast ? cast.getSource().getDefiningOp<arith::MulIOp>() : nullptr;
  if (!mul || cast.getSourceVectorType().getRank() != 1)
    return std::nullopt;
  Value u = bytesOf<arith::ExtUIOp>(mul.getLhs());
  Value s = bytesOf<arith::ExtSIOp>(mul.getRhs());
  if (!u || !s) {
    u = bytesOf<arith::ExtUIOp>(mul.getRhs());
    s = bytesOf<arith::ExtSIOp>(mul.getLhs());
  }
  if (!u || !s)
    return std::nullopt;
  return DotBytes{op.getAcc(), u, s, lanes};
}

FailureOr<DotBytes> matchDotBytes(vector::MultiDimReductionOp op,
                                  PatternRewriter &rw) {
  if (std::optional<DotBytes> d = dotBytesOf(op))
    return *d;
  return rw.notifyMatchFailure(op, "not a 4-way byte dot product of "
                                   "zext(i8) x sext(i8) into 4 or 8 i32 lanes");
}

/// The largest |i16| one vpmaddubsw lane can hold for unsigned bytes below
/// `bound`: two products of at most bound x 128.
int64_t pairBound(Value u) { return 2 * 128 * int64_t(unsignedBound(u)); }

Value callIntrinsic(OpBuilder &b, Location l, Type type, StringRef name,
                    ValueRange args) {
  return LLVM::CallIntrinsicOp::create(b, l, TypeRange{type},
                                       b.getStringAttr(name), args,
                                       LLVM::FastmathFlagsAttr{})
      .getResult(0);
}

using DotChain = SmallVector<vector::MultiDimReductionOp>;

/// The maximal chains, in order, of the dot products in `f` that satisfy
/// `member`, each the accumulator of the next (acc_{i+1} = acc_i +
/// dot(u_i, s_i), the accumulator used once, in one block).
SmallVector<DotChain>
dotChains(func::FuncOp f,
          function_ref<bool(vector::MultiDimReductionOp)> member) {
  auto prevOf = [&](vector::MultiDimReductionOp op) {
    auto prev = op.getAcc().getDefiningOp<vector::MultiDimReductionOp>();
    return prev && prev->hasOneUse() && prev->getBlock() == op->getBlock() &&
                   member(prev)
               ? prev
               : vector::MultiDimReductionOp();
  };
  SmallVector<DotChain> chains;
  f.walk([&](vector::MultiDimReductionOp op) {
    if (!member(op))
      return;
    // Only chain ends start a chain: an op whose result feeds another
    // member's accumulator is part of that one's chain.
    if (op->hasOneUse())
      if (auto next = dyn_cast<vector::MultiDimReductionOp>(*op->user_begin()))
        if (member(next) && prevOf(next) == op)
          return;
    DotChain chain{op};
    for (auto prev = prevOf(op); prev; prev = prevOf(prev))
      chain.push_back(prev);
    chains.push_back(DotChain(llvm::reverse(chain)));
  });
  return chains;
}

/// AVX2: a chain of 8-lane dot products whose unsigned bytes may reach 128
/// (q8_0's bytes xor 0x80), each the accumulator of the next, becomes two
/// chains over the bytes' nibbles, which vpmaddubsw takes (exact):
///   acc + sum_i dot(u_i, s_i)
///     = (acc + sum_i dot(u_i & 15, s_i)) + 16 * sum_i dot(u_i >> 4, s_i).
/// Widening the bytes to 32-bit multiplies instead cost ~4x the
/// instructions (q8_0 decode at 0.35x llama.cpp on x86-64-v3).
void splitWideDotChains(func::FuncOp f) {
  SmallVector<DotChain> chains =
      dotChains(f, [](vector::MultiDimReductionOp op) {
        std::optional<DotBytes> d = dotBytesOf(op);
        return d && d->lanes == 8 && unsignedBound(d->u) > 127;
      });
  OpBuilder b(f.getContext());
  for (DotChain &chain : chains) {
    Location l = chain.back().getLoc();
    auto splat = [&](Type t, int64_t v) -> Value {
      auto vt = cast<VectorType>(t);
      return arith::ConstantOp::create(
          b, l, DenseElementsAttr::get(vt, b.getIntegerAttr(vt.getElementType(), v)));
    };
    auto bytes = cast<VectorType>(dotBytesOf(chain.front())->u.getType());
    b.setInsertionPoint(chain.front());
    Value lo = chain.front().getAcc(),
          hi = splat(chain.front().getAcc().getType(), 0);
    for (vector::MultiDimReductionOp op : chain) {
      DotBytes d = *dotBytesOf(op);
      b.setInsertionPoint(op);
      Value low = arith::AndIOp::create(b, l, d.u, splat(bytes, 15));
      Value high = arith::ShRUIOp::create(b, l, d.u, splat(bytes, 4));
      lo = llm::buildByteDot(b, l, lo, low, d.s);
      hi = llm::buildByteDot(b, l, hi, high, d.s);
    }
    Value sum = arith::AddIOp::create(
        b, l, lo,
        arith::ShLIOp::create(b, l, hi, splat(hi.getType(), 4)));
    chain.back().getResult().replaceAllUsesWith(sum);
    for (auto op : llvm::reverse(chain))
      op->erase();
  }
}

/// AVX2: each dot product whose unsigned bytes are provably below 128 (so
/// that vpmaddubsw cannot saturate) becomes vpmaddubsw, then vpmaddwd with
/// ones, added to the accumulator; others keep the portable form. A chain
/// of them, each the accumulator of the next (acc_{i+1} = acc_i +
/// dot(u_i, s_i)), keeps its vpmaddubsw pair sums in i16 (vpaddw) while
/// they provably fit, and widens each run of them with one vpmaddwd: for
/// 4-bit quants 8 dot products cost 8 vpmaddubsw, 7 vpaddw, 1 vpmaddwd and
/// 1 vpaddd instead of 8 of each. Each vpmaddubsw stays where its dot
/// product was, so the unpacked bytes live as briefly as before.
void lowerAVX2DotChains(func::FuncOp f) {
  SmallVector<DotChain> chains =
      dotChains(f, [](vector::MultiDimReductionOp op) {
        std::optional<DotBytes> d = dotBytesOf(op);
        return d && d->lanes == 8 && unsignedBound(d->u) <= 127;
      });
  OpBuilder b(f.getContext());
  auto i16x16 = VectorType::get({16}, b.getI16Type());
  auto i32x8 = VectorType::get({8}, b.getI32Type());
  for (auto &chain : chains) {
    Value acc = chain.front().getAcc(), pairs;
    int64_t bound = 0;
    for (auto [i, op] : llvm::enumerate(chain)) {
      DotBytes d = *dotBytesOf(op);
      b.setInsertionPoint(op);
      Location l = op.getLoc();
      Value p = callIntrinsic(b, l, i16x16, "llvm.x86.avx2.pmadd.ub.sw",
                              {d.u, d.s});
      bound += pairBound(d.u);
      pairs = pairs ? arith::AddIOp::create(b, l, pairs, p).getResult() : p;
      bool last = i + 1 == chain.size();
      if (!last && bound + pairBound(dotBytesOf(chain[i + 1])->u) <= 32767)
        continue;
      Value one = arith::ConstantOp::create(
          b, l, DenseElementsAttr::get(i16x16, b.getI16IntegerAttr(1)));
      Value quads = callIntrinsic(b, l, i32x8, "llvm.x86.avx2.pmadd.wd",
                                  {pairs, one});
      acc = arith::AddIOp::create(b, l, acc, quads);
      pairs = {};
      bound = 0;
    }
    chain.back().getResult().replaceAllUsesWith(acc);
    for (auto op : llvm::reverse(chain))
      op->erase();
  }
}

/// VNNI: one vpdpbusd (AVX2's form is written by lowerAVX2DotChains).
struct DotBytesToVNNI : OpRewritePattern<vector::MultiDimReductionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(vector::MultiDimReductionOp op,
                                PatternRewriter &rw) const override {
    FailureOr<DotBytes> d = matchDotBytes(op, rw);
    if (failed(d))
      return failure();
    std::string name =
        "llvm.x86.avx512.vpdpbusd." + std::to_string(d->lanes * 32);
    rw.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, TypeRange{op.getDestType()}, rw.getStringAttr(name),
        ValueRange{d->acc, d->u, d->s}, LLVM::FastmathFlagsAttr{});
    return success();
  }
};

/// Arm: one sdot (unsigned bytes below 128) or usdot (i8mm) per 128-bit
/// half: lane k of either is acc[k] + the dot product of bytes 4k..4k+3,
/// the portable form's order.
struct DotBytesToArm : OpRewritePattern<vector::MultiDimReductionOp> {
  DotBytesToArm(MLIRContext *ctx, bool i8mm)
      : OpRewritePattern(ctx), i8mm(i8mm) {}

  LogicalResult matchAndRewrite(vector::MultiDimReductionOp op,
                                PatternRewriter &rw) const override {
    FailureOr<DotBytes> d = matchDotBytes(op, rw);
    if (failed(d))
      return failure();
    bool exactSigned = unsignedBound(d->u) <= 127;
    if (!exactSigned && !i8mm)
      return rw.notifyMatchFailure(op, "unsigned bytes may reach 128 and "
                                       "usdot needs i8mm");
    Location loc = op.getLoc();
    auto i8x16 = VectorType::get({16}, rw.getI8Type());
    auto i32x4 = VectorType::get({4}, rw.getI32Type());
    StringAttr name = rw.getStringAttr(
        exactSigned ? "llvm.aarch64.neon.sdot.v4i32.v16i8"
                    : "llvm.aarch64.neon.usdot.v4i32.v16i8");
    auto half = [&](Value v, int64_t h, VectorType t) -> Value {
      if (d->lanes == 4)
        return v;
      return vector::ExtractStridedSliceOp::create(
          rw, loc, v, ArrayRef<int64_t>{h * t.getNumElements()},
          ArrayRef<int64_t>{t.getNumElements()}, ArrayRef<int64_t>{1});
    };
    SmallVector<Value> parts;
    for (int64_t h = 0; h < d->lanes / 4; ++h)
      parts.push_back(LLVM::CallIntrinsicOp::create(
                          rw, loc, TypeRange{i32x4}, name,
                          ValueRange{half(d->acc, h, i32x4), half(d->u, h, i8x16),
                                     half(d->s, h, i8x16)},
                          LLVM::FastmathFlagsAttr{})
                          .getResult(0));
    if (parts.size() == 1) {
      rw.replaceOp(op, parts[0]);
      return success();
    }
    rw.replaceOpWithNewOp<vector::ShuffleOp>(
        op, parts[0], parts[1], ArrayRef<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
    return success();
  }

  bool i8mm;
};

struct CPUVNNI : llm::impl::CPUVNNIBase<CPUVNNI> {
  using CPUVNNIBase::CPUVNNIBase;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    if (isa == "avx2") {
      splitWideDotChains(getOperation());
      lowerAVX2DotChains(getOperation());
    }
    else if (isa == "vnni")
      patterns.add<DotBytesToVNNI>(&getContext());
    else if (isa == "neon-dot" || isa == "neon-i8mm")
      patterns.add<DotBytesToArm>(&getContext(), isa == "neon-i8mm");
    else {
      getOperation().emitError() << "llm-cpu-vnni: unknown isa '" << isa
                                 << "' (vnni, avx2, neon-dot, neon-i8mm)";
      return signalPassFailure();
    }
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace

Value mlir::llm::buildByteDot(OpBuilder &b, Location l, Value acc, Value u,
                              Value s) {
  int64_t n = cast<VectorType>(u.getType()).getDimSize(0);
  auto wide = VectorType::get({n}, b.getI32Type());
  Value p = arith::MulIOp::create(b, l, arith::ExtUIOp::create(b, l, wide, u),
                                  arith::ExtSIOp::create(b, l, wide, s));
  Value quads = vector::ShapeCastOp::create(
      b, l, VectorType::get({n / 4, 4}, b.getI32Type()), p);
  return vector::MultiDimReductionOp::create(
      b, l, quads, acc, ArrayRef<bool>{false, true}, vector::CombiningKind::ADD);
}
