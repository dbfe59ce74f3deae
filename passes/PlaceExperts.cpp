//===- PlaceExperts.cpp - memory tier of every expert ---------------------===//
//
// Greedy by routing frequency into tiers ordered by bandwidth; see
// MoEPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <limits>

namespace mlir::llm {
#define GEN_PASS_DEF_PLACEEXPERTS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
struct Tier {
  std::string name;
  PlacementTier tier;
  double capacity = std::numeric_limits<double>::infinity(); ///< bytes
  double bandwidth = 0;                                      ///< bytes/s
  // Filled by the placement.
  double used = 0, reads = 0, bytesPerToken = 0;
  int64_t experts = 0;
};

} // namespace

std::optional<double> mlir::llm::parseByteAmount(StringRef text, bool rate) {
  text = text.trim();
  if (rate && !text.consume_back("/s"))
    return std::nullopt;
  size_t digits = std::min(text.find_first_not_of("0123456789."), text.size());
  double value;
  if (text.take_front(digits).getAsDouble(value) || !(value > 0))
    return std::nullopt;
  StringRef unit = text.drop_front(digits).trim();
  static const std::pair<StringRef, double> units[] = {
      {"", 1},          {"B", 1},
      {"KB", 1e3},      {"MB", 1e6},
      {"GB", 1e9},      {"TB", 1e12},
      {"KiB", 1024.0},  {"MiB", 1024.0 * 1024},
      {"GiB", 1024.0 * 1024 * 1024}, {"TiB", 1024.0 * 1024 * 1024 * 1024}};
  for (auto [name, scale] : units)
    if (unit == name)
      return value * scale;
  return std::nullopt;
}

namespace {

FailureOr<SmallVector<Tier>> parseTiers(StringRef spec, std::string &error) {
  SmallVector<Tier> tiers;
  SmallVector<StringRef> entries;
  spec.split(entries, ',', -1, /*KeepEmpty=*/false);
  for (StringRef entry : entries) {
    entry = entry.trim();
    auto [head, bw] = entry.split('@');
    auto [name, size] = head.split('=');
    Tier t;
    t.name = name.trim().str();
    if (t.name == "device" || t.name == "fast") {
      t.tier = PlacementTier::device;
      t.bandwidth = 200e9;
    } else if (t.name == "host" || t.name == "slow") {
      t.tier = PlacementTier::host;
      t.bandwidth = 25e9;
    } else if (t.name == "storage" || t.name == "disk") {
      t.tier = PlacementTier::storage;
      t.bandwidth = 2e9;
    } else {
      error = "unknown tier '" + t.name +
              "' (device/fast, host/slow, storage/disk)";
      return failure();
    }
    if (!size.empty()) {
      std::optional<double> bytes = parseByteAmount(size, false);
      if (!bytes) {
        error = "tier '" + t.name + "': bad size '" + size.str() + "'";
        return failure();
      }
      t.capacity = *bytes;
    }
    if (!bw.empty()) {
      std::optional<double> rate = parseByteAmount(bw, true);
      if (!rate) {
        error = "tier '" + t.name + "': bad bandwidth '" + bw.str() +
                "' (e.g. 25GB/s)";
        return failure();
      }
      t.bandwidth = *rate;
    }
    if (!tiers.empty() && tiers.back().bandwidth < t.bandwidth) {
      error = "tiers must be listed fastest first ('" + t.name +
              "' is faster than '" + tiers.back().name + "')";
      return failure();
    }
    tiers.push_back(t);
  }
  if (tiers.empty()) {
    error = "no tiers";
    return failure();
  }
  if (std::isfinite(tiers.back().capacity)) {
    error = "the last tier ('" + tiers.back().name +
            "') must be unbounded (no size): every expert needs a place";
    return failure();
  }
  return tiers;
}

/// Bytes of one expert's gate, up and down weights as stored.
double expertBytes(MoEOp op) {
  double total = 0;
  for (auto [w, q] :
       {std::pair{op.getGateWeights(), op.getExpertQuantAttr()},
        std::pair{op.getUpWeights(), op.getExpertQuantAttr()},
        std::pair{op.getDownWeights(), op.getDownWeightsQuant()}}) {
    auto t = cast<RankedTensorType>(w.getType());
    double elements = double(t.getNumElements());
    if (q) {
      total += elements * q.getBitsPerWeight() / 8;
    } else {
      total += elements * t.getElementTypeBitWidth() / 8;
    }
  }
  return total / double(op.getNumExperts());
}

struct Expert {
  int64_t op, layer, index;
  double bytes, frequency;
  unsigned tier = 0;
};

struct PlaceExpertsPass : llm::impl::PlaceExpertsBase<PlaceExpertsPass> {
  using PlaceExpertsBase::PlaceExpertsBase;
  /// layer -> P(next layer's expert j | expert i here), from the statistics.
  DenseMap<int64_t, SmallVector<SmallVector<double>>> successors;

  LogicalResult fail(ModuleOp module, const Twine &message) {
    module.emitError() << "llm-place-experts: " << message;
    return failure();
  }

