//===- WeightOps.cpp - symbolic weight transforms -------------------------===//
//
// llm.concat, llm.transpose, llm.scale_columns (and pack-time
// llm.dequantize): the transforms `llmc compile` evaluates on weights while
// packing, and the predicates that say which values are pack-time weights.
// Kept apart from LLMOps.cpp: they describe packing, not a layer's math.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "dialects/llm/VerifyHelpers.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include <functional>

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::verify;

//===----------------------------------------------------------------------===//
// ConcatOp
//===----------------------------------------------------------------------===//

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("requires at least one input");
  auto first = cast<RankedTensorType>(getInputs()[0].getType());
  int64_t rank = first.getRank();
  int64_t axis = getAxis();
  if (axis < 0 || axis >= rank)
    return emitOpError() << "axis " << axis << " is out of range for rank "
                         << rank;
  int64_t total = 0;
  for (auto [i, v] : llvm::enumerate(getInputs())) {
    auto t = cast<RankedTensorType>(v.getType());
    bool sameOffAxis = t.getRank() == rank;
    for (int64_t d = 0; sameOffAxis && d < rank; ++d)
      if (d != axis && !dimsCompatible(t.getDimSize(d), first.getDimSize(d)))
        sameOffAxis = false;
    if (!sameOffAxis || t.getElementType() != first.getElementType())
      return emitOpError() << "input #" << i << " (" << t
                           << ") must match input #0 (" << first
                           << ") in element type and every dimension but "
                           << axis;
    if (ShapedType::isDynamic(t.getDimSize(axis)) ||
        ShapedType::isDynamic(total))
      total = ShapedType::kDynamic;
    else
      total += t.getDimSize(axis);
  }
  auto result = getResult().getType();
  SmallVector<int64_t> want(first.getShape());
  want[axis] = total;
  if (!shapesCompatible(result.getShape(), want) ||
      result.getElementType() != first.getElementType())
    return emitOpError() << "result (" << result << ") must have dimension "
                         << axis << " equal to the sum of the inputs' ("
                         << (ShapedType::isDynamic(total)
                                 ? std::string("?")
                                 : std::to_string(total))
                         << ") and their other dimensions";
  return success();
}

LogicalResult TransposeOp::verify() {
  auto in = getInput().getType();
  auto out = getResult().getType();
  if (in.getRank() != 2 || out.getRank() != 2 ||
      in.getElementType() != out.getElementType() ||
      !dimsCompatible(in.getDimSize(0), out.getDimSize(1)) ||
      !dimsCompatible(in.getDimSize(1), out.getDimSize(0)))
    return emitOpError() << "result (" << out
                         << ") must be the 2-D input (" << in
                         << ") with its dimensions swapped";
  return success();
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 &&
      getInputs()[0].getType() == getResult().getType())
    return getInputs()[0];
  return {};
}

namespace {
/// concat(a, concat(b, c), d) on one axis -> concat(a, b, c, d).
struct FlattenNestedConcat : OpRewritePattern<ConcatOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ConcatOp op,
                                PatternRewriter &rewriter) const override {
    SmallVector<Value> inputs;
    bool changed = false;
    for (Value v : op.getInputs()) {
      auto inner = v.getDefiningOp<ConcatOp>();
      if (inner && inner.getAxis() == op.getAxis()) {
        llvm::append_range(inputs, inner.getInputs());
        changed = true;
      } else {
        inputs.push_back(v);
      }
    }
    if (!changed)
      return failure();
    rewriter.replaceOpWithNewOp<ConcatOp>(op, op.getType(), inputs,
                                          op.getAxis());
    return success();
  }
};
} // namespace

void ConcatOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *context) {
  results.add<FlattenNestedConcat>(context);
}

//===----------------------------------------------------------------------===//
// ScaleColumnsOp
//===----------------------------------------------------------------------===//

LogicalResult ScaleColumnsOp::verify() {
  auto wType = getWeight().getType();
  if (wType.getRank() != 2)
    return emitOpError() << "'weight' must be [out, in], got " << wType;
  auto sType = getScale().getType();
  if (sType.getRank() != 1 || !dimsCompatible(sType.getDimSize(0),
                                              wType.getDimSize(1)))
    return emitOpError() << "'scale' (" << sType
                         << ") must be a vector of the weight's "
                         << wType.getDimSize(1) << " columns";
  return success();
}

bool mlir::llm::isPackTimeWeight(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def)
    return false;
  if (isa<ParamOp>(def))
    return true;
  if (isa<ConcatOp, ScaleColumnsOp, QuantizeOp, TransposeOp,
          tensor::ExpandShapeOp, tensor::CollapseShapeOp,
          tensor::ExtractSliceOp>(def) ||
      isPackTimeDequantize(def))
    return llvm::all_of(def->getOperands(), isPackTimeWeight);
  return false;
}

bool mlir::llm::isPackTimeDequantize(Operation *op) {
  auto d = dyn_cast<DequantizeOp>(op);
  if (!d || d.getScales() || d.getZeros())
    return false;
  // The ggml formats when decoded to f16.
  return d.getQuant().isPackTimeDecodable() &&
         d.getResult().getType().getElementType().isF16();
}

bool mlir::llm::isPackTimeTransform(Operation *op) {
  return (isa<ConcatOp, ScaleColumnsOp, QuantizeOp, TransposeOp>(op) ||
          isPackTimeDequantize(op)) &&
         llvm::all_of(op->getResults(), isPackTimeWeight);
}

bool mlir::llm::isRunTimeOp(Operation *op) {
  return isa<LLMDialect>(op->getDialect()) && !isa<ParamOp>(op) &&
         !(op->getNumResults() >= 1 &&
           llvm::all_of(op->getResults(), isPackTimeWeight));
}

std::string mlir::llm::weightKey(Value weight) {
  Operation *def = weight.getDefiningOp();
  if (!def)
    return "?";
  if (auto p = dyn_cast<ParamOp>(def))
    return p.getName().str();
  std::string key = def->getName().stripDialect().str() + "(";
  for (auto [i, in] : llvm::enumerate(def->getOperands()))
    key += (i ? "," : "") + weightKey(in);
  return key + ")";
}

std::string mlir::llm::weightLabel(Operation *op) {
  SmallVector<StringRef> names;
  std::function<void(Value)> leaves = [&](Value v) {
    Operation *def = v.getDefiningOp();
    if (!def)
      return;
    if (auto p = dyn_cast<ParamOp>(def)) {
      if (!llvm::is_contained(names, p.getName()))
        names.push_back(p.getName());
      return;
    }
    for (Value in : def->getOperands())
      leaves(in);
  };
  for (Value v : op->getOperands())
    if (isa<RankedTensorType>(v.getType()) && isPackTimeWeight(v))
      leaves(v);
  if (names.empty())
    return "";
  std::string label = names.front().str();
  if (names.size() > 1)
    label += " +" + std::to_string(names.size() - 1);
  return label;
}
