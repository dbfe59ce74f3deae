//===- MoEOps.cpp - llm.moe's verifier ------------------------------------===//
//
// The mixture-of-experts op checks its router, stacked expert weights, GGUF
// expert blocks, shared expert and placement (kept apart from LLMOps.cpp:
// one op with many optional parts).
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "dialects/llm/VerifyHelpers.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::verify;

/// The shared expert: all three weights or none; [S, dim], [S, dim],
/// [dim, S]; the sigmoid gate [1, dim] only with them.
LogicalResult MoEOp::verifySharedExpert(int64_t dim) {
  Value gate = getSharedGateWeights(), up = getSharedUpWeights(),
        down = getSharedDownWeights(), scale = getSharedScaleWeights();
  if (!gate || !up || !down) {
    if (gate || up || down)
      return emitOpError("a shared expert needs gate, up and down weights");
    if (scale)
      return emitOpError("'shared_scale' needs a shared expert");
    return success();
  }
  auto g = cast<RankedTensorType>(gate.getType());
  auto d = cast<RankedTensorType>(down.getType());
  if (!g.hasStaticShape() || g.getRank() != 2 ||
      !dimsCompatible(g.getDimSize(1), dim) || up.getType() != g)
    return emitOpError() << "shared expert gate/up weights must both be "
                            "[shared_hidden, "
                         << dim << "], got " << g << " and " << up.getType();
  if (!d.hasStaticShape() || d.getRank() != 2 ||
      !dimsCompatible(d.getDimSize(0), dim) ||
      d.getDimSize(1) != g.getDimSize(0))
    return emitOpError() << "shared expert down weights (" << d
                         << ") must be [" << dim << ", " << g.getDimSize(0)
                         << "]";
  if (scale) {
    auto s = cast<RankedTensorType>(scale.getType());
    if (!s.hasStaticShape() || s.getRank() != 2 || s.getDimSize(0) != 1 ||
        !dimsCompatible(s.getDimSize(1), dim))
      return emitOpError() << "'shared_scale' (" << s << ") must be [1, "
                           << dim << "]";
  }
  return success();
}

LogicalResult MoEOp::verify() {
  if (failed(verifyHasFeatureDim(*this, getInput(), "input")))
    return failure();
  auto router = getRouter().getType();
  auto gate = getGateWeights().getType();
  auto down = getDownWeights().getType();
  int64_t dim = lastDim(getInput());
  for (auto [name, type] : {std::pair<StringRef, RankedTensorType>{"router", router},
                            {"gate_weights", gate}, {"down_weights", down}})
    if (!type.hasStaticShape())
      return emitOpError() << "'" << name << "' must have a static shape, got "
                           << type;
  if (router.getRank() != 2 || !dimsCompatible(router.getDimSize(1), dim))
    return emitOpError() << "'router' (" << router << ") must be [experts, "
                         << dim << "] for 'input' (" << getInput().getType()
                         << ")";
  int64_t experts = router.getDimSize(0);
  if (gate.getRank() != 3 || gate.getDimSize(0) != experts ||
      !dimsCompatible(gate.getDimSize(2), dim))
    return emitOpError() << "'gate_weights' (" << gate << ") must be ["
                         << experts << ", hidden, " << dim
                         << "] to match 'router' (" << router << ")";
  int64_t hidden = gate.getDimSize(1);
  if (down.getRank() != 3 || down.getDimSize(0) != experts ||
      down.getDimSize(1) != dim || down.getDimSize(2) != hidden)
    return emitOpError() << "'down_weights' (" << down << ") must be ["
                         << experts << ", " << dim << ", " << hidden
                         << "] to match 'gate_weights' (" << gate << ")";
  if (getTopK() < 1 || getTopK() > experts)
    return emitOpError() << "top_k must be in [1, " << experts << "], got "
                         << getTopK();
  if (getDownQuantAttr() && !getExpertQuantAttr())
    return emitOpError("down_quant needs expert_quant");
  if (QuantAttr q = getExpertQuantAttr()) {
    for (auto [name, w, wq] :
         {std::tuple{"gate", getGateWeights(), q},
          std::tuple{"up", getUpWeights(), q},
          std::tuple{"down", getDownWeights(), getDownWeightsQuant()}}) {
      // The ggml formats: block schemes with their scales inside the blocks
      // (not GQSA's sparse rows nor DGQ's separate scales).
      QuantScheme scheme = wq.getScheme();
      if (!wq.isBlockScheme() || wq.hasInputScales() ||
          scheme == QuantScheme::gqsa_q4_0_s50)
        return emitOpError() << name << " experts' format must be a GGUF block "
                                "scheme (q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, "
                                "q2_k .. q6_k), got "
                             << wq;
      auto t = cast<RankedTensorType>(w.getType());
      if (!t.getElementType().isSignlessInteger(wq.getBits()) ||
          t.getDimSize(2) % wq.getGroup() != 0)
        return emitOpError() << "quantized " << name << " experts must be i"
                             << wq.getBits() << " with rows of whole "
                             << wq.getGroup() << "-element blocks, got " << t;
    }
  } else if (!isa<FloatType>(gate.getElementType()) ||
             !isa<FloatType>(down.getElementType())) {
    return emitOpError("integer expert weights need expert_quant");
  }
  if (failed(verifySharedExpert(dim)))
    return failure();
  if (auto s = getRoutedScale(); s && !(s->convertToDouble() > 0))
    return emitOpError() << "routed_scale must be positive, got "
                         << formatNumber(s->convertToDouble());
  std::optional<int64_t> groups = getExpertGroups(), top = getTopGroups();
  if (bool(groups) != bool(top))
    return emitOpError("expert_groups and top_groups go together");
  if (groups) {
    if (*groups < 1 || experts % *groups != 0)
      return emitOpError() << "expert_groups (" << *groups
                           << ") must divide the " << experts << " experts";
    if (*top < 1 || *top > *groups ||
        *top * (experts / *groups) < getTopK())
      return emitOpError() << "top_groups must be in [1, " << *groups
                           << "] and its groups must hold top_k = "
                           << getTopK() << " experts, got " << *top;
    if (getRouting() == MoERouting::topk_softmax)
      return emitOpError("group-limited routing needs softmax_topk or "
                         "softmax_topk_norm routing");
  }
  if (auto placement = getPlacementAttr();
      placement && static_cast<int64_t>(placement.getTiers().size()) != experts)
    return emitOpError() << "placement has " << placement.getTiers().size()
                         << " tiers for " << experts << " experts";
  return success();
}

