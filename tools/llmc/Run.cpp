//===- Run.cpp - `llmc compile` and `llmc run` ----------------------------===//
//
//   llmc compile <model.mlir | model path> -o model.llmc [--target cpu]
//                [-O0..3] [--cpu NAME]
//   llmc run <model.llmc | model.mlir | model path> | --demo
//            [--prompt TEXT] [-n N] [--temp T] [--top-k K] [--top-p P]
//            [--seed S] [--stats] [--dump-logits FILE]
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Compile.h"
#include "importers/Tokenizer.h"
#include "llmc/generate.h"
#include "llmc/runtime.h"
#include "mlir/IR/MLIRContext.h"
#include "passes/Passes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include <chrono>

using namespace llvm;
using namespace llmc;


cl::SubCommand &llmc::compileCmd() {
  static cl::SubCommand cmd("compile", "Compile a model into a .llmc artifact");
  return cmd;
}
cl::SubCommand &llmc::runCmd() {
  static cl::SubCommand cmd("run", "Generate text with a model");
  return cmd;
}
cl::SubCommand &llmc::benchCmd() {
  static cl::SubCommand cmd("bench", "Time prefill/decode; with --profile, per op class vs roofline");
  return cmd;
}
cl::SubCommand &llmc::perplexityCmd() {
  static cl::SubCommand cmd(
      "perplexity",
      "Perplexity over a text; with --ref, KL divergence and top-1 agreement");
  return cmd;
}
cl::SubCommand &llmc::calibrateCmd() {
  static cl::SubCommand cmd(
      "calibrate",
      "Run a model over a text and record activation statistics for "
      "calibrated quantization");
  return cmd;
}
cl::SubCommand &llmc::rooflineCmd() {
  static cl::SubCommand cmd("roofline", "Roofline analysis: FLOPs, bytes, bound and time per op");
  return cmd;
}

static cl::opt<std::string> compileInput(cl::Positional, cl::Required,
                                         cl::desc("<model.mlir | model path>"),
                                         cl::sub(compileCmd()));
static cl::opt<std::string> compileOutput("o", cl::Required,
                                          cl::desc("Output artifact"),
                                          cl::value_desc("model.llmc"),
                                          cl::sub(compileCmd()));
static cl::opt<std::string> emitOpt(
    "emit", cl::init("artifact"),
    cl::desc("What to write: artifact (.llmc, for llmc run and the runtime "
             "API), exe (a self-contained executable: the code, the "
             "runtime, the tokenizer and the weights) or obj (NAME.o with "
             "NAME.h, NAME.llmc and libllmc_runtime.a, to link the model "
             "into a program)"),
    cl::value_desc("artifact|exe|obj"), cl::sub(compileCmd()));
static cl::opt<std::string> weightsOpt(
    "weights", cl::init("embedded"),
    cl::desc("With --emit exe: embedded (in the executable) or external (an "
             "artifact <output>.llmc next to it)"),
    cl::value_desc("embedded|external"), cl::sub(compileCmd()));
static cl::opt<std::string> tripleOpt(
    "triple",
    cl::desc("Target triple to cross-compile for, e.g. aarch64-linux-gnu "
             "(default: this machine); name its CPU with --cpu"),
    cl::sub(compileCmd()));
static cl::opt<std::string> vulkanTargetOpt(
    "vulkan-target", cl::init("baseline"),
    cl::desc("With --target vulkan: SPIR-V capabilities the kernels may use "
             "(baseline: Vulkan 1.1 core; full: + 8/16-bit storage, Float16, "
             "Int8/16/64, subgroup operations)"),
    cl::value_desc("baseline|full"), cl::sub(compileCmd()), cl::sub(runCmd()),
    cl::sub(benchCmd()));
static cl::opt<std::string> cudaArchOpt(
    "cuda-arch", cl::init("sm_80"),
    cl::desc("With --target cuda: GPU architectures to embed PTX and cubins "
             "for, comma-separated (sm_80, sm_86, sm_89, sm_90); the runtime "
             "picks one at load time"),
    cl::value_desc("sm_XY[,sm_XY...]"), cl::sub(compileCmd()),
    cl::sub(runCmd()), cl::sub(benchCmd()));
static cl::opt<std::string> cudaMMAOpt(
    "cuda-mma", cl::init("3xtf32"),
    cl::desc("With --target cuda: prefill projections on tensor cores "
             "(3xtf32: f32 accuracy from three TF32 products; tf32; none)"),
    cl::value_desc("3xtf32|tf32|none"), cl::sub(compileCmd()),
    cl::sub(runCmd()), cl::sub(benchCmd()));
