//===- MMAMatmul.cpp - prefill projections on tensor cores ----------------===//
//
// A bufferized linear projection (the `llm.schedule = "linear"` contraction
// of convert-llm-to-linalg: y[b, l, n] += x[b, l, k] * w[n, k] over token
// blocks of 4) becomes, for prompts of at least `min-rows` token rows, a
// kernel of warp-level tensor-core products (`nvgpu.mma.sync`, m16n8k8 on
// TF32, sm_80+); shorter inputs (decode) keep the contraction, which
// llm-gpu-map-loops turns into the workgroup GEMV. The choice is made on
// the host at run time (the token count is dynamic):
//
//   scf.if (rows >= min-rows) { gpu.launch (tensor cores) }
//   else { linalg.generic (unchanged) }
//
// One workgroup of 4 warps computes a 16 x 32 tile of y; each warp one
// 16 x 8 MMA tile, loading its A (x) and B (w) fragments straight from
// global memory in the PTX fragment layout (lane = 4 * group + t):
//   a0 = x[g, t]  a1 = x[g + 8, t]  a2 = x[g, t + 4]  a3 = x[g + 8, t + 4]
//   b0 = w[g, t]  b1 = w[g, t + 4]
//   c  = [[y[g, 2t], y[g, 2t + 1]], [y[g + 8, 2t], y[g + 8, 2t + 1]]]
// Rows past the token count read zero and are not stored.
//
// precision=3xtf32 (default) keeps f32 accuracy: each operand splits into
// a TF32 "big" part (its low 13 mantissa bits cleared) and the exact f32
// remainder, and the product is big*big + big*small + small*big (three
// MMAs; small*small is below f32 rounding). precision=tf32 is one MMA
// with TF32 inputs (10-bit mantissa).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::llm {
#define GEN_PASS_DEF_GPUMMAMATMUL
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
constexpr int64_t kWarps = 4, kTileM = 16, kTileN = 8, kTileK = 8;

/// Whether `op` is y[b, l, n] += x[b, l, k] * w[n, k] on f32 buffers with
/// N a multiple of 8 and K of 8 (static).
bool isMMALinear(linalg::GenericOp op) {
  if (!op->hasAttr("llm.schedule") || op.getNumLoops() != 4 ||
      op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureBufferSemantics())
    return false;
  MLIRContext *ctx = op.getContext();
  auto m = [&](ArrayRef<unsigned> dims) {
    SmallVector<AffineExpr> e;
    for (unsigned d : dims)
      e.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(4, 0, e, ctx);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  if (maps[0] != m({0, 1, 3}) || maps[1] != m({2, 3}) || maps[2] != m({0, 1, 2}))
    return false;
  auto iters = op.getIteratorTypesArray();
  using utils::IteratorType;
  if (iters[0] != IteratorType::parallel || iters[1] != IteratorType::parallel ||
      iters[2] != IteratorType::parallel || iters[3] != IteratorType::reduction)
    return false;
  for (Value v : op->getOperands())
    if (!cast<MemRefType>(v.getType()).getElementType().isF32())
      return false;
  // The body: yield acc + x * w.
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || body.getOperations().size() != 3)
    return false;
  Value acc = body.getArgument(2);
  Value prod = add.getLhs() == acc ? add.getRhs() : add.getLhs();
  auto mul = prod.getDefiningOp<arith::MulFOp>();
  if (!mul || (add.getLhs() != acc && add.getRhs() != acc))
    return false;
  Value x = body.getArgument(0), w = body.getArgument(1);
  if (!((mul.getLhs() == x && mul.getRhs() == w) ||
        (mul.getLhs() == w && mul.getRhs() == x)))
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  return ranges[1] == 4 && !ShapedType::isDynamic(ranges[2]) &&
         ranges[2] % kTileN == 0 && !ShapedType::isDynamic(ranges[3]) &&
         ranges[3] % kTileK == 0;
}

struct Builder {
  OpBuilder &b;
  Location loc;
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value select(Value c, Value x, Value y) {
    return arith::SelectOp::create(b, loc, c, x, y);
  }
};

