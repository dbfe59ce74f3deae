//===- llmc.cpp - the llmc driver -----------------------------------------===//
//
//   llmc import <model> [--tokenizer T] -o model.mlir
//   llmc tokenize --tokenizer <path> "text"   |   --decode ID...
//   llmc inspect <model> [--dump DIR]
//   llmc compile / llmc run (Run.cpp)
//
// Every failure prints one "llmc: error: <file>: <problem>" line and exits
// non-zero; outputs go through llvm::writeToOutput (temporary file, then
// rename), so a failed run never leaves a partial file behind.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "Commands.h"
#include "Compile.h"
#include "HostBench.h"
#include "Roofline.h"
#include "importers/BuildIR.h"
#include "importers/ModelSource.h"
#include "importers/Tokenizer.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "passes/Passes.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <functional>
#include <map>

using namespace llvm;
using namespace llmc;

static cl::SubCommand importCmd("import", "Import a model into the llm dialect");
static cl::SubCommand tokenizeCmd("tokenize", "Encode text or decode ids");
static cl::SubCommand inspectCmd("inspect",
                                 "List a model's config and tensors");

static cl::opt<std::string> importInput(cl::Positional, cl::Required,
                                        cl::desc("<model>"),
                                        cl::sub(importCmd));
static cl::opt<std::string> importOutput("o", cl::desc("Output .mlir file"),
                                         cl::value_desc("file"), cl::init("-"),
                                         cl::sub(importCmd));
static cl::opt<std::string>
    tokenizerOpt("tokenizer",
                 cl::desc("Tokenizer file (llama2.c .bin, tokenizer.json, "
                          "tokenizer.model or a GGUF file)"),
                 cl::sub(importCmd), cl::sub(tokenizeCmd), cl::sub(inspectCmd));

static cl::opt<std::string> tokenizeModel(
    "model", cl::desc("Use this model's tokenizer instead of --tokenizer"),
    cl::sub(tokenizeCmd));
static cl::opt<bool> decodeOpt("decode", cl::desc("Decode token ids to text"),
                               cl::sub(tokenizeCmd));
static cl::opt<bool> noBos("no-bos", cl::desc("Do not prepend BOS"),
                           cl::sub(tokenizeCmd));
static cl::list<std::string> tokenizeArgs(cl::Positional, cl::OneOrMore,
                                          cl::desc("<text> | <id>..."),
                                          cl::sub(tokenizeCmd));

static cl::opt<std::string> inspectInput(cl::Positional, cl::Required,
                                         cl::desc("<model>"),
                                         cl::sub(inspectCmd));
static cl::opt<std::string>
    dumpDir("dump",
            cl::desc("Write every tensor, converted to float32 little-endian, "
                     "to DIR/<name>.f32"),
            cl::value_desc("dir"), cl::sub(inspectCmd));

static cl::opt<std::string> rooflineInput(
    cl::Positional, cl::Required,
    cl::desc("<model.mlir | model path | config.json>"), cl::sub(rooflineCmd()));
static cl::opt<std::string> rfHardware("hardware", cl::init("nvidia-a100-80gb"),
                                       cl::desc("Hardware preset"),
                                       cl::sub(rooflineCmd()));
static cl::opt<std::string> rfPhase("phase", cl::init("decode"),
                                    cl::desc("prefill or decode"),
                                    cl::sub(rooflineCmd()));
static cl::opt<int64_t> rfBatch("batch", cl::init(1), cl::desc("Batch size"),
                                cl::sub(rooflineCmd()));
static cl::opt<int64_t> rfSeq("seq", cl::init(1),
                              cl::desc("Prompt tokens (prefill)"),
                              cl::sub(rooflineCmd()));
static cl::opt<int64_t> rfKvLen("kv-len", cl::init(0),
                                cl::desc("Tokens already in the KV cache"),
                                cl::sub(rooflineCmd()));
static cl::opt<std::string> rfActDtype(
    "act-dtype",
    cl::desc("Activation type for the compute peak (f32, f16, bf16, int8; "
             "default: the IR's)"),
    cl::sub(rooflineCmd()));