static cl::opt<std::string> deviceOpt(
    "device", cl::init(""),
    cl::desc("Device to run on: cpu, vulkan or cuda (a model that needs "
             "compiling is compiled for it; an artifact must have been)"),
    cl::value_desc("cpu|vulkan|cuda"), cl::sub(runCmd()), cl::sub(benchCmd()));
static cl::opt<bool> listDevicesOpt(
    "list-devices", cl::desc("List the GPU devices the runtime sees and exit"),
    cl::sub(runCmd()));
static cl::opt<std::string> targetOpt("target", cl::init("cpu"),
                                      cl::desc("Target backend (cpu, vulkan, cuda)"),
                                      cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()));
static cl::opt<std::string>
    cpuOpt("cpu", cl::init("native"),
           cl::desc("LLVM CPU name to compile for (native = this machine)"),
           cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()), cl::sub(calibrateCmd()));
enum OptLevel { O0, O1, O2, O3 };
static cl::opt<OptLevel> optLevel(
    cl::desc("Optimization level"), cl::init(O3),
    cl::values(clEnumValN(O0, "O0", "No optimization"),
               clEnumValN(O1, "O1", "Basic"), clEnumValN(O2, "O2", "Default"),
               clEnumValN(O3, "O3", "Aggressive (default)")),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()), cl::sub(calibrateCmd()));
static cl::opt<int64_t> decodeSplitsOpt(
    "decode-splits", cl::init(2),
    cl::desc("Flash decoding (-O2+): KV-cache chunks per head for one-token "
             "steps, combined after (1 = no split)"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()));
static cl::opt<bool> llmOptimizeOpt(
    "llm-optimize", cl::init(true),
    cl::desc("Run the llm-dialect pipeline (fusion, flash attention) at -O1 "
             "and up; =false keeps the imported graph while LLVM still "
             "optimizes at the -O level"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()), cl::sub(calibrateCmd()));
static cl::opt<bool> outlineLayersOpt(
    "outline-layers", cl::init(true),
    cl::desc("CPU: lower the decoder layers that are the same code once, as "
             "a function called per layer (=false: one inlined copy per "
             "layer, as before)"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()));
static cl::opt<bool> codeCacheOpt(
    "code-cache", cl::init(true),
    cl::desc("Reuse the code compiled for the same architecture, shapes, "
             "formats, options and target from $XDG_CACHE_HOME/llmc/code "
             "(a checkpoint with other weights then only packs them); "
             "=false generates the code anew and does not store it"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()));
static cl::opt<std::string> softmaxOpt(
    "softmax", cl::init("unified"),
    cl::desc("Flash decoding (-O2+) softmax across chunks: unified (one "
             "fixed maximum, FlashDecoding++) or online (synchronized)"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()));
static cl::opt<std::string> quantOpt(
    "quant",
    cl::desc("Quantize the linear layers' weights: w8 (int8 per output "
             "channel), w4g32 / w4g64 / w4g128 (int4 per group), any wNgG, "
             "q8_0 / q4_0 (GGUF blocks, 8-bit activations), gqsa-w4s50 "
             "(q4_0, half of each row's blocks kept)"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()));
static cl::opt<bool> quantAsymOpt(
    "quant-asymmetric",
    cl::desc("With --quant: zero points next to the scales"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()));
static cl::opt<bool> quantClipOpt(
    "quant-clip",
    cl::desc("With --quant wN / wNgG: per group, the clipped range (1.0 .. "
             "0.5 of the full one) with the least squared error"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()));
