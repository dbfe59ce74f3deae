//===- Quantize.cpp - linears over pack-time weights become qlinears ------===//
//
// `llm.linear(x, w)` with `w` a pack-time weight (a param or a symbolic
// transform of params) becomes `llm.qlinear(x, q, scales[, zeros])` over
// `llm.quantize(w)`: the quantization itself is symbolic and evaluated once
// by `llmc compile` while packing, and the backend dequantizes in registers.
// Bias, residual and activation epilogues carry over.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/Builders.h"

namespace mlir::llm {
#define GEN_PASS_DEF_QUANTIZE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

/// `wN` (per output channel) or `wNgG` (groups of G along the input).
FailureOr<QuantAttr> parseScheme(MLIRContext *ctx, StringRef scheme,
                                 bool asymmetric) {
  StringRef rest = scheme;
  int64_t bits = 0, group = 0;
  if (!rest.consume_front("w") || rest.consumeInteger(10, bits))
    return failure();
  if (rest.consume_front("g") && (rest.consumeInteger(10, group) || group < 2))
    return failure();
  if (!rest.empty() || (bits != 4 && bits != 8) ||
      (bits == 4 && group % 2 != 0))
    return failure();
  return QuantAttr::get(
      ctx, bits, group,
      asymmetric ? QuantScheme::asymmetric : QuantScheme::symmetric,
      group ? QuantGranularity::group : QuantGranularity::channel);
}

/// Names of the params a pack-time weight is computed from.
void leafNames(Value v, SmallVectorImpl<StringRef> &names) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return;
  if (auto p = dyn_cast<ParamOp>(def)) {
    names.push_back(p.getName());
    return;
  }
  for (Value operand : def->getOperands())
    leafNames(operand, names);
}

struct QuantizePass : llm::impl::QuantizeBase<QuantizePass> {
  using Base::Base;

  void runOnOperation() override {
    FailureOr<QuantAttr> quant =
        parseScheme(&getContext(), scheme, asymmetric);
    if (failed(quant)) {
      getOperation().emitError()
          << "llm-quantize: unknown scheme '" << scheme
          << "' (w8, w4, or wNgG with N in {4, 8} and G >= 2, e.g. w4g32)";
      return signalPassFailure();
    }
    SmallVector<LinearOp> linears;
    getOperation().walk([&](LinearOp op) { linears.push_back(op); });
    for (LinearOp op : linears)
      rewrite(op, *quant);
  }

  bool kept(Value weight) {
    SmallVector<StringRef> names;
    leafNames(weight, names);
    return llvm::any_of(names, [&](StringRef name) {
      return llvm::any_of(keep, [&](const std::string &k) {
        return name.contains(k);
      });
    });
  }

  void rewrite(LinearOp op, QuantAttr quant) {
    Value w = op.getWeight();
    auto wType = cast<RankedTensorType>(w.getType());
    if (!isPackTimeWeight(w) || wType.getRank() != 2 ||
        !wType.hasStaticShape() || !isa<FloatType>(wType.getElementType()) ||
        kept(w))
      return;
    std::optional<SmallVector<int64_t>> scalesShape =
        quant.getScalesShape(wType.getShape());
    if (!scalesShape) {
      op.emitRemark() << "not quantized: the group size " << quant.getGroup()
                      << " does not divide the " << wType.getShape()[1]
                      << " input features";
      return;
    }
    OpBuilder b(op);
    auto f32 = b.getF32Type();
    auto scalesType = RankedTensorType::get(*scalesShape, f32);
    SmallVector<Type> results = {RankedTensorType::get(
        wType.getShape(), b.getIntegerType(quant.getBits()))};
    results.push_back(scalesType);
    if (quant.hasZeroPoints())
      results.push_back(scalesType);
    auto q = QuantizeOp::create(b, op.getLoc(), results, w, quant);
    auto ql = QLinearOp::create(
        b, op.getLoc(), op.getType(), op.getInput(), q.getQuantized(),
        q.getScales(), q.getZeros(), op.getBias(), op.getResidual(), quant,
        op.getActivationAttr());
    op.replaceAllUsesWith(ql.getResult());
    op.erase();
  }
};

} // namespace