/// Builds the tensor-core kernel computing `op` (rows = 4 * blocks).
void buildMMALaunch(OpBuilder &b, Location loc, linalg::GenericOp op,
                    Value blocks, bool split) {
  Builder h{b, loc};
  Value x = op.getDpsInputOperand(0)->get();
  Value w = op.getDpsInputOperand(1)->get();
  Value y = op.getDpsInitOperand(0)->get();
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  int64_t n = ranges[2], k = ranges[3];
  Value rows = h.mul(blocks, h.idx(4));
  Value c1 = h.idx(1);
  Value gridX = h.idx((n + kWarps * kTileN - 1) / (kWarps * kTileN));
  Value gridY = h.div(h.add(rows, h.idx(kTileM - 1)), h.idx(kTileM));
  auto launch = gpu::LaunchOp::create(b, loc, gridX, gridY, c1,
                                      h.idx(32 * kWarps), c1, c1);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&launch.getBody().front());
  gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds();
  Value warp = h.div(tid.x, h.idx(32)), lane = h.rem(tid.x, h.idx(32));
  Value g = h.div(lane, h.idx(4)), t = h.rem(lane, h.idx(4));
  Value n0 = h.add(h.mul(bid.x, h.idx(kWarps * kTileN)),
                   h.mul(warp, h.idx(kTileN)));
  Value m0 = h.mul(bid.y, h.idx(kTileM));
  Type f32 = b.getF32Type();
  Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
  // A warp whose tile lies past N has nothing to do (uniform per warp).
  auto inN = scf::IfOp::create(b, loc, h.lt(n0, h.idx(n)), false);
  b.setInsertionPointToStart(&inN.getThenRegion().front());
  Value rowA = h.add(m0, g), rowB = h.add(rowA, h.idx(8));
  Value okA = h.lt(rowA, rows), okB = h.lt(rowB, rows);
  // x[row, col] (0 past the last row; the index is clamped to stay in
  // bounds).
  auto loadX = [&](Builder &hb, Value row, Value ok, Value col) {
    Value r = hb.select(ok, row, hb.idx(0));
    Value v = memref::LoadOp::create(
        hb.b, hb.loc, x,
        ValueRange{hb.div(r, hb.idx(4)), hb.rem(r, hb.idx(4)), col});
    return hb.select(ok, v, zero);
  };
  Value wRow = h.add(n0, g);
  auto acc0 = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(VectorType::get({2, 2}, f32), 0.0f));
  auto aTy = VectorType::get({4, 1}, f32), bTy = VectorType::get({2, 1}, f32);
  auto loop = scf::ForOp::create(
      b, loc, h.idx(0), h.idx(k), h.idx(kTileK), ValueRange{acc0},
      [&](OpBuilder &lb, Location l, Value k0, ValueRange iter) {
        Builder hb{lb, l};
        Value ka = hb.add(k0, t), kb = hb.add(ka, hb.idx(4));
        SmallVector<Value> a = {
            loadX(hb, rowA, okA, ka), loadX(hb, rowB, okB, ka),
            loadX(hb, rowA, okA, kb), loadX(hb, rowB, okB, kb)};
        SmallVector<Value> bv = {
            memref::LoadOp::create(lb, l, w, ValueRange{wRow, ka}),
            memref::LoadOp::create(lb, l, w, ValueRange{wRow, kb})};
        auto pack = [&](ArrayRef<Value> vals, VectorType ty) {
          Value v = arith::ConstantOp::create(
              lb, l, DenseElementsAttr::get(ty, 0.0f));
          for (auto [i, e] : llvm::enumerate(vals))
            v = vector::InsertOp::create(lb, l, e, v,
                                         ArrayRef<int64_t>{int64_t(i), 0});
          return v;
        };
        // TF32 part: the low 13 mantissa bits cleared.
        auto big = [&](Value v) {
          Value bits = arith::BitcastOp::create(lb, l, lb.getI32Type(), v);
          Value mask = arith::ConstantOp::create(
              lb, l, lb.getI32IntegerAttr(int32_t(0xffffe000u)));
          return Value(arith::BitcastOp::create(
              lb, l, f32, arith::AndIOp::create(lb, l, bits, mask)));
        };
        Value acc = iter[0];
        auto mma = [&](Value av, Value bvv) {
          acc = nvgpu::MmaSyncOp::create(lb, l, av, bvv, acc,
                                         ArrayRef<int64_t>{kTileM, kTileN, kTileK},
                                         /*tf32Enabled=*/true);
        };
        if (split) {
          SmallVector<Value> aBig, aSmall, bBig, bSmall;
          for (Value v : a) {
            aBig.push_back(big(v));
            aSmall.push_back(arith::SubFOp::create(lb, l, v, aBig.back()));
          }
          for (Value v : bv) {
            bBig.push_back(big(v));
            bSmall.push_back(arith::SubFOp::create(lb, l, v, bBig.back()));
          }
          Value ab = pack(aBig, aTy), bb = pack(bBig, bTy);
          // Small terms first: they are added to the accumulator before
          // the large product.
          mma(pack(aSmall, aTy), bb);
          mma(ab, pack(bSmall, bTy));
          mma(ab, bb);
        } else {
          mma(pack(a, aTy), pack(bv, bTy));
        }
        scf::YieldOp::create(lb, l, ValueRange{acc});
      });
  // y += c, for the rows that exist.
  Value col = h.add(n0, h.mul(t, h.idx(2)));
  for (int64_t i = 0; i < 2; ++i) {
    Value row = i == 0 ? rowA : rowB, ok = i == 0 ? okA : okB;
    auto store = scf::IfOp::create(b, loc, ok, false);
    OpBuilder::InsertionGuard g2(b);
    b.setInsertionPointToStart(&store.getThenRegion().front());
    Value blk = h.div(row, h.idx(4)), ln = h.rem(row, h.idx(4));
    for (int64_t j = 0; j < 2; ++j) {
      Value c = h.add(col, h.idx(j));
      Value v = vector::ExtractOp::create(b, loc, loop.getResult(0),
                                          ArrayRef<int64_t>{i, j});
      Value old = memref::LoadOp::create(b, loc, y, ValueRange{blk, ln, c});
      memref::StoreOp::create(b, loc, arith::AddFOp::create(b, loc, old, v), y,
                              ValueRange{blk, ln, c});
    }
  }
  b.setInsertionPointToEnd(&launch.getBody().front());
  gpu::TerminatorOp::create(b, loc);
}