  /// layer -> expert frequencies from the statistics' `routing`.
  FailureOr<DenseMap<int64_t, SmallVector<double>>> readFrequencies(
      ModuleOp module) {
    DenseMap<int64_t, SmallVector<double>> byLayer;
    auto buffer = llvm::MemoryBuffer::getFile(stats);
    if (!buffer) {
      (void)fail(module, stats + ": cannot read: " + buffer.getError().message());
      return failure();
    }
    llvm::Expected<llvm::json::Value> doc =
        llvm::json::parse((*buffer)->getBuffer());
    if (!doc) {
      (void)fail(module, stats + ": not JSON: " + llvm::toString(doc.takeError()));
      return failure();
    }
    const llvm::json::Object *o = doc->getAsObject();
    const llvm::json::Array *routing = o ? o->getArray("routing") : nullptr;
    if (!routing) {
      (void)fail(module, stats + ": no 'routing' (llmc calibrate writes it for "
                                 "models with MoE layers)");
      return failure();
    }
    for (const llvm::json::Value &v : *routing) {
      const llvm::json::Object *e = v.getAsObject();
      std::optional<int64_t> layer = e ? e->getInteger("layer") : std::nullopt;
      const llvm::json::Array *f = e ? e->getArray("frequency") : nullptr;
      if (!layer || !f) {
        (void)fail(module, stats + ": a 'routing' entry lacks 'layer' or "
                                   "'frequency'");
        return failure();
      }
      SmallVector<double> freq;
      for (const llvm::json::Value &x : *f) {
        std::optional<double> d = x.getAsNumber();
        if (!d || *d < 0 || !std::isfinite(*d)) {
          (void)fail(module, stats + ": layer " + Twine(*layer) +
                                 ": frequencies must be numbers >= 0");
          return failure();
        }
        freq.push_back(*d);
      }
      byLayer[*layer] = std::move(freq);
      // P(expert j at the next MoE layer | expert i here), for the
      // runtime's prefetch predictor.
      const llvm::json::Array *co = e->getArray("co_occurrence");
      const llvm::json::Array *counts = e->getArray("counts");
      if (!co || !counts || co->size() != counts->size())
        continue;
      SmallVector<SmallVector<double>> next;
      for (auto [row, count] : llvm::zip(*co, *counts)) {
        const llvm::json::Array *r = row.getAsArray();
        std::optional<double> n = count.getAsNumber();
        if (!r || !n)
          break;
        SmallVector<double> p;
        for (const llvm::json::Value &x : *r)
          p.push_back(*n > 0 ? x.getAsNumber().value_or(0) / *n : 0.0);
        next.push_back(std::move(p));
      }
      if (next.size() == co->size())
        successors[*layer] = std::move(next);
    }
    return byLayer;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string error;
    FailureOr<SmallVector<Tier>> parsed = parseTiers(tiers, error);
    if (failed(parsed)) {
      (void)fail(module, "tiers: " + error);
      return signalPassFailure();
    }
    SmallVector<Tier> &tierList = *parsed;
    // The budget caps the memory tiers together.
    double memoryLeft = std::numeric_limits<double>::infinity();
    if (!budget.empty()) {
      std::optional<double> b = parseByteAmount(budget, false);
      if (!b) {
        (void)fail(module, "bad budget '" + budget + "' (e.g. 512MiB)");
        return signalPassFailure();
      }
      memoryLeft = *b;
    }
    DenseMap<int64_t, SmallVector<double>> frequencies;
    if (!stats.empty()) {
      auto read = readFrequencies(module);
      if (failed(read))
        return signalPassFailure();
      frequencies = std::move(*read);
    }

    auto moes = findMoELayers(module);
    if (moes.empty()) {
      (void)fail(module, "the module has no llm.moe");
      return signalPassFailure();
    }
    std::vector<Expert> experts;
    for (auto [i, entry] : llvm::enumerate(moes)) {
      auto [layer, op] = entry;
      int64_t n = op.getNumExperts();
      double uniform = double(op.getTopK()) / double(n);
      const SmallVector<double> *freq = nullptr;
      if (!stats.empty()) {
        auto it = frequencies.find(layer);
        if (it == frequencies.end() ||
            static_cast<int64_t>(it->second.size()) != n) {
          op.emitError() << "llm-place-experts: " << stats
                         << " has no routing frequencies for the " << n
                         << " experts of layer " << layer;
          return signalPassFailure();
        }
        freq = &it->second;
      }
      double bytes = expertBytes(op);
      for (int64_t e = 0; e < n; ++e)
        experts.push_back({int64_t(i), layer, e, bytes,
                           freq ? (*freq)[e] : uniform});
    }
    // Highest frequency first; ties by layer, then expert.
    std::vector<Expert *> order;
    for (Expert &e : experts)
      order.push_back(&e);
    llvm::stable_sort(order, [](const Expert *a, const Expert *b) {
      return a->frequency > b->frequency;
    });
    for (Expert *e : order) {
      for (unsigned t = 0; t < tierList.size(); ++t) {
        Tier &tier = tierList[t];
        bool memory = tier.tier != PlacementTier::storage;
        if (tier.used + e->bytes > tier.capacity ||
            (memory && e->bytes > memoryLeft))
          continue;
        tier.used += e->bytes;
        if (memory)
          memoryLeft -= e->bytes;
        e->tier = t;
        break;
      }
    }
    // Attach the placement and total up the expected traffic.
    Builder b(module.getContext());
    double reads = 0, seconds = 0, memoryReads = 0;
    SmallVector<Attribute> layerAttrs;
    for (auto [i, entry] : llvm::enumerate(moes)) {
      SmallVector<PlacementTier> chosen;
      SmallVector<Attribute> names;
      for (const Expert &e : experts)
        if (e.op == int64_t(i)) {
          Tier &t = tierList[e.tier];
          chosen.push_back(t.tier);
          names.push_back(b.getStringAttr(stringifyPlacementTier(t.tier)));
          ++t.experts;
          t.reads += e.frequency;
          t.bytesPerToken += e.frequency * e.bytes;
          reads += e.frequency;
          seconds += e.frequency * e.bytes / t.bandwidth;
          if (t.tier != PlacementTier::storage)
            memoryReads += e.frequency;
        }
      entry.second.setPlacementAttr(
          PlacementAttr::get(module.getContext(), chosen));
      SmallVector<NamedAttribute> fields = {
          b.getNamedAttr("layer", b.getI64IntegerAttr(entry.first)),
          b.getNamedAttr("expert_bytes",
                         b.getI64IntegerAttr(int64_t(expertBytes(entry.second)))),
          b.getNamedAttr("placement", b.getArrayAttr(names))};
      if (auto it = successors.find(entry.first); it != successors.end()) {
        SmallVector<Attribute> rows;
        for (const SmallVector<double> &row : it->second)
          rows.push_back(b.getF64ArrayAttr(row));
        fields.push_back(b.getNamedAttr("next", b.getArrayAttr(rows)));
      }
      layerAttrs.push_back(b.getDictionaryAttr(fields));
    }
    double bytesPerToken = 0;
    SmallVector<Attribute> tierAttrs;
    for (const Tier &t : tierList) {
      bytesPerToken += t.bytesPerToken;
      SmallVector<NamedAttribute> fields = {
          b.getNamedAttr("name", b.getStringAttr(t.name)),
          b.getNamedAttr("tier", b.getStringAttr(stringifyPlacementTier(t.tier))),
          b.getNamedAttr("experts", b.getI64IntegerAttr(t.experts)),
          b.getNamedAttr("bytes", b.getI64IntegerAttr(int64_t(t.used))),
          b.getNamedAttr("bandwidth", b.getF64FloatAttr(t.bandwidth)),
          b.getNamedAttr("read_share",
                         b.getF64FloatAttr(reads > 0 ? t.reads / reads : 0)),
          b.getNamedAttr("bytes_per_token", b.getF64FloatAttr(t.bytesPerToken))};
      if (std::isfinite(t.capacity))
        fields.push_back(
            b.getNamedAttr("capacity", b.getI64IntegerAttr(int64_t(t.capacity))));
      tierAttrs.push_back(b.getDictionaryAttr(fields));
    }
    double hitRate = reads > 0 ? memoryReads / reads : 1.0;
    module->setAttr(
        "llm.expert_placement",
        b.getDictionaryAttr(
            {b.getNamedAttr("tiers", b.getArrayAttr(tierAttrs)),
             b.getNamedAttr("layers", b.getArrayAttr(layerAttrs)),
             b.getNamedAttr("hit_rate", b.getF64FloatAttr(hitRate)),
             b.getNamedAttr("bytes_per_token", b.getF64FloatAttr(bytesPerToken)),
             b.getNamedAttr("seconds_per_token", b.getF64FloatAttr(seconds)),
             b.getNamedAttr("statistics",
                            b.getStringAttr(stats.empty() ? "uniform"
                                                          : stats.getValue()))}));
    if (report) {
      llvm::raw_ostream &os = llvm::errs();
      os << llvm::format("expert placement: %zu experts in %zu MoE layers, "
                         "frequencies %s\n",
                         experts.size(), moes.size(),
                         stats.empty() ? "uniform (top_k / experts)"
                                       : ("from " + stats).c_str());
      if (!budget.empty())
        os << "memory budget " << budget << " (device and host tiers)\n";
      os << "tier      experts        bytes     capacity  read share  "
            "bytes/token\n";
      for (const Tier &t : tierList)
        os << llvm::format("%-8s %8lld %12.0f %12s %10.1f%% %12.0f\n",
                           t.name.c_str(), (long long)t.experts, t.used,
                           std::isfinite(t.capacity)
                               ? std::to_string(int64_t(t.capacity)).c_str()
                               : "-",
                           reads > 0 ? 100 * t.reads / reads : 0.0,
                           t.bytesPerToken);
      os << llvm::format("expected hit rate %.1f%% (expert reads served from "
                         "memory), %.0f expert bytes/token, %.3g s/token\n",
                         100 * hitRate, bytesPerToken, seconds);
    }
  }
};
} // namespace
