//===- Roofline.cpp - per-op roofline analysis ----------------------------===//
//
// Cost model per llm op (FLOPs, bytes by kind) and the roofline of a
// hardware preset. See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include <cmath>

namespace mlir::llm {
#define GEN_PASS_DEF_ROOFLINE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct Hardware {
  llvm::StringMap<double> peak; // FLOP/s by dtype name
  double bandwidth = 0;         // bytes/s
};

struct Cost {
  double flops = 0, weight = 0, actLoad = 0, actStore = 0, kvLoad = 0,
         kvStore = 0;
  double bytes() const { return weight + actLoad + actStore + kvLoad + kvStore; }
  void add(const Cost &o) {
    flops += o.flops;
    weight += o.weight;
    actLoad += o.actLoad;
    actStore += o.actStore;
    kvLoad += o.kvLoad;
    kvStore += o.kvStore;
  }
};

/// "f32", "f16", "bf16", "int8" for the peak table.
std::string peakKey(Type t) {
  if (t.isF16())
    return "f16";
  if (t.isBF16())
    return "bf16";
  if (t.isInteger(8))
    return "int8";
  if (t.isInteger(4))
    return "int4";
  return "f32";
}

bool isWeight(Value v) { return isPackTimeWeight(v); }

/// Bits per element of a weight: `#llm.quant` (with scale overhead) of the
/// param it comes from, else its element width.
double weightBits(Value v) {
  if (auto p = v.getDefiningOp<ParamOp>())
    if (QuantAttr q = p.getQuantAttr())
      return q.getBitsPerWeight();
  return cast<ShapedType>(v.getType()).getElementTypeBitWidth();
}

struct RooflinePass : llm::impl::RooflineBase<RooflinePass> {
  using Base::Base;

  /// Rows of the op being costed: the step's tokens, or `logits-rows` for
  /// ops after a slice to a function argument's size (the classifier of an
  /// imported model computes only the last `num_logits` rows).
  int64_t seqLen() const {
    return tailRows ? std::min<int64_t>(logitsRows, phase == "prefill" ? seq : 1)
                    : (phase == "prefill" ? seq : 1);
  }
  mutable bool tailRows = false;
  /// Tokens processed per step over the whole batch.
  double tokens() const { return double(batch) * seqLen(); }

  /// Elements of a tensor per sequence, `?` read as the step's tokens.
  double elems(Type type) const {
    auto t = dyn_cast<RankedTensorType>(type);
    if (!t)
      return 0;
    double n = 1;
    for (int64_t d : t.getShape())
      n *= ShapedType::isDynamic(d) ? seqLen() : d;
    return n;
  }
  /// Bytes of an activation over the batch.
  double actBytes(Value v) const {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    return t ? elems(t) * batch * t.getElementTypeBitWidth() / 8.0 : 0;
  }
  double weightBytes(Value v) const {
    return elems(v.getType()) * weightBits(v) / 8.0;
  }

  /// Default accounting: weight operands read once, activation operands
  /// read and results written once per sequence.
  Cost traffic(Operation *op) const {
    Cost c;
    for (Value v : op->getOperands()) {
      if (!isa<RankedTensorType>(v.getType()))
        continue;
      if (isWeight(v))
        c.weight += weightBytes(v);
      else
        c.actLoad += actBytes(v);
    }
    for (Value r : op->getResults())
      c.actStore += actBytes(r);
    return c;
  }

  double perElem(Value v, double flops) const {
    return elems(v.getType()) * batch * flops;
  }

  /// FLOPs per result element of ops that stream their operands once.
  static std::optional<double> perElementFlops(Operation *op) {
    return llvm::TypeSwitch<Operation *, std::optional<double>>(op)
        .Case<AddOp, MulOp>([](Operation *) { return 1.0; })
        .Case<DequantizeOp>([](Operation *) { return 2.0; })
        .Case<RoPEOp>([](Operation *) { return 3.0; })
        .Case<RMSNormOp, SiLUOp>([](Operation *) { return 4.0; })
        .Case<AddRMSNormOp>([](Operation *) { return 5.0; })
        .Case<SwiGLUOp, SoftmaxOp>([](Operation *) { return 5.0; })
        .Case<LayerNormOp>([](Operation *) { return 7.0; })
        .Case<GeLUOp>([](Operation *) { return 8.0; })
        .Default([](Operation *) { return std::nullopt; });
  }