static cl::opt<int64_t> rfLogitsRows(
    "logits-rows", cl::init(1),
    cl::desc("Prompt rows whose logits prefill computes (1 = generation)"),
    cl::sub(rooflineCmd()));
static cl::opt<bool> rfRemeasure(
    "remeasure", cl::desc("With --hardware host: measure again, ignoring the cache"),
    cl::sub(rooflineCmd()));
static cl::opt<std::string> rfCsv("csv",
                                  cl::desc("Also write the per-op table as CSV here"),
                                  cl::value_desc("file"), cl::sub(rooflineCmd()));
static cl::opt<bool> rfPerLayer(
    "per-layer",
    cl::desc("Print one summary row per decoder layer instead of one per op"),
    cl::sub(rooflineCmd()));
static cl::opt<std::string> rfPlot(
    "plot", cl::desc("Also draw the roofline (ops as points) as SVG here"),
    cl::value_desc("file.svg"), cl::sub(rooflineCmd()));
static cl::opt<std::string> rfJson("json", cl::desc("Also write JSON here"),
                                   cl::value_desc("file"), cl::sub(rooflineCmd()));

int llmc::fail(Error e) {
  WithColor::error(errs(), "llmc") << toString(std::move(e)) << "\n";
  return 1;
}

int llmc::fail(const Twine &message) {
  WithColor::error(errs(), "llmc") << message << "\n";
  return 1;
}

Error llmc::statusError(llmc_status_t s) {
  std::string m = llmc_status_message(s);
  llmc_status_free(s);
  return createStringError(inconvertibleErrorCode(), m);
}

static int runImport() {
  auto source = openModel(importInput, tokenizerOpt);
  if (!source)
    return fail(source.takeError());
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = buildModule(context, **source);
  if (failed(mlir::verify(*module)))
    return fail(fileError(importInput, "the imported IR does not verify "
                                       "(an importer bug; see above)"));
  if (Error e = writeToOutput(importOutput, [&](raw_ostream &os) {
        module->print(os);
        return Error::success();
      }))
    return fail(std::move(e));
  return 0;
}

static int runTokenize() {
  Expected<std::unique_ptr<Tokenizer>> tok =
      createStringError(inconvertibleErrorCode(),
                        "pass --tokenizer <file> or --model <model>");
  if (!tokenizeModel.empty()) {
    consumeError(tok.takeError());
    auto source = openModel(tokenizeModel, tokenizerOpt);
    if (!source)
      return fail(source.takeError());
    tok = loadTokenizer((*source)->tokenizer);
  } else if (!tokenizerOpt.empty()) {
    consumeError(tok.takeError());
    tok = loadTokenizerFile(tokenizerOpt);
  }
  if (!tok)
    return fail(tok.takeError());
  if (decodeOpt) {
    std::vector<int32_t> ids;
    for (const std::string &arg : tokenizeArgs) {
      int64_t id;
      if (StringRef(arg).getAsInteger(10, id) || id < 0 ||
          id >= (*tok)->vocabSize())
        return fail(createStringError(
            inconvertibleErrorCode(),
            "'%s' is not a token id (vocabulary of %lld)", arg.c_str(),
            static_cast<long long>((*tok)->vocabSize())));
      ids.push_back(static_cast<int32_t>(id));
    }
    outs() << (*tok)->decode(ids) << "\n";
    return 0;
  }
  std::string text;
  for (size_t i = 0; i < tokenizeArgs.size(); ++i)
    text += (i ? " " : "") + tokenizeArgs[i];
  std::vector<int32_t> ids = (*tok)->encode(text, !noBos);
  for (size_t i = 0; i < ids.size(); ++i)
    outs() << (i ? " " : "") << ids[i];
  outs() << "\n";
  return 0;
}

