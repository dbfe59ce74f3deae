//===- LLMOps.cpp - llm dialect operations --------------------------------===//
//
// Verifiers name the offending operand and print both types involved, so a
// malformed importer output or pass result is easy to trace.
//
//===----------------------------------------------------------------------===//

#include <functional>
#include "dialects/llm/LLMOps.h"
#include "dialects/llm/VerifyHelpers.h"
#include "mlir/Dialect/CommonFolders.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/Support/InterleavedRange.h"
#include <cmath>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::verify;

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Shape helpers
//===----------------------------------------------------------------------===//

/// Checks a rank-1 per-feature vector (norm weight, bias) against `size`.
static LogicalResult verifyFeatureVector(Operation *op, Value vec,
                                         StringRef vecName, int64_t size,
                                         Value ref, StringRef refName) {
  auto type = cast<RankedTensorType>(vec.getType());
  if (type.getRank() != 1 || !dimsCompatible(type.getDimSize(0), size))
    return op->emitOpError()
           << "'" << vecName << "' (" << vec.getType()
           << ") must be a vector of size " << size << " to match '"
           << refName << "' (" << ref.getType() << ")";
  return success();
}

/// Checks scales/zero points against a quantized weight shape. `what`
/// names the quantized operand in messages.
static LogicalResult verifyQuantOperands(Operation *op, QuantAttr quant,
                                         Type quantized, StringRef what,
                                         Value scales, Value zeros) {
  auto qType = cast<RankedTensorType>(quantized);
  Type elt = qType.getElementType();
  if (!elt.isSignlessInteger(quant.getBits()))
    return op->emitOpError() << "'" << what << "' (" << quantized
                             << ") must have element type i" << quant.getBits()
                             << " for " << quant;
  if (qType.getRank() < 1)
    return op->emitOpError() << "'" << what << "' must have rank >= 1";
  if (quant.isBlockScheme()) {
    if (ShapedType::isDynamic(qType.getShape().back()) ||
        qType.getShape().back() % quant.getGroup() != 0)
      return op->emitOpError()
             << "'" << what << "' (" << quantized << ") last dimension must be"
             << " a multiple of the block size " << quant.getGroup();
    if (quant.hasInputScales()) {
      // DGQ: one activation multiplier per input feature.
      if (!scales || zeros)
        return op->emitOpError() << "scheme dgq_a8w4 requires a 'scales' "
                                    "operand (one per input feature) and no "
                                    "'zeros'";
      auto sType = cast<RankedTensorType>(scales.getType());
      if (sType.getRank() != 1 ||
          !dimsCompatible(sType.getDimSize(0), qType.getShape().back()))
        return op->emitOpError()
               << "'scales' (" << sType << ") must be a vector of the "
               << qType.getShape().back() << " input features";
      return success();
    }
    if (scales || zeros)
      return op->emitOpError() << "block scheme "
                               << stringifyQuantScheme(quant.getScheme())
                               << " stores scales inside the blocks: "
                                  "'scales'/'zeros' operands are not allowed";
    return success();
  }
  std::optional<SmallVector<int64_t>> want =
      quant.getScalesShape(qType.getShape());
  if (!want)
    return op->emitOpError()
           << "'" << what << "' (" << quantized
           << ") last dimension must be a multiple of the group size "
           << quant.getGroup();
  if (!scales)
    return op->emitOpError() << "scheme "
                             << stringifyQuantScheme(quant.getScheme())
                             << " requires a 'scales' operand";
  auto sType = cast<RankedTensorType>(scales.getType());
  if (!shapesCompatible(sType.getShape(), *want))
    return op->emitOpError()
           << "'scales' (" << sType << ") must have shape ["
           << llvm::interleaved(*want) << "] for '" << what << "' ("
           << quantized << ") and " << quant;
  if (quant.hasZeroPoints() != bool(zeros))
    return op->emitOpError()
           << "scheme " << stringifyQuantScheme(quant.getScheme())
           << (zeros ? " takes no 'zeros' operand"
                     : " requires a 'zeros' operand");
  if (zeros && cast<RankedTensorType>(zeros.getType()).getShape() !=
                   sType.getShape())
    return op->emitOpError() << "'zeros' (" << zeros.getType()
                             << ") must have the shape of 'scales' (" << sType
                             << ")";
  return success();
}

