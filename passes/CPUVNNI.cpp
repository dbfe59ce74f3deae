//===- CPUVNNI.cpp - byte dot products as vpdpbusd ------------------------===//
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
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

struct DotBytesToVNNI : OpRewritePattern<vector::MultiDimReductionOp> {
  DotBytesToVNNI(MLIRContext *ctx, bool zmm)
      : OpRewritePattern(ctx), zmm(zmm) {}
  bool zmm; ///< 512-bit vpdpbusd available (AVX512-VNNI)

  LogicalResult matchAndRewrite(vector::MultiDimReductionOp op,
                                PatternRewriter &rw) const override {
    auto srcType = op.getSourceVectorType();
    if (op.getKind() != vector::CombiningKind::ADD || srcType.getRank() != 2 ||
        srcType.isScalable() || srcType.getDimSize(1) != 4 ||
        !srcType.getElementType().isInteger(32) ||
        op.getReductionMask() != ArrayRef<bool>{false, true})
      return rw.notifyMatchFailure(op, "not an Nx4 i32 add over dim 1");
    int64_t lanes = srcType.getDimSize(0);
    if (lanes != 4 && lanes != 8 && lanes != 16)
      return rw.notifyMatchFailure(op, "not 4, 8 or 16 lanes");
    auto cast = op.getSource().getDefiningOp<vector::ShapeCastOp>();
    auto mul = cast ? cast.getSource().getDefiningOp<arith::MulIOp>() : nullptr;
    if (!mul || cast.getSourceVectorType().getRank() != 1)
      return rw.notifyMatchFailure(op, "not a shape_cast of a 1-D muli");
    Value u = bytesOf<arith::ExtUIOp>(mul.getLhs());
    Value s = bytesOf<arith::ExtSIOp>(mul.getRhs());
    if (!u || !s) {
      u = bytesOf<arith::ExtUIOp>(mul.getRhs());
      s = bytesOf<arith::ExtSIOp>(mul.getLhs());
    }
    if (!u || !s)
      return rw.notifyMatchFailure(op, "not zext(i8) * sext(i8)");
    auto call = [&](Value acc, Value a, Value b) {
      int64_t n = mlir::cast<VectorType>(acc.getType()).getNumElements();
      std::string name = "llvm.x86.avx512.vpdpbusd." + std::to_string(n * 32);
      return LLVM::CallIntrinsicOp::create(rw, op.getLoc(),
                                           TypeRange{acc.getType()},
                                           rw.getStringAttr(name),
                                           ValueRange{acc, a, b},
                                           LLVM::FastmathFlagsAttr{})
          .getResult(0);
    };
    if (lanes != 16 || zmm) {
      rw.replaceOp(op, call(op.getAcc(), u, s));
      return success();
    }
    // 16 lanes without 512-bit vectors: two 256-bit halves.
    Value result = op.getAcc();
    for (int64_t h = 0; h < 2; ++h) {
      auto half = [&](Value v, int64_t n) {
        return vector::ExtractStridedSliceOp::create(
                   rw, op.getLoc(), v, ArrayRef<int64_t>{h * n},
                   ArrayRef<int64_t>{n}, ArrayRef<int64_t>{1})
            .getResult();
      };
      Value r = call(half(op.getAcc(), 8), half(u, 32), half(s, 32));
      result = vector::InsertStridedSliceOp::create(
          rw, op.getLoc(), r, result, ArrayRef<int64_t>{h * 8},
          ArrayRef<int64_t>{1});
    }
    rw.replaceOp(op, result);
    return success();
  }
};

struct CPUVNNI : llm::impl::CPUVNNIBase<CPUVNNI> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DotBytesToVNNI>(&getContext(), zmm);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
