//===- Calibrate.cpp - llmc calibrate: activation statistics --------------===//
//
//   llmc calibrate <model> --text FILE -o stats.json [--ctx N]
//
// Compiles the model (f32, the usual -O pipeline) with `--llm-observe`
// observation points on the inputs of its linears, runs it through the
// runtime over the text (BOS first, windows of --ctx tokens, every position
// computed) and records per site and input feature:
//
//   mean_square  E[x^2]: weights the quantizer's error (DGQ's grid search)
//                and the saliency of weight groups (GQSA: sum of w^2 E[x^2])
//   absmax       max |x|
//   p99, p999    the 99th / 99.9th percentiles of |x| (from a histogram of
//                4 bins per octave, 2^-24 .. 2^16: each is the upper edge of
//                its bin, at most 19 % above the exact value, and never
//                above absmax): DGQ's percentile-clipping smoothing
//
// The sites are keyed by the weight expressions they feed (`keys`), as
// `llmc compile --calibration` looks them up.
//
// Layer boundaries are observed too (llm-observe-layers: `hidden.<l>`, the
// input of layer l, and `hidden.<L>`, the last output). Per layer and token
// the cosine similarity of its input and output is averaged into
// `layers` (with ShortGPT's block influence, 1 - that mean), and
// `skip_plan` lists the layers by influence, least first: what
// `--skip-plan stats.json --skip-count N` removes.
//
// Mixture-of-experts layers' router logits are observed too
// (`router.<l>`): `routing` records per MoE layer how often each expert is
// chosen (its top k per token) and, with the next MoE layer, how often
// expert i here and expert j there are chosen for the same token (what
// expert placement and the runtime's prefetch predictor use). Written
// atomically.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Compile.h"
#include "importers/Tokenizer.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <numeric>
#include <vector>

using namespace llvm;
using namespace llmc;

static cl::opt<std::string> calInput(cl::Positional, cl::Required,
                                     cl::desc("<model path | model.mlir>"),
                                     cl::sub(calibrateCmd()));
static cl::opt<std::string> calText("text", cl::Required,
                                    cl::desc("Calibration text"),
                                    cl::value_desc("file"),
                                    cl::sub(calibrateCmd()));
static cl::opt<std::string> calOutput("o", cl::Required,
                                      cl::desc("Statistics (JSON)"),
                                      cl::value_desc("stats.json"),
                                      cl::sub(calibrateCmd()));
static cl::opt<int> calCtx("ctx", cl::init(0),
                           cl::desc("Tokens per window (0 = the compiled "
                                    "context, at most 512)"),
                           cl::sub(calibrateCmd()));

namespace {
constexpr int kBinsPerOctave = 4, kMinOctave = -24, kMaxOctave = 16;
constexpr int kBins = (kMaxOctave - kMinOctave) * kBinsPerOctave;

/// Per-feature accumulators of one site.
struct Site {
  int64_t features = 0, rows = 0;
  std::vector<double> sumSquares;
  std::vector<float> absmax;
  std::vector<uint32_t> histogram; ///< [features, kBins]

  void init(int64_t n) {
    features = n;
    sumSquares.assign(n, 0.0);
    absmax.assign(n, 0.0f);
    histogram.assign(n * kBins, 0);
  }
  static int bin(float v) {
    if (!(v > 0.0f))
      return 0;
    int b = int(std::floor(std::log2(v) * kBinsPerOctave)) -
            kMinOctave * kBinsPerOctave;
    return std::clamp(b, 0, kBins - 1);
  }
  static float upperEdge(int b) {
    return std::exp2(float(b + 1 + kMinOctave * kBinsPerOctave) /
                     kBinsPerOctave);
  }
  /// The p-quantile of |x| of feature `f` (upper edge of its bin).
  float percentile(int64_t f, double p) const {
    uint64_t need = uint64_t(std::ceil(p * double(rows)));
    uint64_t seen = 0;
    for (int b = 0; b < kBins; ++b) {
      seen += histogram[f * kBins + b];
      if (seen >= need && seen > 0)
        return std::min(upperEdge(b), absmax[f]);
    }
    return absmax[f];
  }
};

/// Cosine similarity of consecutive layer boundaries, per layer.
struct LayerSimilarity {
  std::vector<int> layerOfSite;   ///< site -> l of its `hidden.<l>`, or -1
  std::vector<double> sum;        ///< per layer: summed cosine
  std::vector<int64_t> tokens;    ///< per layer: tokens summed
  int previous = -1;              ///< boundary held in `rows`
  std::vector<float> rows;        ///< its hidden states, row-major
  int64_t numRows = 0, cols = 0;