  std::optional<Cost> costOf(Operation *op) const {
    if (std::optional<double> flops = perElementFlops(op)) {
      Cost c = traffic(op);
      c.flops = perElem(op->getResult(0), *flops);
      return c;
    }
    double m = tokens();
    auto linearFlops = [&](Value w, bool bias) {
      auto wt = cast<RankedTensorType>(w.getType());
      return 2 * m * wt.getDimSize(0) * wt.getDimSize(1) +
             (bias ? m * wt.getDimSize(0) : 0);
    };
    return llvm::TypeSwitch<Operation *, std::optional<Cost>>(op)
        .Case([&](ParamOp) { return std::nullopt; })
        .Case<ConcatOp, ScaleColumnsOp, QuantizeOp, TransposeOp>([&](Operation *o) -> std::optional<Cost> {
          if (llvm::all_of(o->getOperands(), isWeight))
            return std::nullopt; // pack time
          return traffic(o);
        })
        .Case<LinearOp, QLinearOp>([&](auto o) {
          // The epilogue: activation (as the standalone ops count it) and
          // residual add, per output element.
          Cost c = traffic(o);
          double epilogue = o.getResidual() ? 1 : 0;
          if (auto act = o.getActivation())
            epilogue += *act == Activation::silu ? 4 : 8;
          c.flops = linearFlops(o.getWeight(), bool(o.getBias())) +
                    epilogue * perElem(o.getResult(), 1);
          return c;
        })
        .Case([&](HeadLinearOp o) {
          Cost c = traffic(o);
          c.flops = 2 * m * cast<RankedTensorType>(o.getWeight().getType())
                                .getNumElements();
          return c;
        })
        .Case([&](EmbeddingOp o) {
          // A gather reads one row per token, not the table.
          Cost c;
          auto table = cast<RankedTensorType>(o.getTable().getType());
          double rows = std::min<double>(m, table.getDimSize(0));
          c.weight = rows * table.getDimSize(1) * weightBits(o.getTable()) / 8;
          c.actLoad = actBytes(o.getTokens());
          c.actStore = actBytes(o.getResult());
          return c;
        })
        .Case([&](AttentionOp o) {
          Cost c;
          KVCacheType cache = o.getCache().getType();
          double s = seqLen(), ctx = kvLen + s, b = batch;
          if (auto w = o.getSlidingWindow())
            ctx = std::min<double>(ctx, *w);
          double h = o.getNumHeads(), kvh = o.getNumKvHeads(),
                 hd = cache.getHeadDim();
          double kvBytes = cache.getElementType().getIntOrFloatBitWidth() / 8.0;
          // A shared (latent) cache holds one vector per position.
          double kinds = cache.getKinds();
          c.actLoad = actBytes(o.getQuery()) + kinds / 2 * (actBytes(o.getKey()) +
                                                            actBytes(o.getValue()));
          c.actStore = actBytes(o.getOutput());
          c.kvStore = b * s * kvh * hd * kinds * kvBytes;
          c.kvLoad = b * kvLen * kvh * hd * kinds * kvBytes;
          // QK^T and PV, plus the softmax.
          c.flops = b * (2 * 2 * s * h * hd * ctx + 5 * s * h * ctx);
          // Flash attention (llm.flash) keeps the scores in registers. The
          // reference kernel materializes [heads, tokens, positions]: it
          // writes the scores, then scales, exponentiates and normalizes
          // them (a read and a write each), takes the max and the sum
          // (reads), and reads them once more for P·V: 5 reads, 4 writes.
          if (!o->hasAttr(kFlashAttrName)) {
            double eltBytes =
                o.getQuery().getType().getElementTypeBitWidth() / 8.0;
            double scores = b * h * s * ctx * eltBytes;
            c.actLoad += 5 * scores;
            c.actStore += 4 * scores;
          }
          return c;
        })
        .Case([&](MoEOp o) {
          Cost c;
          auto gate = cast<RankedTensorType>(o.getGateWeights().getType());
          double e = gate.getDimSize(0), hid = gate.getDimSize(1),
                 d = gate.getDimSize(2), k = o.getTopK();
          // Expected distinct experts the step's tokens route to.
          double touched = e * (1 - std::pow(1 - k / e, m));
          double perExpert =
              (weightBytes(o.getGateWeights()) + weightBytes(o.getUpWeights()) +
               weightBytes(o.getDownWeights())) /
              e;
          c.weight = weightBytes(o.getRouter()) + touched * perExpert;
          c.actLoad = actBytes(o.getInput());
          c.actStore = actBytes(o.getResult());
          c.flops = 2 * m * d * e + k * m * (3 * 2 * d * hid + 5 * hid);
          return c;
        })
        .Case([&](ExitOp o) {
          Cost c = traffic(o);
          auto cls = cast<RankedTensorType>(o.getClassifier().getType());
          double v = cls.getDimSize(0), d = cls.getDimSize(1);
          c.flops = m * (4 * d + 2 * d * v + 5 * v);
          return c;
        })
        .Default([](Operation *) { return std::nullopt; });
  }