struct GPUMMAMatmul : mlir::llm::impl::GPUMMAMatmulBase<GPUMMAMatmul> {
  using GPUMMAMatmulBase::GPUMMAMatmulBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (precision != "tf32" && precision != "3xtf32") {
      func.emitError("precision must be 'tf32' or '3xtf32', got '")
          << precision << "'";
      return signalPassFailure();
    }
    if (minRows < 0) {
      func.emitError("min-rows must be >= 0, got ") << static_cast<int64_t>(minRows);
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> ops;
    func.walk([&](linalg::GenericOp op) {
      if (isMMALinear(op))
        ops.push_back(op);
    });
    OpBuilder b(func.getContext());
    for (linalg::GenericOp op : ops) {
      Location loc = op.getLoc();
      b.setInsertionPoint(op);
      Value x = op.getDpsInputOperand(0)->get();
      Value blocks = memref::DimOp::create(b, loc, x, 0);
      Value rows = arith::MulIOp::create(
          b, loc, blocks, arith::ConstantIndexOp::create(b, loc, 4));
      Value big = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::uge, rows,
          arith::ConstantIndexOp::create(b, loc, minRows));
      auto branch = scf::IfOp::create(b, loc, big, /*withElseRegion=*/true);
      b.setInsertionPointToStart(&branch.getThenRegion().front());
      buildMMALaunch(b, loc, op, blocks, precision == "3xtf32");
      op->moveBefore(branch.getElseRegion().front().getTerminator());
    }
  }
};
} // namespace
