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

/// `wN` (per output channel), `wNgG` (groups of G along the input), or the
/// GGUF block formats `q8_0` / `q4_0` (symmetric only).
FailureOr<QuantAttr> parseScheme(MLIRContext *ctx, StringRef scheme,
                                 bool asymmetric) {
  StringRef dgq = scheme;
  if (dgq.consume_front("dgq-a8w4") && !asymmetric) {
    int64_t group = 128;
    if (!dgq.empty() &&
        (!dgq.consume_front("g") || dgq.consumeInteger(10, group) ||
         !dgq.empty() || group < 32 || group % 32))
      return failure();
    return QuantAttr::get(ctx, 4, group, QuantScheme::dgq_a8w4,
                          QuantGranularity::block);
  }
  if (scheme == "gqsa-w4s50" && !asymmetric)
    return QuantAttr::get(ctx, 4, 32, QuantScheme::gqsa_q4_0_s50,
                          QuantGranularity::block);
  if ((scheme == "q8_0" || scheme == "q4_0") && !asymmetric)
    return QuantAttr::get(ctx, scheme == "q8_0" ? 8 : 4, 32,
                          scheme == "q8_0" ? QuantScheme::gguf_q8_0
                                           : QuantScheme::gguf_q4_0,
                          QuantGranularity::block);
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
          << "' (w8, w4, wNgG with N in {4, 8} and G >= 2, e.g. w4g32, or "
             "q8_0 / q4_0 / gqsa-w4s50 / dgq-a8w4[gG], which are "
             "symmetric)";
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
    bool block = quant.isBlockScheme();
    std::optional<SmallVector<int64_t>> scalesShape =
        block ? std::optional<SmallVector<int64_t>>(SmallVector<int64_t>())
              : quant.getScalesShape(wType.getShape());
    // GQSA keeps half of each row's blocks: an even number of them.
    int64_t unit = quant.getScheme() == QuantScheme::gqsa_q4_0_s50
                       ? 2 * quant.getGroup()
                       : quant.getGroup();
    // DGQ accumulates a row in i32: exact up to 16384 inputs (|q x| <=
    // 8 * 127 per element, times a group scale <= 127).
    if (quant.hasInputScales() && wType.getShape()[1] > 16384) {
      op.emitRemark() << "not quantized: dgq_a8w4 accumulates in 32-bit "
                         "integers, exact up to 16384 input features, not "
                      << wType.getShape()[1];
      return;
    }
    if (!scalesShape || (block && wType.getShape()[1] % unit)) {
      op.emitRemark() << "not quantized: the group size "
                      << (block ? unit : quant.getGroup())
                      << " does not divide the " << wType.getShape()[1]
                      << " input features";
      return;
    }
    OpBuilder b(op);
    auto f32 = b.getF32Type();
    // Block schemes: the blocks alone (their scales are inside).
    SmallVector<Type> results = {RankedTensorType::get(
        wType.getShape(), b.getIntegerType(quant.getBits()))};
    if (!block)
      results.push_back(RankedTensorType::get(*scalesShape, f32));
    if (quant.hasInputScales()) // DGQ: the activations' multipliers
      results.push_back(RankedTensorType::get({wType.getShape()[1]}, f32));
    if (quant.hasZeroPoints())
      results.push_back(results.back());
    auto q = QuantizeOp::create(b, op.getLoc(), results, w, quant);
    if (clip && !block)
      q->setAttr("llm.clip_search", b.getUnitAttr());
    auto ql = QLinearOp::create(
        b, op.getLoc(), op.getType(), op.getInput(), q.getQuantized(),
        q.getScales(), q.getZeros(), op.getBias(), op.getResidual(), quant,
        op.getActivationAttr());
    op.replaceAllUsesWith(ql.getResult());
    op.erase();
  }
};

} // namespace