  void observe(int l, const float *data, int64_t n, int64_t c,
               int64_t stride) {
    if (l == previous + 1 && previous >= 0 && n == numRows && c == cols) {
      for (int64_t r = 0; r < n; ++r) {
        const float *a = rows.data() + r * c, *b = data + r * stride;
        double ab = 0, aa = 0, bb = 0;
        for (int64_t i = 0; i < c; ++i) {
          ab += double(a[i]) * b[i];
          aa += double(a[i]) * a[i];
          bb += double(b[i]) * b[i];
        }
        if (aa > 0 && bb > 0) {
          sum[previous] += ab / std::sqrt(aa * bb);
          ++tokens[previous];
        }
      }
    }
    previous = l;
    numRows = n;
    cols = c;
    rows.resize(n * c);
    for (int64_t r = 0; r < n; ++r)
      std::copy(data + r * stride, data + r * stride + c, rows.begin() + r * c);
  }
};

/// The experts each mixture-of-experts layer's router chooses (its top k
/// logits, ties to the lower index, as the lowering ranks them): how often
/// each is chosen, and how often expert i at one MoE layer and expert j at
/// the next are chosen for the same token.
struct Routing {
  struct Layer {
    int64_t layer = 0, experts = 0, topK = 0, tokens = 0;
    std::vector<int64_t> counts; ///< [experts]
    std::vector<int64_t> next;   ///< [experts, next layer's experts]
  };
  std::vector<int> layerOfSite; ///< site -> index in `layers`, or -1
  std::vector<Layer> layers;    ///< in layer order
  int previous = -1;            ///< index of the last one seen this step
  std::vector<int32_t> choices; ///< its choices, [rows, topK]
  int64_t rows = 0;

  void observe(int index, const float *data, int64_t n, int64_t stride) {
    Layer &L = layers[index];
    std::vector<int32_t> mine(n * L.topK);
    std::vector<int32_t> order(L.experts);
    for (int64_t r = 0; r < n; ++r) {
      const float *row = data + r * stride;
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        return row[a] > row[b];
      });
      for (int64_t k = 0; k < L.topK; ++k) {
        mine[r * L.topK + k] = order[k];
        ++L.counts[order[k]];
      }
    }
    L.tokens += n;
    if (previous == index - 1 && previous >= 0 && rows == n) {
      Layer &P = layers[previous];
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < P.topK; ++i)
          for (int64_t j = 0; j < L.topK; ++j)
            ++P.next[choices[r * P.topK + i] * L.experts +
                     mine[r * L.topK + j]];
    }
    previous = index;
    rows = n;
    choices = std::move(mine);
  }
};

struct Observer {
  std::vector<Site> sites;
  LayerSimilarity layers;
  Routing routing;
  std::string error; ///< the first inconsistency seen

  static void observe(void *user, int32_t site, const float *data,
                      int64_t rows, int64_t cols, int64_t stride) {
    auto *self = static_cast<Observer *>(user);
    if (site < 0 || size_t(site) >= self->sites.size() ||
        self->sites[site].features != cols) {
      if (self->error.empty())
        self->error = "observation site " + std::to_string(site) +
                      " does not match the manifest";
      return;
    }
    if (int l = self->layers.layerOfSite[site]; l >= 0)
      self->layers.observe(l, data, rows, cols, stride);
    if (int r = self->routing.layerOfSite[site]; r >= 0)
      self->routing.observe(r, data, rows, stride);
    Site &s = self->sites[site];
    for (int64_t r = 0; r < rows; ++r) {
      const float *row = data + r * stride;
      for (int64_t c = 0; c < cols; ++c) {
        float v = std::fabs(row[c]);
        s.sumSquares[c] += double(v) * v;
        s.absmax[c] = std::max(s.absmax[c], v);
        ++s.histogram[c * kBins + Site::bin(v)];
      }
    }
    s.rows += rows;
  }
};

json::Array floats(const std::vector<float> &v) {
  json::Array a;
  for (float x : v)
    a.push_back(double(x));
  return a;
}
} // namespace