static int runInspect() {
  auto source = openModel(inspectInput, tokenizerOpt);
  if (!source)
    return fail(source.takeError());
  const ModelSource &s = **source;
  const ModelConfig &c = s.config;
  outs() << "format " << s.format << ", arch " << c.arch << ": dim " << c.dim
         << ", hidden " << c.hiddenDim << ", layers " << c.numLayers
         << ", heads " << c.numHeads << ", kv_heads " << c.numKvHeads
         << ", head_dim " << c.headDim << ", vocab " << c.vocabSize
         << ", max_seq " << c.maxSeq << ", tied " << c.tiedEmbeddings;
  if (c.numExperts)
    outs() << ", experts " << c.numExperts << " (top " << c.expertsPerToken
           << ")";
  outs() << "\n";
  if (!dumpDir.empty())
    if (std::error_code ec = sys::fs::create_directories(dumpDir))
      return fail(fileError(dumpDir, "cannot create: " + ec.message()));
  for (const TensorInfo &t : s.tensors()) {
    outs() << t.name << " " << dtypeName(t.dtype) << " "
           << formatShape(t.shape) << "\n";
    if (dumpDir.empty())
      continue;
    SmallString<256> out(dumpDir);
    sys::path::append(out, t.name + ".f32");
    std::vector<float> values = s.readF32(t);
    if (Error e = writeToOutput(out, [&](raw_ostream &os) {
          os.write(reinterpret_cast<const char *>(values.data()),
                   values.size() * sizeof(float));
          return Error::success();
        }))
      return fail(std::move(e));
  }
  return 0;
}

namespace {
struct RooflinePoint {
  double intensity, attainable;
  bool memoryBound;
  std::string op;
};

/// A log-log roofline: the hardware roof (bandwidth slope, then the compute
/// ceiling) and one point per op at (FLOP/byte, attainable FLOP/s).
void writeRooflineSvg(raw_ostream &os, ArrayRef<RooflinePoint> points,
                      double peak, double bw, StringRef title) {
  const double W = 720, H = 480, L = 80, R = 20, T = 40, B = 50;
  double xMin = 1e-2, xMax = 1e4, yMax = 1e16;
  if (peak > 0)
    yMax = std::pow(10, std::ceil(std::log10(peak) + 0.3));
  double yMin = yMax / 1e7;
  auto X = [&](double v) {
    v = std::clamp(v, xMin, xMax);
    return L + (std::log10(v) - std::log10(xMin)) /
                   (std::log10(xMax) - std::log10(xMin)) * (W - L - R);
  };
  auto Y = [&](double v) {
    v = std::clamp(v, yMin, yMax);
    return H - B - (std::log10(v) - std::log10(yMin)) /
                       (std::log10(yMax) - std::log10(yMin)) * (H - T - B);
  };
  os << formatv("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" "
                "height=\"{1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
                W, H);
  os << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << formatv("<text x=\"{0}\" y=\"24\" font-size=\"14\">roofline: {1}"
                "</text>\n", L, title);
  for (int e = -2; e <= 4; ++e) {
    double x = X(std::pow(10, e));
    os << formatv("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" "
                  "stroke=\"#ddd\"/><text x=\"{0}\" y=\"{3}\" "
                  "text-anchor=\"middle\">1e{4}</text>\n",
                  x, T, H - B, H - B + 16, e);
  }
  for (int e = static_cast<int>(std::lround(std::log10(yMin)));
       e <= static_cast<int>(std::lround(std::log10(yMax))); ++e) {
    double y = std::pow(10, e);
    os << formatv("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" "
                  "stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4}\" "
                  "text-anchor=\"end\">1e{5}</text>\n",
                  L, Y(y), W - R, L - 6, Y(y) + 4, e);
  }
  os << formatv("<text x=\"{0}\" y=\"{1}\" text-anchor=\"middle\">"
                "arithmetic intensity (FLOP/byte)</text>\n",
                (L + W - R) / 2, H - 12);
  os << formatv("<text x=\"14\" y=\"{0}\" transform=\"rotate(-90 14 {0})\" "
                "text-anchor=\"middle\">attainable FLOP/s</text>\n",
                (T + H - B) / 2);
  if (bw > 0 && peak > 0) {
    double ridge = peak / bw;
    os << formatv("<polyline fill=\"none\" stroke=\"black\" stroke-width=\"2\" "
                  "points=\"{0},{1} {2},{3} {4},{3}\"/>\n",
                  X(xMin), Y(bw * xMin), X(ridge), Y(peak), X(xMax));
  }
  for (const RooflinePoint &p : points)
    os << formatv("<circle cx=\"{0}\" cy=\"{1}\" r=\"4\" fill=\"{2}\" "
                  "fill-opacity=\"0.6\"><title>{3}</title></circle>\n",
                  X(p.intensity), Y(p.attainable),
                  p.memoryBound ? "#d62728" : "#1f77b4", p.op);
  os << formatv("<text x=\"{0}\" y=\"{1}\" fill=\"#d62728\">memory-bound"
                "</text><text x=\"{0}\" y=\"{2}\" fill=\"#1f77b4\">"
                "compute-bound</text>\n",
                W - R - 110, H - B - 30, H - B - 14);
  os << "</svg>\n";
}
} // namespace

