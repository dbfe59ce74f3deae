//===- InsertEarlyExits.cpp - early-exit heads with decode-time control ---===//
//
// After each chosen decoder layer an `llm.exit` head (final norm + shared
// classifier + confidence test) decides, for one-token (decode) steps,
// whether the remaining layers run. Prefill runs every layer. Skipped
// layers' KV-cache entries follow the chosen policy. See Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_INSERTEARLYEXITS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {

struct Exit {
  int64_t layer;     ///< exits after this layer
  Value hidden;      ///< the hidden state after it
  Value cache;       ///< the KV cache after it
  Value norm, classifier;
};

struct InsertEarlyExitsPass
    : llm::impl::InsertEarlyExitsBase<InsertEarlyExitsPass> {
  using InsertEarlyExitsBase::InsertEarlyExitsBase;

  // Per function being rewritten.
  SmallVector<AttentionOp> attns; ///< by layer
  SmallVector<Value> inputs;      ///< layer inputs, by layer
  SmallVector<Exit> exits;        ///< by layer, ascending
  SmallVector<Operation *> rest;  ///< what follows the first exit, in order
  llvm::SmallPtrSet<Operation *, 32> restSet;
  ExitMetric metricKind = ExitMetric::max_prob;
  double eps = 1e-5;
  func::FuncOp hook;
  bool recompute = false;
  Value pos, numTokens, endPos; ///< the step's start, token count, end
  Value lastOutput;             ///< the last layer's output

  /// recompute: the batch the path being emitted runs. Layer `next` and
  /// later are set up when first used; the rows so far start at `start`.
  struct Batch {
    int64_t next;
    Value start;
    bool trimmed = false; ///< lastOutput reduced to the step's rows
  };

  /// Clones the part of layer `j` that writes its keys and values, fed with
  /// `hidden` instead of the layer's input, onto `cache`; returns the new
  /// cache (CALM-style state propagation).
  Value propagate(OpBuilder &b, int64_t j, Value hidden, Value cache) {
    AttentionOp attn = attns[j];
    llvm::SetVector<Operation *> order;
    std::function<void(Value)> visit = [&](Value v) {
      if (v == inputs[j])
        return;
      Operation *def = v.getDefiningOp();
      if (!def || isa<ParamOp>(def) || def->hasTrait<OpTrait::ConstantLike>() ||
          order.contains(def))
        return;
      for (Value operand : def->getOperands())
        visit(operand);
      order.insert(def);
    };
    visit(attn.getQuery());
    visit(attn.getKey());
    visit(attn.getValue());
    IRMapping m;
    m.map(inputs[j], hidden);
    m.map(attn.getCache(), cache);
    for (Operation *op : order)
      b.clone(*op, m);
    auto copy = cast<AttentionOp>(b.clone(*attn, m));
    return copy.getNewCache();
  }

  bool available(const IRMapping &m, Value v) {
    Operation *def = v.getDefiningOp();
    return !def || !restSet.contains(def) || m.contains(v);
  }

  /// recompute: before layer `j` first reads its input, prepend the rows of
  /// positions pending at it (their stored hidden states) and run it from
  /// the first of them.
  void setUpLayer(OpBuilder &b, IRMapping &m, Batch &batch, int64_t j,
                  Location loc) {
    Value cache = m.lookupOrDefault(attns[j].getCache());
    Value from = CacheFilledOp::create(b, loc, cache, pos,
                                       b.getI64IntegerAttr(j));
    Value rows = m.lookupOrDefault(inputs[j]);
    Value x = CachePendingOp::create(b, loc, rows.getType(), rows, cache, from,
                                     batch.start);
    m.map(inputs[j], x);
    m.map(pos, from);
    batch.start = from;
    batch.next = j + 1;
  }

  /// The last `n` rows of `rows`.
  Value lastRows(OpBuilder &b, Value rows, Value n, Location loc) {
    auto type = cast<RankedTensorType>(rows.getType());
    Value all = tensor::DimOp::create(b, loc, rows, 0);
    Value first = arith::SubIOp::create(b, loc, all, n);
    return tensor::ExtractSliceOp::create(
        b, loc, type, rows, ArrayRef<OpFoldResult>{first, b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{n, b.getIndexAttr(type.getDimSize(1))},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
  }

  /// Emits the path from `rest[opIdx]` on, with exit `exitIdx` next (none
  /// when it is exits.size()); returns the (logits, cache) it yields.
  FailureOr<SmallVector<Value>> emitDecode(OpBuilder &b, IRMapping &m,
                                           size_t opIdx, size_t exitIdx,
                                           Batch &batch, Location loc) {
    while (true) {
      if (exitIdx < exits.size() && available(m, exits[exitIdx].hidden))
        return emitExit(b, m, opIdx, exitIdx, batch, loc);
      Operation *op = rest[opIdx++];
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        SmallVector<Value> out;
        for (Value v : ret.getOperands())
          out.push_back(m.lookupOrDefault(v));
        if (recompute) // every layer ran for the step's tokens
          out[1] = CacheMarkOp::create(
              b, loc, out[1], pos, endPos,
              b.getI64IntegerAttr(static_cast<int64_t>(attns.size()) - 1));
        return out;
      }
      if (recompute) {
        // The head reads the step's own rows of the last layer's batch.
        if (!batch.trimmed && llvm::is_contained(op->getOperands(), lastOutput)) {
          batch.trimmed = true;
          Value rows = m.lookupOrDefault(lastOutput);
          m.map(lastOutput, lastRows(b, rows, numTokens, loc));
        }
        for (Value v : op->getOperands())
          for (int64_t j = batch.next; j < static_cast<int64_t>(attns.size());
               ++j)
            if (v == inputs[j])
              setUpLayer(b, m, batch, j, loc);
        if (auto a = dyn_cast<AttentionOp>(op);
            a && static_cast<int64_t>(a.getLayer()) + 1 != batch.next)
          return op->emitError("llm-insert-early-exits: kv-policy=recompute "
                               "expects each layer's operations after its "
                               "input in program order");
      }
      b.clone(*op, m);
    }
  }

  FailureOr<SmallVector<Value>> emitExit(OpBuilder &b, IRMapping &m,
                                         size_t opIdx, size_t exitIdx,
                                         Batch &batch, Location loc) {
    const Exit &e = exits[exitIdx];
    Value rows = m.lookupOrDefault(e.hidden);
    Value hidden = rows;
    auto hiddenType = cast<RankedTensorType>(rows.getType());
    if (recompute) // the head reads the step's token: the batch's last row
      hidden = lastRows(b, rows, numTokens, loc);
    auto returnOp = cast<func::ReturnOp>(rest.back());
    Type logitsType = returnOp.getOperand(0).getType();
    auto flagsType = RankedTensorType::get({hiddenType.getDimSize(0)},
                                           b.getI1Type());
    auto head = ExitOp::create(
        b, loc, logitsType, flagsType, hidden, e.norm, e.classifier,
        ExitMetricAttr::get(b.getContext(), metricKind),
        b.getF64FloatAttr(threshold), b.getF64FloatAttr(eps));
    head->setAttr("llm.exit_layer", b.getI64IntegerAttr(e.layer));
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value done = tensor::ExtractOp::create(b, loc, head.getExit(), zero);
    Type cacheType = returnOp.getOperand(1).getType();
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{logitsType, cacheType},
                                  done, /*withElseRegion=*/true);
    {
      OpBuilder tb = ifOp.getThenBodyBuilder();
      Value cache = m.lookupOrDefault(e.cache);
      if (recompute) {
        // The batch's rows wait for the skipped layers in the cache.
        cache = CacheStashOp::create(tb, loc, rows, cache, batch.start);
        cache = CacheMarkOp::create(tb, loc, cache, pos, endPos,
                                    tb.getI64IntegerAttr(e.layer));
      } else {
        for (int64_t j = e.layer + 1; j < static_cast<int64_t>(attns.size());
             ++j)
          cache = propagate(tb, j, hidden, cache);
      }
      Value layer = arith::ConstantIntOp::create(tb, loc, tb.getI32Type(),
                                                 e.layer);
      func::CallOp::create(tb, loc, hook, ValueRange{layer});
      scf::YieldOp::create(tb, loc, ValueRange{head.getLogits(), cache});
    }
    {
      OpBuilder eb = ifOp.getElseBodyBuilder();
      FailureOr<SmallVector<Value>> out =
          emitDecode(eb, m, opIdx, exitIdx + 1, batch, loc);
      if (failed(out))
        return failure();
      scf::YieldOp::create(eb, loc, *out);
    }
    return SmallVector<Value>(ifOp.getResults());
  }

  LogicalResult rewrite(func::FuncOp func) {
    Block &body = func.getBody().front();
    auto ret = dyn_cast<func::ReturnOp>(body.getTerminator());
    if (!ret || ret.getNumOperands() != 2 ||
        !isa<KVCacheType>(ret.getOperand(1).getType()))
      return func.emitError("llm-insert-early-exits: expected a forward "
                            "function returning (logits, kv_cache)");
    if (!func.getBody().hasOneBlock() ||
        func->walk([](scf::IfOp) { return WalkResult::interrupt(); })
            .wasInterrupted())
      return func.emitError("llm-insert-early-exits: the function already has "
                            "control flow (early exits inserted twice?)");
    // Layers, by their attention's index, and the final head.
    FailureOr<DecoderLayers> found =
        findDecoderLayers(func, "llm-insert-early-exits");
    if (failed(found))
      return failure();
    attns = found->attentions;
    inputs = found->inputs;
    lastOutput = found->output;
    int64_t numLayers = attns.size();
    LinearOp cls = found->classifier;
    RMSNormOp finalNorm = found->finalNorm;
    if (cls.getBias())
      return func.emitError("llm-insert-early-exits: the classifier must "
                            "have no bias");
    if (finalNorm.getWeightOffset())
      return func.emitError("llm-insert-early-exits: the final norm scales "
                            "by (weight_offset + w) (Gemma); exit heads do "
                            "not support that");
    eps = finalNorm.getEps().convertToDouble();

    exits.clear();
    for (int64_t l : layers) {
      if (l < 0 || l + 1 >= numLayers)
        return func.emitError() << "llm-insert-early-exits: layer " << l
                                << " has no later layer to skip (the model "
                                   "has "
                                << numLayers << " layers: 0.."
                                << numLayers - 2 << " can exit)";
      if (!exits.empty() && exits.back().layer >= l)
        return func.emitError("llm-insert-early-exits: layers must be "
                              "distinct and ascending");
      Exit e{l, inputs[l + 1], attns[l].getNewCache(), finalNorm.getWeight(),
             cls.getWeight()};
      OpBuilder pb(func.getContext());
      pb.setInsertionPointToStart(&body);
      auto named = [&](StringRef pattern, Value shared) -> Value {
        if (pattern.empty())
          return shared;
        std::string name = pattern.str();
        for (size_t at; (at = name.find("{layer}")) != std::string::npos;)
          name.replace(at, 7, std::to_string(l));
        return ParamOp::create(pb, func.getLoc(), shared.getType(),
                               pb.getStringAttr(name), QuantAttr());
      };
      e.norm = named(headNorm, e.norm);
      e.classifier = named(headClassifier, e.classifier);
      exits.push_back(e);
    }
    if (exits.empty())
      return success();
    pos = attns.front().getStartPos();
    for (AttentionOp a : attns)
      if (a.getStartPos() != pos)
        return a.emitError("llm-insert-early-exits: every layer's attention "
                           "must start at the same position");
    if (recompute) {
      // The cache keeps what the skipped layers will need: per layer how
      // far it is filled, and each position's last hidden state.
      auto hidden = cast<RankedTensorType>(inputs.front().getType());
      if (hidden.getRank() != 2 || !hidden.getElementType().isF32())
        return func.emitError("llm-insert-early-exits: kv-policy=recompute "
                              "needs f32 [tokens, dim] hidden states");
      auto cache = cast<KVCacheType>(ret.getOperand(1).getType());
      if (!cache.getElementType().isF32() || cache.getMaxSeq() < numLayers)
        return func.emitError("llm-insert-early-exits: kv-policy=recompute "
                              "needs an f32 KV cache of at least as many "
                              "positions as layers");
      if (cache.getShared())
        return func.emitError("llm-insert-early-exits: kv-policy=recompute "
                              "does not support a shared (latent) KV cache; "
                              "use kv-policy=propagate");
      int64_t dim = hidden.getDimSize(1);
      retypeKVCaches(func, [&](KVCacheType t) -> Type {
        return t.withPending(dim);
      });
    }

    // What follows the first exit point, in program order.
    rest.clear();
    restSet.clear();
    SmallVector<Value> work{exits.front().hidden};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      for (Operation *user : v.getUsers())
        if (restSet.insert(user).second)
          for (Value r : user->getResults())
            work.push_back(r);
    }
    for (Operation &op : body)
      if (restSet.contains(&op))
        rest.push_back(&op);
    if (rest.back() != ret.getOperation())
      return func.emitError("llm-insert-early-exits: the logits do not depend "
                            "on the hidden state after layer ")
             << exits.front().layer;

    // if (one token) { decode path with exits } else { every layer }.
    Location loc = func.getLoc();
    OpBuilder b(ret);
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    Value n = tensor::DimOp::create(b, loc, exits.front().hidden, zero);
    numTokens = n;
    endPos = arith::AddIOp::create(b, loc, pos, n);
    Value decode =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, n, one);
    auto top = scf::IfOp::create(b, loc, ret.getOperandTypes(), decode,
                                 /*withElseRegion=*/true);
    int64_t firstLater = exits.front().layer + 1;
    {
      OpBuilder tb = top.getThenBodyBuilder();
      IRMapping m;
      Batch batch{firstLater, pos};
      FailureOr<SmallVector<Value>> out = emitDecode(tb, m, 0, 0, batch, loc);
      if (failed(out))
        return failure();
      scf::YieldOp::create(tb, loc, *out);
    }
    OpBuilder eb = top.getElseBodyBuilder();
    if (recompute) {
      // Prompts run every layer, and with it what is pending at it.
      IRMapping m;
      Batch batch{firstLater, pos};
      FailureOr<SmallVector<Value>> out =
          emitDecode(eb, m, 0, exits.size(), batch, loc);
      if (failed(out))
        return failure();
      scf::YieldOp::create(eb, loc, *out);
      ret->setOperands(top.getResults());
      for (Operation *op : llvm::reverse(rest))
        if (op != ret.getOperation())
          op->erase();
      return success();
    }
    auto yield = scf::YieldOp::create(eb, loc, ret.getOperands());
    for (Operation *op : rest)
      if (op != ret.getOperation())
        op->moveBefore(yield);
    ret->setOperands(top.getResults());
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (layers.empty())
      return;
    if (metric == "max-prob")
      metricKind = ExitMetric::max_prob;
    else if (metric == "entropy")
      metricKind = ExitMetric::entropy;
    else if (metric == "margin")
      metricKind = ExitMetric::margin;
    else {
      module.emitError() << "llm-insert-early-exits: unknown metric '"
                         << metric << "' (max-prob, entropy, margin)";
      return signalPassFailure();
    }
    bool inRange = metricKind == ExitMetric::entropy
                       ? threshold >= 0
                       : threshold >= 0 && threshold <= 1;
    if (!inRange) {
      module.emitError() << "llm-insert-early-exits: threshold " << threshold
                         << " is out of range for " << metric
                         << (metricKind == ExitMetric::entropy ? " (>= 0)"
                                                               : " ([0, 1])");
      return signalPassFailure();
    }
    recompute = kvPolicy == "recompute";
    if (kvPolicy != "propagate" && !recompute) {
      module.emitError() << "llm-insert-early-exits: unknown kv-policy '"
                         << kvPolicy << "' (propagate, recompute)";
      return signalPassFailure();
    }
    auto func = module.lookupSymbol<func::FuncOp>("forward");
    if (!func || func.isExternal()) {
      module.emitError("llm-insert-early-exits: no 'forward' function");
      return signalPassFailure();
    }
    // The runtime's exit counter (llmc_early_exit(layer)).
    hook = module.lookupSymbol<func::FuncOp>("llmc_early_exit");
    if (!hook) {
      OpBuilder b(module.getContext());
      b.setInsertionPointToStart(module.getBody());
      hook = func::FuncOp::create(
          b, module.getLoc(), "llmc_early_exit",
          b.getFunctionType({b.getI32Type()}, {}));
      hook.setPrivate();
    }
    if (failed(rewrite(func)))
      return signalPassFailure();
  }
};
} // namespace