static cl::list<std::string> quantKeepOpt(
    "quant-keep", cl::CommaSeparated,
    cl::desc("With --quant: keep weights whose name contains one of these "
             "(comma-separated) in float, e.g. output"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(benchCmd()),
    cl::sub(rooflineCmd()));
static cl::opt<std::string> kvCacheOpt(
    "kv-cache", cl::init("f32"),
    cl::desc("KV cache storage: f32, or int8 (per head and position: int8 "
             "values and an f32 scale; ~3.8x smaller at head_dim 64)"),
    cl::value_desc("f32|int8"), cl::sub(compileCmd()), cl::sub(runCmd()),
    cl::sub(perplexityCmd()), cl::sub(benchCmd()));
static cl::opt<std::string> earlyExitOpt(
    "early-exit",
    cl::desc("Early-exit heads (llm-insert-early-exits options), e.g. "
             "\"layers=1,3 metric=max-prob threshold=0.9\"; decode steps "
             "skip the remaining layers when a head is confident"),
    cl::value_desc("options"), cl::sub(compileCmd()), cl::sub(runCmd()),
    cl::sub(perplexityCmd()), cl::sub(benchCmd()), cl::sub(rooflineCmd()));
static cl::opt<std::string> placeExpertsOpt(
    "place-experts",
    cl::desc("Assign every MoE expert a memory tier (llm-place-experts "
             "options), e.g. \"budget=512MiB stats=stats.json\" or "
             "\"tiers=device=2GiB,host=8GiB,storage stats=stats.json\""),
    cl::value_desc("options"), cl::sub(compileCmd()), cl::sub(runCmd()),
    cl::sub(benchCmd()));
static cl::list<int64_t> skipLayersOpt(
    "skip-layers", cl::CommaSeparated,
    cl::desc("Remove these decoder layers (0-based, comma-separated) for "
             "every token (static layer skipping, llm-skip-layers)"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()),
    cl::sub(benchCmd()), cl::sub(rooflineCmd()));
static cl::opt<std::string> skipPlanOpt(
    "skip-plan",
    cl::desc("Remove the --skip-count layers an llmc calibrate statistics "
             "file ranks least influential (its skip_plan)"),
    cl::value_desc("stats.json"), cl::sub(compileCmd()), cl::sub(runCmd()),
    cl::sub(perplexityCmd()), cl::sub(benchCmd()), cl::sub(rooflineCmd()));
static cl::opt<int64_t> skipCountOpt(
    "skip-count", cl::init(1),
    cl::desc("With --skip-plan: how many layers to remove"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()),
    cl::sub(benchCmd()), cl::sub(rooflineCmd()));
static cl::opt<std::string> calibrationOpt(
    "calibration",
    cl::desc("With --quant dgq-a8w4 / gqsa-w4s50: activation statistics "
             "from llmc calibrate (smoothing, error weights, saliency)"),
    cl::value_desc("stats.json"), cl::sub(compileCmd()), cl::sub(runCmd()),
    cl::sub(perplexityCmd()), cl::sub(benchCmd()));
static cl::opt<std::string>
    compileTokenizer("tokenizer", cl::desc("Tokenizer file to embed"),
                     cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(calibrateCmd()));

static cl::opt<std::string> runInput(cl::Positional, cl::init(""),
                                     cl::desc("<model.llmc | model.mlir | model path>"),
                                     cl::sub(runCmd()));
static cl::opt<bool> demoOpt("demo",
                             cl::desc("Run the built-in synthetic demo model"),
                             cl::sub(runCmd()));
static cl::opt<std::string> promptOpt("prompt", cl::init(""),
                                      cl::desc("Prompt text"), cl::sub(runCmd()));
static cl::opt<std::string> promptFileOpt(
    "prompt-file", cl::desc("Read the prompt from a file (instead of --prompt)"),
    cl::value_desc("file"), cl::sub(runCmd()));
static cl::opt<int> stepsOpt("n", cl::init(256),
                             cl::desc("Tokens to generate"), cl::sub(runCmd()));
static cl::opt<float> tempOpt("temp", cl::init(0.0f),
                              cl::desc("Sampling temperature (0 = greedy)"),
                              cl::sub(runCmd()));
static cl::opt<int> topKOpt("top-k", cl::init(0),
                            cl::desc("Sample from the K most likely (0 = all)"),
                            cl::sub(runCmd()));
static cl::opt<float> topPOpt("top-p", cl::init(1.0f),
                              cl::desc("Nucleus sampling threshold (1 = off)"),
                              cl::sub(runCmd()));
static cl::opt<uint64_t> seedOpt("seed", cl::init(0),
                                 cl::desc("Sampling seed"), cl::sub(runCmd()));
static cl::opt<std::string> expertCacheOpt(
    "expert-cache",
    cl::desc("Page the experts placed on storage (--place-experts) through "
             "a cache of this size (e.g. 64MiB, or 25% of the paged "
             "experts); 0 = all mapped"),
    cl::value_desc("size|N%"), cl::sub(runCmd()), cl::sub(benchCmd()));
static cl::opt<bool> noPrefetchOpt(
    "no-prefetch",
    cl::desc("With --expert-cache: no background prefetch of the next "
             "layer's predicted experts"),
    cl::sub(runCmd()), cl::sub(benchCmd()));
static cl::opt<bool> statsOpt("stats",
                              cl::desc("Print prefill/decode speed to stderr"),
                              cl::sub(runCmd()));
static cl::opt<std::string> dumpLogits(
    "dump-logits",
    cl::desc("Write the logits of every computed position (float32 LE, "
             "vocab_size per row, position order)"),
    cl::value_desc("file"), cl::sub(runCmd()));
static cl::opt<int> maxContextOpt("max-context", cl::init(0),
                                  cl::desc("KV cache positions (0 = compiled)"),
                                  cl::sub(runCmd()));
static cl::opt<bool> timingsOpt(
    "timings", cl::init(false),
    cl::desc("Print each compile step's wall time (llm passes, lowering, "
             "bufferization, LLVM IR optimization, machine code, linking, "
             "packing) on stderr"),
    cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(benchCmd()));
static cl::opt<bool> progressOpt("progress",
                                 cl::desc("Show progress even when stderr is "
                                          "not a terminal"),
                                 cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(calibrateCmd()));

std::string llmc::tokenizerOption() { return compileTokenizer; }

CompileOptions llmc::compileOptions() {
  CompileOptions o;
  o.target = deviceOpt.empty() ? std::string(targetOpt)
                               : std::string(deviceOpt);
  o.vulkanTarget = vulkanTargetOpt;
  o.cudaArch = cudaArchOpt;
  o.cudaMMA = cudaMMAOpt;
  o.cpu = cpuOpt;
  o.triple = tripleOpt;
  o.emit = emitOpt;
  o.weights = weightsOpt;
  o.optLevel = static_cast<int>(optLevel.getValue());
  o.decodeSplits = decodeSplitsOpt;
  o.llmOptimize = llmOptimizeOpt;
  o.outlineLayers = outlineLayersOpt;
  o.codeCache = codeCacheOpt;
  o.decodeSoftmax = softmaxOpt;
  o.quant = quantOpt;
  o.quantAsymmetric = quantAsymOpt;
  o.quantClip = quantClipOpt;
  o.quantKeep.assign(quantKeepOpt.begin(), quantKeepOpt.end());
  o.calibration = calibrationOpt;
  o.kvCache = kvCacheOpt;
  o.earlyExit = earlyExitOpt;
  o.placeExperts = placeExpertsOpt;
  o.skipLayers.assign(skipLayersOpt.begin(), skipLayersOpt.end());
  if (!skipPlanOpt.empty()) {
    // Resolved here, so caching and the manifest see the layers.
    std::string error;
    if (!o.skipLayers.empty())
      error = "give either --skip-layers or --skip-plan";
    else if (skipCountOpt < 1)
      error = "--skip-count must be at least 1";
    else if (auto plan = mlir::llm::readSkipPlan(skipPlanOpt, skipCountOpt,
                                                 error);
             succeeded(plan))
      o.skipLayers.assign(plan->begin(), plan->end());
    if (!error.empty())
      std::exit(fail(error));
  }
  o.progress = progressOpt || sys::Process::StandardErrIsDisplayed();
  o.timings = timingsOpt;
  return o;
}

int llmc::runCompile() {
  if (emitOpt != "artifact" && emitOpt != "exe" && emitOpt != "obj")
    return fail("--emit must be artifact, exe or obj (got '" + emitOpt + "')");
  if (weightsOpt != "embedded" && weightsOpt != "external")
    return fail("--weights must be embedded or external (got '" + weightsOpt +
                "')");
  if (weightsOpt.getNumOccurrences() && emitOpt != "exe")
    return fail("--weights applies to --emit exe only");
  if (!tripleOpt.empty() && emitOpt == "artifact")
    return fail("--triple needs --emit exe or obj (artifacts run on the "
                "compiling machine's runtime)");
  if (emitOpt == "obj" && sys::path::extension(compileOutput) != ".o")
    return fail("--emit obj writes an object file: name it NAME.o (got '" +
                compileOutput + "')");
  mlir::MLIRContext context;
  LoadedModel model;
  if (Error e = loadModel(context, compileInput, compileTokenizer, model))
    return fail(std::move(e));
  if (Error e = compileModel(model, compileOptions(), compileOutput))
    return fail(std::move(e));
  return 0;
}


Expected<std::unique_ptr<Tokenizer>>
llmc::artifactTokenizer(llmc_artifact_t *a, StringRef path) {
  std::string error;
  std::unique_ptr<Tokenizer> t = artifactTokenizer(a, path.str(), error);
  if (!t)
    return createStringError(inconvertibleErrorCode(), error);
  return std::move(t);
}

Expected<std::string> llmc::resolveArtifact(StringRef input,
                                            StringRef tokenizer,
                                            const CompileOptions &options) {
  if (sys::path::extension(input) == ".llmc")
    return input.str();
  return compileCached(input, tokenizer, options);
}

Error llmc::setExpertCache(llmc_artifact_t *artifact, StringRef path) {
  StringRef spec = StringRef(expertCacheOpt).trim();
  if (spec.empty() || spec == "0")
    return Error::success();
  uint64_t bytes = 0;
  if (spec.consume_back("%")) {
    double pct;
    if (spec.getAsDouble(pct) || !(pct > 0) || pct > 100)
      return fileError(path, "--expert-cache percentage must be in (0, 100]");
    // The paged experts' size, from a cache that holds them all.
    if (llmc_status_t s =
            llmc_artifact_set_expert_cache(artifact, UINT64_MAX, 0))
      return statusError(s);
    llmc_expert_stats_t st;
    (void)llmc_artifact_expert_stats(artifact, &st);
    bytes = uint64_t(st.paged_bytes * pct / 100.0);
  } else {
    std::optional<double> parsed = mlir::llm::parseByteAmount(spec);
    if (!parsed)
      return fileError(path, "--expert-cache '" + spec +
                                 "' is not a size (e.g. 64MiB) or a "
                                 "percentage");
    bytes = uint64_t(*parsed);
  }
  if (llmc_status_t s =
          llmc_artifact_set_expert_cache(artifact, bytes, !noPrefetchOpt))
    return statusError(s);
  return Error::success();
}

/// --device against the artifact's target.
Error llmc::checkDevice(llmc_artifact_t *artifact, StringRef path) {
  if (deviceOpt.empty())
    return Error::success();
  if (deviceOpt != "cpu" && deviceOpt != "vulkan" && deviceOpt != "cuda")
    return fileError(path, "unknown --device '" + deviceOpt +
                               "' (cpu, vulkan, cuda)");
  auto manifest = json::parse(llmc_artifact_manifest(artifact));
  std::string kind = "cpu";
  if (manifest)
    if (const json::Object *t = manifest->getAsObject()->getObject("target"))
      if (auto k = t->getString("kind"))
        kind = k->str();
  if (kind != deviceOpt)
    return fileError(path, "was compiled for " + kind +
                               ", not --device " + deviceOpt +
                               " (recompile with --target " + deviceOpt + ")");
  return Error::success();
}

int llmc::runRun() {
  if (listDevicesOpt) {
    char text[8192];
    if (llmc_status_t s = llmc_devices_list(text, sizeof text))
      return fail(statusError(s));
    outs() << "cpu  this machine's CPU (the default device)\n" << text;
    return 0;
  }
  if (demoOpt == !runInput.empty())
    return fail("llmc run needs a model path or --demo (not both)");
  if (stepsOpt < 1)
    return fail("-n must be at least 1");
  std::string promptText = promptOpt;
  if (!promptFileOpt.empty()) {
    if (!promptOpt.empty())
      return fail("give --prompt or --prompt-file, not both");
    auto buf = MemoryBuffer::getFile(promptFileOpt);
    if (!buf)
      return fail(fileError(promptFileOpt,
                            "cannot read: " + buf.getError().message()));
    promptText = (*buf)->getBuffer().str();
  }
  CompileOptions options = compileOptions();
  std::string artifactPath;
  if (demoOpt) {
    auto path = compileDemo(options);
    if (!path)
      return fail(path.takeError());
    artifactPath = *path;
  } else {
    auto path = resolveArtifact(runInput, compileTokenizer, options);
    if (!path)
      return fail(path.takeError());
    artifactPath = *path;
  }

  llmc_artifact_t *artifact = nullptr;
  if (llmc_status_t s = llmc_artifact_load(artifactPath.c_str(), &artifact))
    return fail(statusError(s));
  llvm::scope_exit freeArtifact([&] { llmc_artifact_free(artifact); });
  if (Error e = checkDevice(artifact, artifactPath))
    return fail(std::move(e));
  if (Error e = setExpertCache(artifact, artifactPath))
    return fail(std::move(e));
  auto tokenizer = artifactTokenizer(artifact, artifactPath);
  if (!tokenizer)
    return fail(tokenizer.takeError());
  GenerateOptions g;
  g.prompt = promptText;
  g.steps = stepsOpt;
  g.sampler = {tempOpt, topKOpt, topPOpt, seedOpt};
  g.maxContext = maxContextOpt;
  g.stats = statsOpt;
  g.dumpLogits = dumpLogits;
  outs().flush();
  if (llmc_status_t s = generate(artifact, **tokenizer, g, stdout, stderr))
    return fail(statusError(s));
  if (statsOpt) {
    char text[1024];
    if (!llmc_artifact_device_stats(artifact, text, sizeof text) && *text)
      errs() << text << "\n";
  }
  return 0;
}