int llmc::runCalibrate() {
  CompileOptions options = compileOptions();
  if (sys::path::extension(calInput) == ".llmc")
    return fail(calInput + ": llmc calibrate needs the model (it compiles it "
                           "with observation points), not an artifact");
  options.quant.clear();
  options.calibration.clear();
  options.earlyExit.clear();
  options.skipLayers.clear();
  options.observe = true;
  auto path = resolveArtifact(calInput, tokenizerOption(), options);
  if (!path)
    return fail(path.takeError());
  LoadedArtifact model;
  scope_exit unset([] { llmc_observer_set(nullptr, nullptr); });
  if (Error e = model.load(*path))
    return fail(std::move(e));
  const llmc_model_info_t &info = model.info;
  Expected<json::Value> manifest = json::parse(llmc_artifact_manifest(model.artifact));
  if (!manifest)
    return fail(manifest.takeError());
  const json::Array *table =
      manifest->getAsObject() ? manifest->getAsObject()->getArray("observe")
                              : nullptr;
  if (!table || table->empty())
    return fail(calInput + ": the model has no linear layer to observe");
  Observer observer;
  observer.sites.resize(table->size());
  observer.layers.layerOfSite.assign(table->size(), -1);
  observer.routing.layerOfSite.assign(table->size(), -1);
  int boundaries = 0;
  for (const json::Value &entry : *table) {
    const json::Object *o = entry.getAsObject();
    std::optional<int64_t> site = o ? o->getInteger("site") : std::nullopt;
    std::optional<int64_t> features = o ? o->getInteger("features") : std::nullopt;
    if (!site || !features || *site < 0 || size_t(*site) >= table->size())
      return fail(*path + ": malformed observation table");
    observer.sites[*site].init(*features);
    // `hidden.<l>`: a layer boundary.
    if (const json::Array *keys = o->getArray("keys"); keys && keys->size() == 1)
      if (std::optional<StringRef> k = (*keys)[0].getAsString();
          k && k->consume_front("hidden.")) {
        int l;
        if (!k->getAsInteger(10, l) && l >= 0) {
          observer.layers.layerOfSite[*site] = l;
          boundaries = std::max(boundaries, l + 1);
        }
      }
    // `router.<l>`: a mixture-of-experts layer's router logits.
    if (const json::Array *keys = o->getArray("keys"); keys && keys->size() == 1)
      if (std::optional<StringRef> k = (*keys)[0].getAsString();
          k && k->consume_front("router.")) {
        int64_t l;
        std::optional<int64_t> topK = o->getInteger("top_k");
        if (k->getAsInteger(10, l) || l < 0 || !topK || *topK < 1 ||
            *topK > *features)
          return fail(*path + ": malformed router site " + Twine(*site));
        Routing::Layer layer;
        layer.layer = l;
        layer.experts = *features;
        layer.topK = *topK;
        layer.counts.assign(*features, 0);
        observer.routing.layerOfSite[*site] = observer.routing.layers.size();
        observer.routing.layers.push_back(std::move(layer));
      }
  }
  // Consecutive MoE layers pair up: each counts with the next one's experts.
  for (size_t i = 0; i + 1 < observer.routing.layers.size(); ++i)
    observer.routing.layers[i].next.assign(
        observer.routing.layers[i].experts *
            observer.routing.layers[i + 1].experts,
        0);
  int numLayers = boundaries - 1;
  observer.layers.sum.assign(std::max(numLayers, 0), 0.0);
  observer.layers.tokens.assign(std::max(numLayers, 0), 0);

  int ctx = calCtx;
  if (ctx < 0 || ctx == 1)
    return fail("--ctx must be at least 2 (or 0 for the compiled context)");
  if (ctx == 0)
    ctx = std::min(info.max_seq_len, 512);
  if (ctx > info.max_seq_len)
    return fail(*path + ": --ctx " + Twine(ctx) +
                " exceeds the compiled context " + Twine(info.max_seq_len));
  if (Error e = model.startSession(ctx))
    return fail(std::move(e));
  auto tokenizer = artifactTokenizer(model.artifact, *path);
  if (!tokenizer)
    return fail(tokenizer.takeError());
  auto text = MemoryBuffer::getFile(calText);
  if (!text)
    return fail(fileError(calText, "cannot read: " + text.getError().message()));
  std::vector<int32_t> tokens = (*tokenizer)->encode((*text)->getBuffer(), true);
  if (tokens.size() < 2)
    return fail(fileError(calText, "has fewer than 2 tokens"));

  llmc_observer_set(&Observer::observe, &observer);
  size_t windows = (tokens.size() + ctx - 1) / ctx;
  for (size_t w = 0; w < windows; ++w) {
    size_t begin = w * ctx, end = std::min(tokens.size(), begin + ctx);
    observer.layers.previous = -1; // a new forward starts at hidden.0
    observer.routing.previous = -1;
    if (Expected<const float *> logits = model.run(ArrayRef<int32_t>(
            tokens.data() + begin, end - begin));
        !logits)
      return fail(logits.takeError());
    if (options.progress)
      errs() << format("\rllmc: calibrating window %zu/%zu", w + 1, windows);
  }
  if (options.progress)
    errs() << "\n";
  llmc_observer_set(nullptr, nullptr);
  if (!observer.error.empty())
    return fail(*path + ": " + observer.error);

  json::Array sites;
  for (size_t i = 0; i < observer.sites.size(); ++i) {
    const Site &s = observer.sites[i];
    const json::Object *o = (*table)[i].getAsObject();
    std::vector<float> meanSquare(s.features), p99(s.features),
        p999(s.features);
    for (int64_t f = 0; f < s.features; ++f) {
      meanSquare[f] = s.rows ? float(s.sumSquares[f] / double(s.rows)) : 0.0f;
      p99[f] = s.percentile(f, 0.99);
      p999[f] = s.percentile(f, 0.999);
    }
    json::Array keys;
    if (const json::Array *k = o->getArray("keys"))
      keys = *k;
    sites.push_back(json::Object{{"site", int64_t(i)},
                                 {"keys", std::move(keys)},
                                 {"features", s.features},
                                 {"rows", s.rows},
                                 {"mean_square", floats(meanSquare)},
                                 {"absmax", floats(s.absmax)},
                                 {"p99", floats(p99)},
                                 {"p999", floats(p999)}});
  }
  // Per layer: mean cosine(input, output), block influence, and the plan.
  json::Array layerStats;
  std::vector<std::pair<double, int>> influence;
  std::vector<double> cosines;
  for (int l = 0; l < numLayers; ++l) {
    const LayerSimilarity &s = observer.layers;
    if (!s.tokens[l])
      return fail(*path + ": layer " + Twine(l) + " was never observed");
    double cosine = s.sum[l] / double(s.tokens[l]);
    cosines.push_back(cosine);
    influence.push_back({1.0 - cosine, l});
    layerStats.push_back(json::Object{{"layer", l},
                                      {"cosine_similarity", cosine},
                                      {"block_influence", 1.0 - cosine},
                                      {"tokens", s.tokens[l]}});
  }
  std::stable_sort(influence.begin(), influence.end());
  json::Array plan;
  for (auto [bi, l] : influence)
    plan.push_back(l);
  // Routing: per MoE layer, how often each expert is chosen, and the
  // co-occurrence with the next MoE layer's choices (counts; P(j next | i)
  // = next[i][j] / counts[i]).
  json::Array routing;
  const std::vector<Routing::Layer> &moe = observer.routing.layers;
  for (size_t i = 0; i < moe.size(); ++i) {
    const Routing::Layer &L = moe[i];
    json::Array counts, frequency, next;
    for (int64_t e = 0; e < L.experts; ++e) {
      counts.push_back(L.counts[e]);
      frequency.push_back(L.tokens ? double(L.counts[e]) / double(L.tokens)
                                   : 0.0);
      if (i + 1 < moe.size()) {
        json::Array row;
        for (int64_t j = 0; j < moe[i + 1].experts; ++j)
          row.push_back(L.next[e * moe[i + 1].experts + j]);
        next.push_back(std::move(row));
      }
    }
    json::Object entry{{"layer", L.layer},       {"experts", L.experts},
                       {"top_k", L.topK},        {"tokens", L.tokens},
                       {"counts", std::move(counts)},
                       {"frequency", std::move(frequency)}};
    if (i + 1 < moe.size()) {
      entry["next_layer"] = moe[i + 1].layer;
      entry["co_occurrence"] = std::move(next);
    }
    routing.push_back(std::move(entry));
  }
  json::Object doc{{"format", "llmc-calibration-v1"},
                   {"model", calInput.getValue()},
                   {"text", calText.getValue()},
                   {"tokens", int64_t(tokens.size())},
                   {"ctx", ctx},
                   {"layers", std::move(layerStats)},
                   {"skip_plan", std::move(plan)},
                   {"sites", std::move(sites)}};
  if (!routing.empty())
    doc["routing"] = std::move(routing);
  if (Error e = writeToOutput(calOutput, [&](raw_ostream &os) {
        os << formatv("{0:2}", json::Value(std::move(doc))) << "\n";
        return Error::success();
      }))
    return fail(std::move(e));
  outs() << format("calibrated %zu sites over %zu tokens (%zu windows of up "
                   "to %d) -> %s\n",
                   observer.sites.size(), tokens.size(), windows, ctx,
                   calOutput.c_str());
  if (!influence.empty()) {
    outs() << "layer  cosine(in, out)  block influence\n";
    for (int l = 0; l < numLayers; ++l)
      outs() << format("%5d  %15.4f  %15.4f\n", l, cosines[l],
                       1.0 - cosines[l]);
    outs() << "skip plan (least influential first):";
    for (auto [bi, l] : influence)
      outs() << " " << l;
    outs() << "\n";
  }
  if (!moe.empty()) {
    outs() << "routing: expert frequency per MoE layer (share of tokens "
              "choosing it; top_k per token)\n";
    for (const Routing::Layer &L : moe) {
      outs() << format("%5lld  top %lld:", (long long)L.layer,
                       (long long)L.topK);
      for (int64_t e = 0; e < L.experts; ++e)
        outs() << format(" %.3f", L.tokens ? double(L.counts[e]) / L.tokens
                                           : 0.0);
      outs() << "\n";
    }
  }
  return 0;
}