/// Checks the result of a linear layer: leading dims from the input, the
/// last one `outFeatures`, the input's element type.
static LogicalResult verifyLinearResult(Operation *op, Value input,
                                        Value result, int64_t outFeatures) {
  auto inType = cast<RankedTensorType>(input.getType());
  auto resType = cast<RankedTensorType>(result.getType());
  SmallVector<int64_t> want(inType.getShape());
  want.back() = outFeatures;
  if (!shapesCompatible(resType.getShape(), want) ||
      resType.getElementType() != inType.getElementType())
    return op->emitOpError() << "result (" << resType
                             << ") must have the input's leading dimensions "
                                "and element type and last dimension "
                             << outFeatures << " (input " << inType << ")";
  return success();
}

/// Input [..., in] against a weight [out, in]; returns `out` in `outFeatures`.
static LogicalResult verifyLinearWeight(Operation *op, Value input,
                                        Value weight, int64_t &outFeatures) {
  if (failed(verifyHasFeatureDim(op, input, "input")))
    return failure();
  auto wType = cast<RankedTensorType>(weight.getType());
  if (wType.getRank() != 2)
    return op->emitOpError() << "'weight' must be [out, in], got " << wType;
  if (!dimsCompatible(wType.getDimSize(1), lastDim(input)))
    return op->emitOpError()
           << "'weight' (" << wType << ") in-features " << wType.getDimSize(1)
           << " do not match the last dimension of 'input' ("
           << input.getType() << ")";
  outFeatures = wType.getDimSize(0);
  return success();
}

//===----------------------------------------------------------------------===//
// ParamOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  auto type = getResult().getType();
  if (getName().empty())
    return emitOpError("weight name must not be empty");
  if (!type.hasStaticShape())
    return emitOpError() << "weight '" << getName()
                         << "' must have a static shape, got " << type;
  QuantAttr quant = getQuantAttr();
  if (!quant)
    return success();
  if (!type.getElementType().isSignlessInteger(quant.getBits()))
    return emitOpError() << "quantized weight '" << getName() << "' (" << type
                         << ") must have element type i" << quant.getBits()
                         << " for " << quant;
  bool divisible =
      type.getRank() >= 1 &&
      (quant.isBlockScheme()
           ? type.getShape().back() % quant.getGroup() == 0
           : quant.getScalesShape(type.getShape()).has_value());
  if (!divisible)
    return emitOpError() << "quantized weight '" << getName() << "' (" << type
                         << ") last dimension must be a multiple of the "
                         << "group size " << quant.getGroup();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

/// A positive, finite f64 attribute (scales, caps), when present.
static LogicalResult verifyPositive(Operation *op, std::optional<APFloat> v,
                                    StringRef name) {
  if (v && (!(v->convertToDouble() > 0) || !std::isfinite(v->convertToDouble())))
    return op->emitOpError() << name << " must be positive and finite, got "
                             << formatNumber(v->convertToDouble());
  return success();
}

LogicalResult EmbeddingOp::verify() {
  auto table = getTable().getType();
  auto tokens = getTokens().getType();
  auto result = getResult().getType();
  if (table.getRank() != 2)
    return emitOpError() << "'table' must be [vocab, dim], got " << table;
  SmallVector<int64_t> want(tokens.getShape());
  want.push_back(table.getDimSize(1));
  // The element type may differ: a bf16/f16 table yields f32 activations.
  if (!shapesCompatible(result.getShape(), want))
    return emitOpError() << "result (" << result
                         << ") must be the 'tokens' shape (" << tokens
                         << ") followed by the 'table' row size ("
                         << table << ")";
  return verifyPositive(*this, getScale(), "scale");
}

//===----------------------------------------------------------------------===//
// Normalisation
//===----------------------------------------------------------------------===//