static int runRoofline() {
  mlir::MLIRContext context;
  auto loaded = loadAnalysisModule(context, rooflineInput);
  if (!loaded)
    return fail(loaded.takeError());
  mlir::OwningOpRef<mlir::ModuleOp> module = std::move(*loaded);
  // Analyze what `llmc compile` at the same -O level builds (fusions, flash
  // attention); -O0 analyzes the graph as imported.
  if (Error e = optimizeModel(*module, compileOptions(), rooflineInput))
    return fail(std::move(e));
  mlir::llm::RooflineOptions options;
  options.hardware = rfHardware;
  if (rfHardware == "host") {
    auto file = hostHardwareFile(rfRemeasure);
    if (!file)
      return fail(file.takeError());
    options.hardwareFile = *file;
  }
  options.phase = rfPhase;
  options.batch = rfBatch;
  options.seq = rfSeq;
  options.kvLen = rfKvLen;
  options.logitsRows = rfLogitsRows;
  options.actDtype = rfActDtype;
  auto analyzed = analyzeRoofline(*module, options, rooflineInput);
  if (!analyzed)
    return fail(analyzed.takeError());

  // One row per op, in program order, named by its first weight (or, with
  // --per-layer, one per decoder layer).
  json::Array rows;
  std::string csv = "op,weight,layer,flops,weight_bytes,act_load_bytes,"
                    "act_store_bytes,kv_load_bytes,kv_store_bytes,intensity,"
                    "bound,time_s\n";
  struct LayerSum {
    double flops = 0, weight = 0, other = 0, time = 0, memTime = 0;
  };
  std::map<int64_t, LayerSum> layers;
  if (rfPerLayer)
    outs() << formatv("{0,-10} {1,12} {2,12} {3,12} {4,11} {5,14}\n", "layer",
                      "GFLOP", "weight MB", "act+kv MB", "time us",
                      "memory-bound %");
  else
    outs() << formatv("{0,-16} {1,-48} {2,12} {3,12} {4,12} {5,9} {6,8} {7,11}\n",
                      "op", "weight", "GFLOP", "weight MB", "act+kv MB",
                      "FLOP/B", "bound", "time us");
  double weightTotal = 0;
  std::vector<RooflinePoint> points;
  double peakAct = 0; // largest activation + KV traffic of one op
  for (const RooflineRow &r : *analyzed) {
    double other =
        r.actLoadBytes + r.actStoreBytes + r.kvLoadBytes + r.kvStoreBytes;
    if (!rfPerLayer)
      outs() << formatv("{0,-16} {1,-48} {2,12:f4} {3,12:f3} {4,12:f3} "
                        "{5,9:f2} {6,8} {7,11:f3}\n",
                        r.op, r.weight, r.flops / 1e9, r.weightBytes / 1e6,
                        other / 1e6, r.intensity, r.bound, r.timeS * 1e6);
    peakAct = std::max(peakAct, other);
    if (r.flops > 0)
      points.push_back(
          {r.intensity, r.attainableFlops, r.bound == "memory", r.op});
    LayerSum &sum = layers[r.layer];
    sum.flops += r.flops;
    sum.weight += r.weightBytes;
    sum.other += other;
    sum.time += r.timeS;
    if (r.bound == "memory")
      sum.memTime += r.timeS;
    auto g = [](double v) { return formatv("{0}", format("%.9g", v)).str(); };
    csv += formatv("{0},{1},{2},{3},{4},{5},{6},{7},{8},{9},{10},{11}\n",
                   r.op, r.weight, r.layer, g(r.flops), g(r.weightBytes),
                   g(r.actLoadBytes), g(r.actStoreBytes), g(r.kvLoadBytes),
                   g(r.kvStoreBytes), g(r.intensity), r.bound, g(r.timeS))
               .str();
    weightTotal += r.weightBytes;
    rows.push_back(json::Object{{"op", r.op},
                                {"weight", r.weight},
                                {"flops", r.flops},
                                {"weight_bytes", r.weightBytes},
                                {"act_load_bytes", r.actLoadBytes},
                                {"act_store_bytes", r.actStoreBytes},
                                {"kv_load_bytes", r.kvLoadBytes},
                                {"kv_store_bytes", r.kvStoreBytes},
                                {"intensity", r.intensity},
                                {"bound", r.bound},
                                {"time_s", r.timeS}});
  }
  if (rfPerLayer)
    for (auto &[layer, sum] : layers)
      outs() << formatv("{0,-10} {1,12:f4} {2,12:f3} {3,12:f3} {4,11:f3} "
                        "{5,14:f1}\n",
                        layer < 0 ? std::string("other") : std::to_string(layer),
                        sum.flops / 1e9, sum.weight / 1e6, sum.other / 1e6,
                        sum.time * 1e6,
                        sum.time > 0 ? 100.0 * sum.memTime / sum.time : 0.0);
  if (!rfCsv.empty())
    if (Error e = writeToOutput(rfCsv, [&](raw_ostream &os) {
          os << csv;
          return Error::success();
        }))
      return fail(std::move(e));
  auto total = (*module)->getAttrOfType<mlir::DictionaryAttr>(
      "llm.roofline.total");
  auto get = [&](StringRef key) { return rooflineField(total, key); };
  int64_t tokens = rfBatch * (rfPhase == "prefill" ? rfSeq : 1);
  double time = get("time_s");
  // Memory footprint: every weight once, the KV cache at the context the
  // step ends with.
  // Weights as stored: a param that anything computes with (directly or
  // through concat / scale_columns) in its own type; each llm.quantize of
  // pack-time weights as its results (integers, scales, zero points). A
  // tied embedding whose classifier is quantized counts both ways.
  double params = 0, kvBytes = 0;
  auto tensorBytes = [](mlir::Type type) {
    auto t = cast<mlir::RankedTensorType>(type);
    return double(t.getNumElements()) * t.getElementTypeBitWidth() / 8;
  };
  module->walk([&](mlir::Operation *op) {
    if (auto q = dyn_cast<mlir::llm::QuantizeOp>(op)) {
      if (mlir::llm::isPackTimeWeight(q.getInput()))
        for (mlir::Value r : q.getResults())
          params += tensorBytes(r.getType());
      return;
    }
    auto p = dyn_cast<mlir::llm::ParamOp>(op);
    if (!p)
      return;
    bool direct = p->use_empty();
    std::function<void(mlir::Value)> visit = [&](mlir::Value v) {
      for (mlir::Operation *u : v.getUsers()) {
        if (isa<mlir::llm::QuantizeOp>(u))
          continue; // counted as its results
        if (mlir::llm::isPackTimeTransform(u))
          visit(u->getResult(0));
        else
          direct = true;
      }
    };
    visit(p.getResult());
    if (!direct)
      return;
    auto t = p.getType();
    double bits = p.getQuantAttr() ? p.getQuantAttr().getBitsPerWeight()
                                   : t.getElementTypeBitWidth();
    params += t.getNumElements() * bits / 8;
  });
  module->walk([&](mlir::func::FuncOp f) {
    for (mlir::Type t : f.getArgumentTypes())
      if (auto kv = dyn_cast<mlir::llm::KVCacheType>(t)) {
        double ctx = rfKvLen + (rfPhase == "prefill" ? rfSeq : 1);
        kvBytes = double(kv.getSizeInBytes()) / kv.getMaxSeq() * ctx * rfBatch;
      }
  });
  outs() << formatv("\ntotal ({0}, {1}, batch {2}, {3} tokens): {4:f3} GFLOP, "
                    "{5:f3} MB moved, predicted {6:f3} ms = {7:f1} tokens/s\n",
                    rfHardware, rfPhase, rfBatch, tokens, get("flops") / 1e9,
                    (get("weight_bytes") + get("act_load_bytes") +
                     get("act_store_bytes") + get("kv_load_bytes") +
                     get("kv_store_bytes")) / 1e6,
                    time * 1e3, time > 0 ? double(tokens) / time : 0.0);
  outs() << formatv("memory: weights {0:f3} MB, KV cache {1:f3} MB at {2} "
                    "tokens, peak activations {3:f3} MB (one op's inputs and "
                    "outputs)\n",
                    params / 1e6, kvBytes / 1e6,
                    rfKvLen + (rfPhase == "prefill" ? rfSeq : 1),
                    peakAct / 1e6);
  // The other phase, for the summary: decode after the prompt, or the
  // prefill that filled the cache.
  if (rfPhase == "prefill" || rfKvLen > 0) {
    mlir::OwningOpRef<mlir::ModuleOp> other = module->clone();
    mlir::PassManager pm2(&context);
    mlir::llm::RooflineOptions o2 = options;
    bool wasPrefill = rfPhase == "prefill";
    o2.phase = wasPrefill ? "decode" : "prefill";
    o2.seq = wasPrefill ? rfSeq : rfKvLen;
    o2.kvLen = wasPrefill ? rfSeq + rfKvLen : 0;
    pm2.addPass(mlir::llm::createRoofline(o2));
    if (succeeded(pm2.run(*other))) {
      auto t2 = (*other)->getAttrOfType<mlir::DictionaryAttr>(
          "llm.roofline.total");
      double time2 = rooflineField(t2, "time_s");
      int64_t tokens2 = rfBatch * (wasPrefill ? 1 : o2.seq);
      outs() << formatv("{0} ({1} tokens{2}): predicted {3:f3} ms = {4:f1} "
                        "tokens/s\n",
                        o2.phase, tokens2,
                        wasPrefill ? formatv(", kv {0}", o2.kvLen).str()
                                   : std::string(),
                        time2 * 1e3, time2 > 0 ? tokens2 / time2 : 0.0);
    }
  }
  if (auto it = layers.find(0); it != layers.end())
    outs() << formatv("one decoder layer: {0:f4} GFLOP, {1:f3} MB weights, "
                      "{2:f3} ms\n",
                      it->second.flops / 1e9, it->second.weight / 1e6,
                      it->second.time * 1e3);
  if (!rfPlot.empty()) {
    auto total2 = (*module)->getAttrOfType<mlir::DictionaryAttr>(
        "llm.roofline.total");
    // The roof at the peak the ops were costed against (--act-dtype may
    // select a faster one than f32).
    double peakFlops = rooflineField(total2, "peak_f32");
    double bw = rooflineField(total2, "bandwidth");
    for (const RooflinePoint &p : points)
      if (!p.memoryBound)
        peakFlops = std::max(peakFlops, p.attainable);
    std::string title =
        formatv("{0}, {1}, batch {2}", rfHardware, rfPhase, rfBatch).str();
    bool png = sys::path::extension(rfPlot) == ".png";
    std::string svgPath = rfPlot;
    SmallString<128> tmp;
    if (png) {
      // Rasterized by rsvg-convert (librsvg2-bin, installed by setup.sh).
      auto rsvg = sys::findProgramByName("rsvg-convert");
      if (!rsvg)
        return fail(fileError(rfPlot, "a PNG plot needs rsvg-convert (apt "
                                      "install librsvg2-bin); .svg works "
                                      "without it"));
      if (std::error_code ec =
              sys::fs::createTemporaryFile("llmc-roofline", "svg", tmp))
        return fail(fileError(tmp, ec.message()));
      svgPath = std::string(tmp);
      if (Error e = writeToOutput(svgPath, [&](raw_ostream &os) {
            writeRooflineSvg(os, points, peakFlops, bw, title);
            return Error::success();
          }))
        return fail(std::move(e));
      std::string out = rfPlot + ".tmp";
      SmallVector<StringRef> args = {*rsvg, "-o", out, svgPath};
      int rc = sys::ExecuteAndWait(*rsvg, args);
      sys::fs::remove(svgPath);
      std::error_code ec;
      if (rc != 0 || (ec = sys::fs::rename(out, rfPlot))) {
        sys::fs::remove(out);
        return fail(fileError(rfPlot, "rsvg-convert failed to write the PNG"));
      }
    } else if (Error e = writeToOutput(rfPlot, [&](raw_ostream &os) {
                 writeRooflineSvg(os, points, peakFlops, bw, title);
                 return Error::success();
               })) {
      return fail(std::move(e));
    }
  }
  if (!rfJson.empty()) {
    json::Object doc{{"hardware", std::string(rfHardware)},
                     {"phase", std::string(rfPhase)},
                     {"batch", int64_t(rfBatch)},
                     {"seq", int64_t(rfSeq)},
                     {"kv_len", int64_t(rfKvLen)},
                     {"ops", std::move(rows)},
                     {"flops", get("flops")},    {"time_s", time},
                     {"weight_bytes_total", params},
                     {"kv_cache_bytes", kvBytes}};
    if (Error e = writeToOutput(rfJson, [&](raw_ostream &os) {
          os << formatv("{0:2}", json::Value(std::move(doc))) << "\n";
          return Error::success();
        }))
      return fail(std::move(e));
  }
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc: ahead-of-time compiler for transformer LLMs\n\n"
      "  llmc import <model> [--tokenizer T] -o model.mlir\n"
      "  llmc tokenize --tokenizer <file> \"text\" | --decode ID...\n"
      "  llmc inspect <model> [--dump DIR]\n"
      "  llmc compile <model.mlir | model> -o model.llmc [-O0..3] [--cpu NAME]\n"
      "  llmc run <model.llmc | model> | --demo [--prompt TEXT] [-n N] "
      "[--temp T] [--top-k K] [--top-p P] [--seed S] [--stats] "
      "[--dump-logits FILE]\n"
      "  llmc bench <model> [--prompt-tokens N] [--decode M] [--profile] "
      "[--hardware H] [--json F]\n"
      "  llmc roofline <model.mlir | model | config.json> --hardware H "
      "[--phase prefill|decode] [--batch B] [--seq S] [--kv-len L]\n"
      "  llmc perplexity <model.llmc | model> --text FILE [--ref MODEL] "
      "[--ctx N] [--json F]\n"
      "  llmc calibrate <model> --text FILE -o stats.json [--ctx N]\n");
  if (importCmd)
    return runImport();
  if (tokenizeCmd)
    return runTokenize();
  if (inspectCmd)
    return runInspect();
  if (rooflineCmd())
    return runRoofline();
  if (compileCmd())
    return runCompile();
  if (runCmd())
    return runRun();
  if (benchCmd())
    return runBench();
  if (perplexityCmd())
    return runPerplexity();
  if (calibrateCmd())
    return runCalibrate();
  errs() << "llmc: no subcommand; see llmc --help\n";
  return 1;
}