  DictionaryAttr annotate(Builder &b, const Cost &c, double peak,
                          double bw) const {
    double bytes = c.bytes();
    double intensity = bytes > 0 ? c.flops / bytes : INFINITY;
    double attainable = std::min(peak, intensity * bw);
    double time = std::max(c.flops / peak, bytes / bw);
    bool compute = c.flops / peak >= bytes / bw;
    auto f = [&](double v) { return b.getF64FloatAttr(v); };
    // Counts are integers (MoE's expected experts make them fractional:
    // rounded).
    auto n = [&](double v) { return b.getI64IntegerAttr(std::llround(v)); };
    return b.getDictionaryAttr({
        b.getNamedAttr("flops", n(c.flops)),
        b.getNamedAttr("weight_bytes", n(c.weight)),
        b.getNamedAttr("act_load_bytes", n(c.actLoad)),
        b.getNamedAttr("act_store_bytes", n(c.actStore)),
        b.getNamedAttr("kv_load_bytes", n(c.kvLoad)),
        b.getNamedAttr("kv_store_bytes", n(c.kvStore)),
        b.getNamedAttr("intensity", f(std::isinf(intensity) ? 0 : intensity)),
        b.getNamedAttr("attainable_flops", f(attainable)),
        b.getNamedAttr("bound", b.getStringAttr(compute ? "compute" : "memory")),
        b.getNamedAttr("time_s", f(time)),
    });
  }

  FailureOr<Hardware> loadHardware() {
    std::string path = hardwareFile.empty()
                           ? std::string(LLMC_DATA_DIR) + "/hardware.json"
                           : std::string(hardwareFile);
    auto buffer = llvm::MemoryBuffer::getFile(path);
    if (!buffer)
      return emitError(getOperation().getLoc())
             << "cannot read hardware presets '" << path
             << "': " << buffer.getError().message();
    auto json = llvm::json::parse((*buffer)->getBuffer());
    if (!json) {
      std::string msg = llvm::toString(json.takeError());
      return emitError(getOperation().getLoc())
             << "hardware presets '" << path << "' are not JSON: " << msg;
    }
    const llvm::json::Object *all = json->getAsObject();
    const llvm::json::Object *entry = all ? all->getObject(hardware) : nullptr;
    if (!entry) {
      InFlightDiagnostic diag = emitError(getOperation().getLoc())
                                << "unknown hardware '" << hardware
                                << "'; presets in '" << path << "':";
      SmallVector<std::string> names;
      if (all)
        for (const auto &kv : *all)
          if (!StringRef(kv.first).starts_with("_"))
            names.push_back(kv.first.str());
      llvm::sort(names);
      for (const std::string &name : names)
        diag << " " << name;
      return diag;
    }
    Hardware hw;
    std::optional<double> bw = entry->getNumber("bandwidth");
    const llvm::json::Object *peak = entry->getObject("peak");
    if (!bw || *bw <= 0 || !peak || !peak->getNumber("f32"))
      return emitError(getOperation().getLoc())
             << "hardware '" << hardware
             << "' needs a positive 'bandwidth' and 'peak.f32'";
    hw.bandwidth = *bw;
    for (const auto &kv : *peak)
      if (std::optional<double> v = kv.second.getAsNumber(); v && *v > 0)
        hw.peak[kv.first.str()] = *v;
    return hw;
  }

