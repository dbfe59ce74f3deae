//===- FuseQKV.cpp - one linear for projections that share an input -------===//
//
// Q, K and V (and any other linears reading the same activation) become one
// linear over the symbolic concatenation of their weights, evaluated at pack
// time, followed by slices of its result; a SwiGLU's gate and up projections
// become one linear feeding the single-operand form of `llm.swiglu`. One
// pass over the activation and one kernel instead of two or three.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::llm {
#define GEN_PASS_DEF_FUSEQKV
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
/// A linear the fusion may absorb: no epilogue yet, float weights (and
/// bias) known at pack time.
bool fusable(LinearOp op) {
  return !op.getResidual() && !op.getActivation() &&
         isPackTimeWeight(op.getWeight()) &&
         (!op.getBias() || isPackTimeWeight(op.getBias()));
}

/// Whether `b` can join a group led by `a`: same weight and bias element
/// types, both biased or neither.
bool compatible(LinearOp a, LinearOp b) {
  auto ta = cast<RankedTensorType>(a.getWeight().getType());
  auto tb = cast<RankedTensorType>(b.getWeight().getType());
  if (ta.getElementType() != tb.getElementType() ||
      ta.getDimSize(1) != tb.getDimSize(1) ||
      static_cast<bool>(a.getBias()) != static_cast<bool>(b.getBias()))
    return false;
  return !a.getBias() ||
         cast<RankedTensorType>(a.getBias().getType()).getElementType() ==
             cast<RankedTensorType>(b.getBias().getType()).getElementType();
}

/// One linear over the concatenated weights (and biases) of `group`, built
/// at the rewriter's insertion point.
LinearOp buildFused(PatternRewriter &rw, Location loc, Value input,
                    ArrayRef<LinearOp> group) {
  SmallVector<Value> weights, biases;
  int64_t out = 0;
  for (LinearOp op : llvm::to_vector(group)) {
    weights.push_back(op.getWeight());
    if (op.getBias())
      biases.push_back(op.getBias());
    out += cast<RankedTensorType>(op.getWeight().getType()).getDimSize(0);
  }
  auto wType = cast<RankedTensorType>(weights[0].getType());
  Value w = ConcatOp::create(
      rw, loc, RankedTensorType::get({out, wType.getDimSize(1)},
                                     wType.getElementType()),
      weights, rw.getI64IntegerAttr(0));
  Value bias;
  if (!biases.empty())
    bias = ConcatOp::create(
        rw, loc,
        RankedTensorType::get(
            {out}, cast<RankedTensorType>(biases[0].getType()).getElementType()),
        biases, rw.getI64IntegerAttr(0));
  auto rType = cast<RankedTensorType>(LinearOp(group[0]).getResult().getType());
  SmallVector<int64_t> shape(rType.getShape());
  shape.back() = out;
  return LinearOp::create(rw, loc, rType.clone(shape), input, w, bias);
}

/// `silu(x·Wgᵀ) * (x·Wuᵀ)` -> `swiglu(x·[Wg; Wu]ᵀ)`.
struct FuseGateUp : OpRewritePattern<SwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwiGLUOp op,
                                PatternRewriter &rw) const override {
    if (!op.getUp())
      return rw.notifyMatchFailure(op, "already fused");
    auto gate = op.getGate().getDefiningOp<LinearOp>();
    auto up = op.getUp().getDefiningOp<LinearOp>();
    if (!gate || !up || gate == up || gate.getInput() != up.getInput() ||
        !gate->hasOneUse() || !up->hasOneUse() || !fusable(gate) ||
        !fusable(up) || !compatible(gate, up) ||
        gate.getResult().getType() != up.getResult().getType())
      return rw.notifyMatchFailure(op, "gate and up are not fusable linears");
    LinearOp fused = buildFused(rw, op.getLoc(), gate.getInput(), {gate, up});
    rw.replaceOpWithNewOp<SwiGLUOp>(op, op.getType(), fused.getResult(),
                                    Value());
    rw.eraseOp(gate);
    rw.eraseOp(up);
    return success();
  }
};

/// Sibling linears of one input -> one linear and slices of its result.
struct FuseSiblings : OpRewritePattern<LinearOp> {
  FuseSiblings(MLIRContext *ctx, DominanceInfo &dom)
      : OpRewritePattern(ctx), dom(dom) {}

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rw) const override {
    if (!fusable(op))
      return rw.notifyMatchFailure(op, "has an epilogue or runtime weights");
    // The group: fusable siblings in op's block whose weights are available
    // where op is (the fused linear replaces op in place); op leads when it
    // comes first.
    SmallVector<LinearOp> group;
    for (Operation *user : op.getInput().getUsers()) {
      auto sib = dyn_cast<LinearOp>(user);
      if (!sib || sib.getInput() != op.getInput() ||
          sib->getBlock() != op->getBlock() || !fusable(sib) ||
          !compatible(op, sib))
        continue;
      if (sib != op && sib->isBeforeInBlock(op))
        return rw.notifyMatchFailure(op, "not the first of its siblings");
      if (sib != op &&
          (!dom.properlyDominates(sib.getWeight(), op) ||
           (sib.getBias() && !dom.properlyDominates(sib.getBias(), op))))
        continue;
      group.push_back(sib);
    }
    if (group.size() < 2)
      return rw.notifyMatchFailure(op, "no sibling to fuse with");
    llvm::sort(group, [](LinearOp a, LinearOp b) {
      return a->isBeforeInBlock(b);
    });
    Location loc = op.getLoc();
    rw.setInsertionPoint(op);
    LinearOp fused = buildFused(rw, loc, op.getInput(), group);
    auto fusedType = cast<RankedTensorType>(fused.getResult().getType());
    int64_t rank = fusedType.getRank(), offset = 0;
    SmallVector<OpFoldResult> sizes;
    for (int64_t d = 0; d < rank - 1; ++d)
      sizes.push_back(
          fusedType.isDynamicDim(d)
              ? OpFoldResult(
                    tensor::DimOp::create(rw, loc, fused.getResult(), d)
                        .getResult())
              : OpFoldResult(rw.getIndexAttr(fusedType.getDimSize(d))));
    sizes.push_back(OpFoldResult());
    SmallVector<OpFoldResult> strides(rank, rw.getIndexAttr(1));
    for (LinearOp member : group) {
      auto type = cast<RankedTensorType>(member.getResult().getType());
      SmallVector<OpFoldResult> offsets(rank, rw.getIndexAttr(0));
      offsets.back() = rw.getIndexAttr(offset);
      sizes.back() = rw.getIndexAttr(type.getShape().back());
      Value slice = tensor::ExtractSliceOp::create(
          rw, loc, type, fused.getResult(), offsets, sizes, strides);
      offset += type.getShape().back();
      rw.replaceOp(member, slice);
    }
    return success();
  }

  DominanceInfo &dom;
};

struct FuseQKV : llm::impl::FuseQKVBase<FuseQKV> {
  using FuseQKVBase::FuseQKVBase;

  void runOnOperation() override {
    DominanceInfo &dom = getAnalysis<DominanceInfo>();
    // Gate/up first, on their own: as plain siblings they would become
    // slices feeding a two-operand swiglu.
    if (gateUp) {
      RewritePatternSet patterns(&getContext());
      patterns.add<FuseGateUp>(&getContext());
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
    if (siblings) {
      RewritePatternSet patterns(&getContext());
      patterns.add<FuseSiblings>(&getContext(), dom);
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        return signalPassFailure();
    }
  }
};
} // namespace