static LogicalResult verifyEps(Operation *op, double eps) {
  if (!(eps > 0) || !std::isfinite(eps))
    return op->emitOpError() << "eps must be positive and finite, got "
                             << formatNumber(eps);
  return success();
}

/// Shared by llm.rms_norm and llm.add_rms_norm: the weight is optional, an
/// offset needs one.
static LogicalResult verifyRMSNorm(Operation *op, Value input, Value weight,
                                   double eps, std::optional<APFloat> offset) {
  if (failed(verifyHasFeatureDim(op, input, "input")) ||
      failed(verifyEps(op, eps)))
    return failure();
  if (offset && (!weight || !std::isfinite(offset->convertToDouble())))
    return op->emitOpError("weight_offset needs a weight and a finite value");
  if (!weight)
    return success();
  return verifyFeatureVector(op, weight, "weight", lastDim(input), input,
                             "input");
}

LogicalResult RMSNormOp::verify() {
  return verifyRMSNorm(*this, getInput(), getWeight(),
                       getEps().convertToDouble(), getWeightOffset());
}

LogicalResult AddRMSNormOp::verify() {
  return verifyRMSNorm(*this, getInput(), getWeight(),
                       getEps().convertToDouble(), getWeightOffset());
}

LogicalResult SoftcapOp::verify() {
  return verifyPositive(*this, std::optional<APFloat>(getCap()), "cap");
}

