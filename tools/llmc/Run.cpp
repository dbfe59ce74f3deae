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
#include "llmc/runtime.h"
#include "mlir/IR/MLIRContext.h"
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
static cl::opt<std::string> targetOpt("target", cl::init("cpu"),
                                      cl::desc("Target backend (cpu)"),
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
static cl::opt<bool> progressOpt("progress",
                                 cl::desc("Show progress even when stderr is "
                                          "not a terminal"),
                                 cl::sub(compileCmd()), cl::sub(runCmd()), cl::sub(perplexityCmd()), cl::sub(calibrateCmd()));

std::string llmc::tokenizerOption() { return compileTokenizer; }

CompileOptions llmc::compileOptions() {
  CompileOptions o;
  o.target = targetOpt;
  o.cpu = cpuOpt;
  o.optLevel = static_cast<int>(optLevel.getValue());
  o.decodeSplits = decodeSplitsOpt;
  o.llmOptimize = llmOptimizeOpt;
  o.decodeSoftmax = softmaxOpt;
  o.quant = quantOpt;
  o.quantAsymmetric = quantAsymOpt;
  o.quantClip = quantClipOpt;
  o.quantKeep.assign(quantKeepOpt.begin(), quantKeepOpt.end());
  o.calibration = calibrationOpt;
  o.kvCache = kvCacheOpt;
  o.progress = progressOpt || sys::Process::StandardErrIsDisplayed();
  return o;
}

int llmc::runCompile() {
  mlir::MLIRContext context;
  LoadedModel model;
  if (Error e = loadModel(context, compileInput, compileTokenizer, model))
    return fail(std::move(e));
  if (Error e = compileModel(model, compileOptions(), compileOutput))
    return fail(std::move(e));
  return 0;
}

namespace {
/// Owns the runtime objects and turns statuses into messages.
struct RuntimeObjects {
  llmc_artifact_t *artifact = nullptr;
  llmc_session_t *session = nullptr;
  llmc_sampler_t *sampler = nullptr;
  ~RuntimeObjects() {
    llmc_sampler_free(sampler);
    llmc_session_free(session);
    llmc_artifact_free(artifact);
  }
};

} // namespace

Expected<std::unique_ptr<Tokenizer>>
llmc::artifactTokenizer(llmc_artifact_t *a, StringRef path) {
  auto manifest = json::parse(llmc_artifact_manifest(a));
  if (!manifest)
    return manifest.takeError();
  const json::Object *tok = manifest->getAsObject()->getObject("tokenizer");
  if (!tok)
    return fileError(path, "carries no tokenizer; recompile with --tokenizer");
  auto format = parseTokenizerFormatName(tok->getString("format").value_or(""));
  if (!format || *format == TokenizerFormat::None)
    return fileError(path, "unknown tokenizer format in the manifest");
  const void *data;
  size_t size;
  if (llmc_status_t s = llmc_artifact_section(a, "tokenizer", &data, &size))
    return statusError(s);
  return parseTokenizer(*format, path,
                        StringRef(static_cast<const char *>(data), size));
}

Expected<std::string> llmc::resolveArtifact(StringRef input,
                                            StringRef tokenizer,
                                            const CompileOptions &options) {
  if (sys::path::extension(input) == ".llmc")
    return input.str();
  return compileCached(input, tokenizer, options);
}

int llmc::runRun() {
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

  RuntimeObjects rt;
  if (llmc_status_t s = llmc_artifact_load(artifactPath.c_str(), &rt.artifact))
    return fail(statusError(s));
  llmc_model_info_t info;
  if (llmc_status_t s = llmc_artifact_info(rt.artifact, &info))
    return fail(statusError(s));
  auto tokenizer = artifactTokenizer(rt.artifact, artifactPath);
  if (!tokenizer)
    return fail(tokenizer.takeError());
  std::vector<int32_t> prompt = (*tokenizer)->encode(promptText, true);
  if (prompt.empty())
    return fail("the prompt encodes to no tokens and the tokenizer has no BOS");
  if (llmc_status_t s =
          llmc_session_create(rt.artifact, maxContextOpt, &rt.session))
    return fail(statusError(s));
  llmc_sampler_params_t sp{tempOpt, topKOpt, topPOpt, seedOpt};
  if (llmc_status_t s = llmc_sampler_create(&sp, &rt.sampler))
    return fail(statusError(s));

  std::unique_ptr<raw_fd_ostream> logitsOut;
  std::string logitsTmp;
  if (!dumpLogits.empty()) {
    // Written to a temporary file and renamed at the end: no partial dumps.
    logitsTmp = dumpLogits + ".tmp";
    std::error_code ec;
    logitsOut = std::make_unique<raw_fd_ostream>(logitsTmp, ec);
    if (ec)
      return fail(fileError(dumpLogits, "cannot write: " + ec.message()));
  }
  llvm::scope_exit removeTmp([&] {
    if (logitsOut) {
      logitsOut.reset();
      sys::fs::remove(logitsTmp);
    }
  });
  auto dump = [&](const float *rows, int32_t n) {
    if (logitsOut)
      logitsOut->write(reinterpret_cast<const char *>(rows),
                       sizeof(float) * size_t(n) * info.vocab_size);
  };

  using clock = std::chrono::steady_clock;
  outs() << promptText;
  outs().flush();
  auto t0 = clock::now();
  const float *logits;
  // Every prompt position's logits only when they are dumped.
  auto prefill = logitsOut ? llmc_session_forward : llmc_session_forward_last;
  if (llmc_status_t s =
          prefill(rt.session, prompt.data(), prompt.size(), &logits))
    return fail(statusError(s));
  auto t1 = clock::now();
  size_t prefillRows = logitsOut ? prompt.size() : 1;
  dump(logits, prefillRows);
  const float *last = logits + (prefillRows - 1) * info.vocab_size;
  int32_t token = prompt.back();
  int decoded = 0;
  for (int generated = 0; generated < stepsOpt; ++generated) {
    int32_t next;
    if (llmc_status_t s =
            llmc_sampler_sample(rt.sampler, last, info.vocab_size, &next))
      return fail(statusError(s));
    // A generated BOS or EOS ends the sequence (llama2.c's convention).
    if (next == info.bos_id || next == info.eos_id)
      break;
    outs() << (*tokenizer)->decodeToken(token, next);
    outs().flush();
    token = next;
    if (generated + 1 == stepsOpt)
      break;
    if (llmc_status_t s = llmc_session_forward(rt.session, &token, 1, &logits))
      return fail(statusError(s));
    ++decoded;
    dump(logits, 1);
    last = logits;
  }
  auto t2 = clock::now();
  outs() << "\n";
  outs().flush();
  if (logitsOut) {
    logitsOut->close();
    if (logitsOut->has_error())
      return fail(fileError(dumpLogits, "write failed"));
    logitsOut.reset();
    if (std::error_code ec = sys::fs::rename(logitsTmp, dumpLogits))
      return fail(fileError(dumpLogits, "cannot rename: " + ec.message()));
  }
  if (statsOpt) {
    double prefill = std::chrono::duration<double>(t1 - t0).count();
    double decode = std::chrono::duration<double>(t2 - t1).count();
    errs() << format("prefill: %zu tokens in %.3f s (%.1f tok/s)\n",
                     prompt.size(), prefill, prompt.size() / prefill);
    if (decoded > 0)
      errs() << format("decode: %d tokens in %.3f s (%.1f tok/s)\n", decoded,
                       decode, decoded / decode);
  }
  return 0;
}
