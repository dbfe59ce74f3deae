//===- OutlineLayers.cpp - one function for identical decoder layers ------===//
//
// A model's decoder layers are the same code with other weights and another
// cache layer. This pass cuts `forward` at its attention ops: segment l
// (l >= 1) holds everything after attention l-1 up to and including
// attention l (layer l-1's output projection and MLP, layer l's norm,
// projections and RoPE). Segments that are the same up to their weights and
// cache layer become one private function taking the weights, the incoming
// values, the cache and the layer index; `forward` calls it once per layer.
// Code no longer grows with depth (compile time, code size).
//
// Weights stay in `forward` (params and their pack-time transforms, which
// the buffer ABI binds) and are passed as arguments; constants are cloned
// into the function. Graphs with early exits, calibration observers or
// region-holding ops are left alone.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::llm {
#define GEN_PASS_DEF_OUTLINELAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
/// One segment of `forward`: its run-time ops in order, the values it
/// reads from outside (first-use order), the values it defines that later
/// code reads, and a key equal for segments that are the same code.
struct Segment {
  SmallVector<Operation *> ops;
  SmallVector<Value> inputs, outputs;
  std::string key;
  AttentionOp attention;
};

bool isConstant(Value v) {
  Operation *def = v.getDefiningOp();
  return def && def->hasTrait<OpTrait::ConstantLike>();
}

/// Ops that stay in `forward`: weights, their pack-time transforms and
/// constants.
bool staysInForward(Operation *op) {
  if (isa<ParamOp>(op) || isPackTimeTransform(op) ||
      op->hasTrait<OpTrait::ConstantLike>())
    return true;
  return op->getNumResults() > 0 &&
         llvm::all_of(op->getResults(), isPackTimeWeight);
}

/// The key: each op's name, attributes (but the attention's layer), result
/// types and operands as (input #, op #.result #, or constant value).
std::string segmentKey(Segment &s) {
  llvm::DenseMap<Value, std::string> names;
  std::string key;
  llvm::raw_string_ostream os(key);
  for (auto [i, v] : llvm::enumerate(s.inputs)) {
    names[v] = "in" + std::to_string(i);
    os << "in" << i << ":" << v.getType() << ";";
  }
  for (auto [i, op] : llvm::enumerate(s.ops)) {
    os << op->getName() << "(";
    for (Value v : op->getOperands()) {
      auto it = names.find(v);
      if (it != names.end()) {
        os << it->second << ",";
      } else {
        Attribute value;
        matchPattern(v, m_Constant(&value));
        os << "c:" << value << ":" << v.getType() << ",";
      }
    }
    os << ")";
    NamedAttrList attrs(op->getAttrDictionary());
    if (isa<AttentionOp>(op))
      attrs.erase("layer");
    os << attrs.getDictionary(op->getContext()) << "->";
    for (auto [r, res] : llvm::enumerate(op->getResults())) {
      names[res] = "op" + std::to_string(i) + "." + std::to_string(r);
      os << res.getType() << ",";
    }
    os << ";";
  }
  os << "out:";
  for (Value v : s.outputs)
    os << names[v] << ",";
  return key;
}

/// Cuts `forward` into segments ending at each attention after the first;
/// returns none when the graph has a shape this pass leaves alone.
std::optional<SmallVector<Segment>> findSegments(func::FuncOp forward) {
  Block &body = forward.getBody().front();
  SmallVector<Operation *> order;
  SmallVector<unsigned> attentionAt;
  for (Operation &op : body) {
    if (isa<ExitOp, CacheFilledOp, CachePendingOp, CacheStashOp, CacheMarkOp,
            ObserveOp>(op))
      return std::nullopt;
    if (auto a = dyn_cast<AttentionOp>(op)) {
      if (a.getLayerIndex() || a.getLayer() != attentionAt.size())
        return std::nullopt;
      attentionAt.push_back(order.size());
    }
    order.push_back(&op);
  }
  if (attentionAt.size() < 3)
    return std::nullopt;
  SmallVector<Segment> segments;
  for (unsigned l = 1; l < attentionAt.size(); ++l) {
    Segment s;
    s.attention = cast<AttentionOp>(order[attentionAt[l]]);
    for (unsigned i = attentionAt[l - 1] + 1; i <= attentionAt[l]; ++i)
      if (!staysInForward(order[i]))
        s.ops.push_back(order[i]);
    llvm::SmallPtrSet<Operation *, 32> inside(s.ops.begin(), s.ops.end());
    llvm::SetVector<Value> inputs;
    for (Operation *op : s.ops) {
      if (op->getNumRegions())
        return std::nullopt;
      for (Value v : op->getOperands())
        if (!inside.contains(v.getDefiningOp()) && !isConstant(v))
          inputs.insert(v);
    }
    s.inputs = inputs.takeVector();
    for (Operation *op : s.ops)
      for (Value r : op->getResults())
        if (llvm::any_of(r.getUsers(), [&](Operation *u) {
              return !inside.contains(u);
            }))
          s.outputs.push_back(r);
    s.key = segmentKey(s);
    segments.push_back(std::move(s));
  }
  return segments;
}