  void runOnOperation() override {
    if (phase != "prefill" && phase != "decode") {
      emitError(getOperation().getLoc())
          << "phase must be prefill or decode, got '" << phase << "'";
      return signalPassFailure();
    }
    if (!actDtype.empty() && actDtype != "f32" && actDtype != "f16" &&
        actDtype != "bf16" && actDtype != "int8") {
      emitError(getOperation().getLoc())
          << "act-dtype must be f32, f16, bf16 or int8, got '" << actDtype
          << "'";
      return signalPassFailure();
    }
    if (batch < 1 || seq < 1 || kvLen < 0 || logitsRows < 1) {
      emitError(getOperation().getLoc())
          << "batch, seq and logits-rows must be >= 1 and kv-len >= 0";
      return signalPassFailure();
    }
    FailureOr<Hardware> hw = loadHardware();
    if (failed(hw))
      return signalPassFailure();
    Builder b(&getContext());
    // Values computed on the rows of a slice whose size is a function
    // argument (num_logits), and everything computed from them.
    llvm::DenseSet<Value> tail;
    getOperation().walk([&](Operation *op) {
      bool fromTail = false;
      if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op))
        fromTail = llvm::any_of(slice.getSizes(), [](Value v) {
          return isa<BlockArgument>(v);
        });
      else if (isa<LLMDialect>(op->getDialect()))
        fromTail = llvm::any_of(op->getOperands(),
                                [&](Value v) { return tail.contains(v); });
      if (fromTail)
        tail.insert(op->result_begin(), op->result_end());
    });
    Cost total;
    double totalTime = 0;
    getOperation().walk([&](Operation *op) {
      if (!isa<LLMDialect>(op->getDialect()))
        return;
      tailRows = llvm::any_of(op->getOperands(),
                              [&](Value v) { return tail.contains(v); });
      std::optional<Cost> cost = costOf(op);
      if (!cost)
        return;
      Type act = op->getNumResults()
                     ? getElementTypeOrSelf(op->getResult(0).getType())
                     : b.getF32Type();
      // The IR's activation type, unless the analysis is told the
      // deployment's (imported models compute in f32 today).
      std::string key = actDtype.empty() ? peakKey(act) : std::string(actDtype);
      double peak = hw->peak.lookup(key);
      if (peak <= 0)
        peak = hw->peak.lookup("f32");
      DictionaryAttr attr = annotate(b, *cost, peak, hw->bandwidth);
      op->setAttr("llm.roofline", attr);
      total.add(*cost);
      totalTime += cast<FloatAttr>(attr.get("time_s")).getValueAsDouble();
    });
    DictionaryAttr sum = annotate(b, total, hw->peak.lookup("f32"),
                                  hw->bandwidth);
    SmallVector<NamedAttribute> fields(sum.getValue());
    // The model's time is the sum of its ops' times, not the roofline of
    // the summed figures.
    for (NamedAttribute &a : fields)
      if (a.getName() == "time_s")
        a.setValue(b.getF64FloatAttr(totalTime));
    fields.push_back(b.getNamedAttr("hardware", b.getStringAttr(hardware)));
    fields.push_back(b.getNamedAttr(
        "peak_f32", b.getF64FloatAttr(hw->peak.lookup("f32"))));
    fields.push_back(
        b.getNamedAttr("bandwidth", b.getF64FloatAttr(hw->bandwidth)));
    fields.push_back(b.getNamedAttr("phase", b.getStringAttr(phase)));
    getOperation()->setAttr("llm.roofline.total", b.getDictionaryAttr(fields));
  }
};
} // namespace
