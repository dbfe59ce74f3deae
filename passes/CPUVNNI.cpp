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
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(vector::MultiDimReductionOp op,
                                PatternRewriter &rw) const override {
    auto srcType = op.getSourceVectorType();
    if (op.getKind() != vector::CombiningKind::ADD || srcType.getRank() != 2 ||
        srcType.isScalable() || srcType.getDimSize(1) != 4 ||
        !srcType.getElementType().isInteger(32) ||
        op.getReductionMask() != ArrayRef<bool>{false, true})
      return rw.notifyMatchFailure(op, "not an Nx4 i32 add over dim 1");
    int64_t lanes = srcType.getDimSize(0);
    if (lanes != 4 && lanes != 8)
      return rw.notifyMatchFailure(op, "not 4 or 8 lanes");
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
    std::string name = "llvm.x86.avx512.vpdpbusd." + std::to_string(lanes * 32);
    rw.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, TypeRange{op.getDestType()}, rw.getStringAttr(name),
        ValueRange{op.getAcc(), u, s}, LLVM::FastmathFlagsAttr{});
    return success();
  }
};

struct CPUVNNI : llm::impl::CPUVNNIBase<CPUVNNI> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<DotBytesToVNNI>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};
} // namespace