/// The function a group of identical segments becomes, from its first.
func::FuncOp outline(ModuleOp module, Segment &s, unsigned index) {
  OpBuilder b(module.getContext());
  b.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> argTypes;
  for (Value v : s.inputs)
    argTypes.push_back(v.getType());
  argTypes.push_back(b.getIndexType()); // the cache layer
  SmallVector<Type> resultTypes;
  for (Value v : s.outputs)
    resultTypes.push_back(v.getType());
  auto func = func::FuncOp::create(
      b, s.attention.getLoc(), ("llm_layer_" + Twine(index)).str(),
      b.getFunctionType(argTypes, resultTypes));
  func.setPrivate();
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  IRMapping map;
  for (auto [v, arg] : llvm::zip(s.inputs, entry->getArguments()))
    map.map(v, arg);
  Value layer = entry->getArguments().back();
  for (Operation *op : s.ops) {
    for (Value v : op->getOperands())
      if (isConstant(v) && !map.contains(v))
        map.map(v, b.clone(*v.getDefiningOp())->getResult(0));
    Operation *copy = b.clone(*op, map);
    if (auto a = dyn_cast<AttentionOp>(copy))
      a.getLayerIndexMutable().assign(layer);
  }
  SmallVector<Value> results;
  for (Value v : s.outputs)
    results.push_back(map.lookup(v));
  func::ReturnOp::create(b, s.attention.getLoc(), results);
  return func;
}

/// Replaces segment `s` by a call of `func` with its inputs and layer;
/// `replaced` maps the outputs of segments already replaced to the calls'
/// results (later segments' inputs name the old values).
void callInstead(Segment &s, func::FuncOp func,
                 llvm::DenseMap<Value, Value> &replaced) {
  OpBuilder b(s.attention);
  b.setInsertionPointAfter(s.attention);
  Location loc = s.attention.getLoc();
  SmallVector<Value> args;
  for (Value v : s.inputs)
    args.push_back(replaced.lookup(v) ? replaced.lookup(v) : v);
  args.push_back(arith::ConstantIndexOp::create(
      b, loc, static_cast<int64_t>(s.attention.getLayer())));
  auto call = func::CallOp::create(b, loc, func, args);
  llvm::SmallPtrSet<Operation *, 32> inside(s.ops.begin(), s.ops.end());
  for (auto [v, r] : llvm::zip(s.outputs, call.getResults())) {
    v.replaceUsesWithIf(r, [&](OpOperand &use) {
      return !inside.contains(use.getOwner());
    });
    replaced[v] = r;
  }
  for (Operation *op : llvm::reverse(s.ops))
    op->erase();
}

struct OutlineLayers : llm::impl::OutlineLayersBase<OutlineLayers> {
  using OutlineLayersBase::OutlineLayersBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto forward = module.lookupSymbol<func::FuncOp>(entry);
    if (!forward || forward.isExternal() || !forward.getBody().hasOneBlock())
      return;
    std::optional<SmallVector<Segment>> segments = findSegments(forward);
    if (!segments)
      return;
    // Groups of identical segments, in order of first appearance.
    llvm::MapVector<StringRef, SmallVector<Segment *>> groups;
    for (Segment &s : *segments)
      groups[s.key].push_back(&s);
    // Outlined first, then replaced in program order (a segment's inputs
    // may be an earlier one's outputs).
    unsigned index = 0;
    llvm::DenseMap<StringRef, func::FuncOp> funcs;
    for (auto &[key, members] : groups)
      if (members.size() >= 2)
        funcs[key] = outline(module, *members.front(), index++);
    llvm::DenseMap<Value, Value> replaced;
    for (Segment &s : *segments)
      if (func::FuncOp f = funcs.lookup(s.key))
        callInstead(s, f, replaced);
  }
};
} // namespace