LogicalResult LayerNormOp::verify() {
  if (failed(verifyHasFeatureDim(*this, getInput(), "input")) ||
      failed(verifyEps(*this, getEps().convertToDouble())) ||
      failed(verifyFeatureVector(*this, getWeight(), "weight",
                                 lastDim(getInput()), getInput(), "input")))
    return failure();
  if (getBias())
    return verifyFeatureVector(*this, getBias(), "bias", lastDim(getInput()),
                               getInput(), "input");
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp / QLinearOp
//===----------------------------------------------------------------------===//

/// The epilogue's residual has exactly the result's type.
static LogicalResult verifyResidual(Operation *op, Value residual,
                                    Value result) {
  if (residual && residual.getType() != result.getType())
    return op->emitOpError() << "'residual' (" << residual.getType()
                             << ") must have the result's type ("
                             << result.getType() << ")";
  return success();
}

LogicalResult LinearOp::verify() {
  int64_t out;
  if (failed(verifyLinearWeight(*this, getInput(), getWeight(), out)))
    return failure();
  if (getBias() && failed(verifyFeatureVector(*this, getBias(), "bias", out,
                                              getWeight(), "weight")))
    return failure();
  if (failed(verifyLinearResult(*this, getInput(), getResult(), out)))
    return failure();
  return verifyResidual(*this, getResidual(), getResult());
}

LogicalResult QLinearOp::verify() {
  int64_t out;
  if (failed(verifyLinearWeight(*this, getInput(), getWeight(), out)) ||
      failed(verifyQuantOperands(*this, getQuant(), getWeight().getType(),
                                 "weight", getScales(), getZeros())))
    return failure();
  if (getBias() && failed(verifyFeatureVector(*this, getBias(), "bias", out,
                                              getWeight(), "weight")))
    return failure();
  if (failed(verifyLinearResult(*this, getInput(), getResult(), out)))
    return failure();
  return verifyResidual(*this, getResidual(), getResult());
}

//===----------------------------------------------------------------------===//
// HeadLinearOp
//===----------------------------------------------------------------------===//

LogicalResult HeadLinearOp::verify() {
  auto x = getInput().getType();
  auto w = getWeight().getType();
  auto y = getResult().getType();
  if (x.getRank() != 2 || y.getRank() != 2 || w.getRank() != 3)
    return emitOpError() << "expects a [seq, heads * in] input, a [heads, "
                            "out, in] (or transposed [heads, in, out]) weight "
                            "and a [seq, heads * out] result, got "
                         << x << ", " << w << " and " << y;
  if (!w.hasStaticShape() || w.getNumElements() == 0)
    return emitOpError() << "weight (" << w
                         << ") must have a static, non-empty shape";
  int64_t heads = getHeads(), in = getHeadIn(), out = getHeadOut();
  if (x.getDimSize(1) != heads * in)
    return emitOpError() << "input (" << x << ") must have heads * in = "
                         << heads << " * " << in << " features for weight "
                         << w << (getTransposed() ? " (transposed)" : "");
  if (y.getDimSize(1) != heads * out)
    return emitOpError() << "result (" << y << ") must have heads * out = "
                         << heads << " * " << out << " features for weight "
                         << w << (getTransposed() ? " (transposed)" : "");
  if (!dimsCompatible(x.getDimSize(0), y.getDimSize(0)))
    return emitOpError() << "input (" << x << ") and result (" << y
                         << ") must have the same number of tokens";
  if (x.getElementType() != y.getElementType())
    return emitOpError() << "result (" << y
                         << ") must have the input's element type";
  return success();
}

//===----------------------------------------------------------------------===//
// RoPEOp
//===----------------------------------------------------------------------===//

LogicalResult RoPEOp::verify() {
  auto type = getInput().getType();
  int64_t headDim = getHeadDim();
  if (type.getRank() != 2)
    return emitOpError() << "'input' must be [seq, heads * head_dim], got "
                         << type;
  if (headDim <= 0 || headDim % 2 != 0)
    return emitOpError() << "head_dim must be positive and even, got "
                         << headDim;
  int64_t features = type.getDimSize(1);
  if (ShapedType::isDynamic(features) || features % headDim != 0)
    return emitOpError() << "'input' (" << type
                         << ") feature dimension must be a static multiple "
                            "of head_dim "
                         << headDim;
  double theta = getTheta().convertToDouble();
  if (!(theta > 1.0) || !std::isfinite(theta))
    return emitOpError() << "theta must be finite and > 1, got "
                         << formatNumber(theta);
  int64_t rotary = getRotaryDims();
  if (rotary <= 0 || rotary % 2 != 0 || rotary > headDim)
    return emitOpError() << "rotary_dim must be positive, even and at most "
                            "head_dim "
                         << headDim << ", got " << rotary;
  if (RopeScalingAttr s = getScalingAttr();
      s && s.getKind() == RopeScalingKind::longrope &&
      int64_t(s.getShortFactor().size()) != rotary / 2)
    return emitOpError() << "longrope scaling has "
                         << s.getShortFactor().size()
                         << " factors, " << rotary << " rotary dims need "
                         << rotary / 2;
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

double AttentionOp::getEffectiveScale() {
  if (auto scale = getScale())
    return scale->convertToDouble();
  return 1.0 / std::sqrt(static_cast<double>(getHeadDim()));
}

LogicalResult AttentionOp::verify() {
  auto q = getQuery().getType();
  auto k = getKey().getType();
  KVCacheType cache = getCache().getType();
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (q.getRank() != 2 || k.getRank() != 2)
    return emitOpError() << "'query' and 'key' must be [seq, heads * "
                            "head_dim], got "
                         << q << " and " << k;
  if (heads <= 0 || kvHeads <= 0)
    return emitOpError() << "num_heads and num_kv_heads must be positive, got "
                         << heads << " and " << kvHeads;
  if (heads % kvHeads != 0)
    return emitOpError() << "num_heads (" << heads
                         << ") must be a multiple of num_kv_heads (" << kvHeads
                         << ")";
  if (cache.getKvHeads() != kvHeads)
    return emitOpError() << "num_kv_heads (" << kvHeads
                         << ") does not match the cache (" << cache << ")";
  int64_t headDim = cache.getHeadDim();
  if (q.getDimSize(1) != heads * headDim)
    return emitOpError() << "'query' (" << q << ") must have num_heads * "
                         << "head_dim = " << heads << " * " << headDim
                         << " features (head_dim from the cache " << cache
                         << ")";
  if (k.getDimSize(1) != kvHeads * headDim)
    return emitOpError() << "'key' (" << k << ") must have num_kv_heads * "
                         << "head_dim = " << kvHeads << " * " << headDim
                         << " features (head_dim from the cache " << cache
                         << ")";
  if (!dimsCompatible(q.getDimSize(0), k.getDimSize(0)))
    return emitOpError() << "'query' (" << q << ") and 'key' (" << k
                         << ") must have the same number of tokens";
  if (!ShapedType::isDynamic(q.getDimSize(0)) &&
      q.getDimSize(0) > cache.getMaxSeq())
    return emitOpError() << "'query' (" << q << ") has more tokens than the "
                         << "cache holds (" << cache << ")";
  if (q.getElementType() != k.getElementType())
    return emitOpError() << "'query' (" << q << ") and 'key' (" << k
                         << ") must have the same element type";
  Type cacheElt = cache.getElementType();
  if (isa<FloatType>(cacheElt) && cacheElt != q.getElementType())
    return emitOpError() << "float cache (" << cache
                         << ") must have the element type of 'query' (" << q
                         << ")";
  if (cache.getShared() && getValue() != getKey())
    return emitOpError() << "a shared cache (" << cache
                         << ") stores one vector per position used as key "
                            "and value: 'value' must be 'key'";
  if (getLayer() < 0 || getLayer() >= cache.getLayers())
    return emitOpError() << "layer " << getLayer()
                         << " is out of range for the cache (" << cache << ")";
  if (auto scale = getScale(); scale && !(scale->convertToDouble() > 0))
    return emitOpError() << "scale must be positive, got "
                         << formatNumber(scale->convertToDouble());
  if (auto window = getSlidingWindow(); window && *window <= 0)
    return emitOpError() << "sliding_window must be positive, got " << *window;
  if (getSlidingWindow() && !getCausal())
    return emitOpError("sliding_window requires causal attention");
  return verifyPositive(*this, getLogitSoftcap(), "logit_softcap");
}

//===----------------------------------------------------------------------===//
// SwiGLUOp / SoftmaxOp
//===----------------------------------------------------------------------===//

LogicalResult SwiGLUOp::verify() {
  auto gate = getGate().getType();
  auto result = getResult().getType();
  if (failed(verifyHasFeatureDim(*this, getGate(), "gate")))
    return failure();
  if (getUp()) {
    if (getUp().getType() != gate || result != gate)
      return emitOpError() << "'gate' (" << gate << "), 'up' ("
                           << getUp().getType() << ") and result (" << result
                           << ") must have the same type";
    return success();
  }
  int64_t fused = gate.getShape().back();
  if (ShapedType::isDynamic(fused) || fused % 2 != 0)
    return emitOpError() << "fused gate/up input (" << gate
                         << ") must have a static, even last dimension";
  SmallVector<int64_t> want(gate.getShape());
  want.back() = fused / 2;
  if (!shapesCompatible(result.getShape(), want) ||
      result.getElementType() != gate.getElementType())
    return emitOpError() << "result (" << result << ") must have half the "
                         << "last dimension of the fused input (" << gate
                         << ")";
  return success();
}

LogicalResult SoftmaxOp::verify() {
  int64_t rank = getInput().getType().getRank();
  int64_t axis = getAxis();
  if (axis < -rank || axis >= rank)
    return emitOpError() << "axis " << axis << " is out of range for "
                         << getInput().getType();
  return success();
}

//===----------------------------------------------------------------------===//
// ExitOp
//===----------------------------------------------------------------------===//

LogicalResult ObserveOp::verify() {
  auto t = getInput().getType();
  if (t.getRank() != 2 || !t.getElementType().isF32())
    return emitOpError() << "observes [tokens, features] f32 tensors, not "
                         << t;
  if (getSite() < 0 || getSite() > INT32_MAX)
    return emitOpError() << "site " << getSite() << " is not a valid id";
  return success();
}

LogicalResult ExitOp::verify() {
  if (failed(verifyHasFeatureDim(*this, getHidden(), "hidden")) ||
      failed(verifyEps(*this, getEps().convertToDouble())) ||
      failed(verifyFeatureVector(*this, getNormWeight(), "norm_weight",
                                 lastDim(getHidden()), getHidden(), "hidden")))
    return failure();
  int64_t vocab;
  if (failed(verifyLinearWeight(*this, getHidden(), getClassifier(), vocab)))
    return failure();
  if (failed(verifyLinearResult(*this, getHidden(), getLogits(), vocab)))
    return failure();
  auto hidden = getHidden().getType();
  auto exit = getExit().getType();
  if (!shapesCompatible(exit.getShape(), hidden.getShape().drop_back()))
    return emitOpError() << "'exit' (" << exit
                         << ") must have one flag per token of 'hidden' ("
                         << hidden << ")";
  double t = getThreshold().convertToDouble();
  bool ok = getMetric() == ExitMetric::entropy ? (t >= 0 && std::isfinite(t))
                                               : (t >= 0 && t <= 1);
  if (!ok)
    return emitOpError() << "threshold " << formatNumber(t) << " is out of range for metric "
                         << stringifyExitMetric(getMetric())
                         << (getMetric() == ExitMetric::entropy ? " (>= 0)"
                                                                : " ([0, 1])");
  return success();
}

//===----------------------------------------------------------------------===//
// DequantizeOp / QuantizeOp
//===----------------------------------------------------------------------===//

LogicalResult DequantizeOp::verify() {
  if (failed(verifyQuantOperands(*this, getQuant(), getInput().getType(),
                                 "input", getScales(), getZeros())))
    return failure();
  auto in = getInput().getType();
  auto out = getResult().getType();
  if (!shapesCompatible(in.getShape(), out.getShape()))
    return emitOpError() << "result (" << out
                         << ") must have the shape of 'input' (" << in << ")";
  return success();
}

Value QuantizeOp::getScales() {
  QuantAttr q = getQuant();
  return q.isBlockScheme() && !q.hasInputScales() ? Value() : getOutputs()[1];
}

Value QuantizeOp::getZeros() {
  return getQuant().hasZeroPoints() ? getOutputs()[2] : Value();
}

LogicalResult QuantizeOp::verify() {
  QuantAttr quant = getQuant();
  size_t want = quant.isBlockScheme() && !quant.hasInputScales() ? 1
                : quant.hasZeroPoints()                         ? 3
                                                                : 2;
  if (getOutputs().size() != want)
    return emitOpError() << "scheme " << stringifyQuantScheme(quant.getScheme())
                         << " produces " << want << " results, got "
                         << getOutputs().size();
  auto in = getInput().getType();
  auto q = cast<RankedTensorType>(getOutputs()[0].getType());
  if (!shapesCompatible(in.getShape(), q.getShape()))
    return emitOpError() << "quantized result (" << q
                         << ") must have the shape of 'input' (" << in << ")";
  if (want > 1 && !isa<FloatType>(
                      cast<RankedTensorType>(getOutputs()[1].getType())
                          .getElementType()))
    return emitOpError() << "scales result (" << getOutputs()[1].getType()
                         << ") must have a float element type";
  return verifyQuantOperands(*this, quant, q, "quantized result", getScales(),
                             getZeros());
}

//===----------------------------------------------------------------------===//
// AddOp / MulOp folders
//===----------------------------------------------------------------------===//

OpFoldResult AddOp::fold(FoldAdaptor adaptor) {
  // x + 0 -> x (Commutative puts constants on the right).
  if (matchPattern(adaptor.getRhs(), m_AnyZeroFloat()))
    return getLhs();
  return constFoldBinaryOp<FloatAttr, APFloat, void>(
      adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return a + b; });
}

OpFoldResult MulOp::fold(FoldAdaptor adaptor) {
  // x * 1 -> x. (x * 0 is not 0 for NaN/Inf inputs, so it stays.)
  if (matchPattern(adaptor.getRhs(), m_OneFloat()))
    return getLhs();
  return constFoldBinaryOp<FloatAttr, APFloat, void>(
      adaptor.getOperands(),
      [](const APFloat &a, const APFloat &b) { return a * b; });
}

