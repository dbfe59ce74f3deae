//===- Bench.cpp - `llmc bench`: measured vs predicted, per op class ------===//
//
//   llmc bench <model path | model.mlir> [--prompt-tokens N] [--decode M]
//              [--hardware host] [--profile] [--json F]
//
// Compiles the model (cached), times a prefill of N random tokens and M
// greedy decode steps through the runtime, and with --profile (per-op
// timers compiled in) compares each op class's measured time with what
// --llm-roofline predicts for the same steps on the hardware.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "llmc/generate.h"
#include "Compile.h"
#include "HostBench.h"
#include "dialects/llm/LLMOps.h"
#include "llmc/runtime.h"
#include "passes/Passes.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include <chrono>
#include <map>
#include <random>

using namespace llvm;
using namespace llmc;

static cl::opt<std::string> benchInput(cl::Positional, cl::Required,
                                       cl::desc("<model path | model.mlir>"),
                                       cl::sub(benchCmd()));
static cl::opt<std::string> benchTokenizer("tokenizer",
                                           cl::desc("Tokenizer file"),
                                           cl::sub(benchCmd()));
static cl::opt<int> benchPrompt("prompt-tokens", cl::init(128),
                                cl::desc("Prefill length"), cl::sub(benchCmd()));
static cl::opt<int> benchDecode("decode", cl::init(32),
                                cl::desc("Decode steps"), cl::sub(benchCmd()));
static cl::opt<std::string> benchHardware("hardware", cl::init("host"),
                                          cl::desc("Roofline hardware"),
                                          cl::sub(benchCmd()));
static cl::opt<bool> benchProfile("profile",
                                  cl::desc("Per-op timers; compare per op "
                                           "class with the roofline"),
                                  cl::sub(benchCmd()));
static cl::opt<std::string> benchJson("json", cl::desc("Also write JSON here"),
                                      cl::value_desc("file"),
                                      cl::sub(benchCmd()));

namespace {
/// Predicted seconds per llm op (weights excluded), in program order.
Expected<std::vector<double>> predict(mlir::MLIRContext &context,
                                      mlir::ModuleOp module, StringRef phase,
                                      int64_t seq, int64_t kvLen) {
  mlir::OwningOpRef<mlir::ModuleOp> copy = module.clone();
  mlir::llm::RooflineOptions options;
  options.hardware = benchHardware;
  if (benchHardware == "host") {
    auto file = hostHardwareFile(false);
    if (!file)
      return file.takeError();
    options.hardwareFile = *file;
  }
  options.phase = phase.str();
  options.seq = seq;
  options.kvLen = kvLen;
  mlir::PassManager pm(&context);
  pm.addPass(mlir::llm::createRoofline(options));
  if (failed(pm.run(*copy)))
    return createStringError(inconvertibleErrorCode(),
                             "roofline analysis failed (see above)");
  std::vector<double> times;
  copy->walk([&](mlir::Operation *op) {
    if (!mlir::llm::isRunTimeOp(op))
      return;
    auto attr = op->getAttrOfType<mlir::DictionaryAttr>("llm.roofline");
    auto t = attr ? dyn_cast_or_null<mlir::FloatAttr>(attr.get("time_s"))
                  : nullptr;
    times.push_back(t ? t.getValueAsDouble() : 0.0);
  });
  return times;
}
} // namespace

int llmc::runBench() {
  if (benchPrompt < 1 || benchDecode < 1)
    return fail("--prompt-tokens and --decode must be at least 1");
  CompileOptions options = compileOptions();
  options.progress = false;
  options.profile = benchProfile;
  auto path = compileCached(benchInput, benchTokenizer, options);
  if (!path)
    return fail(path.takeError());

  llmc_artifact_t *artifact = nullptr;
  llmc_session_t *session = nullptr;
  llvm::scope_exit cleanup([&] {
    llmc_session_free(session);
    llmc_artifact_free(artifact);
  });
  if (llmc_status_t s = llmc_artifact_load(path->c_str(), &artifact))
    return fail(statusError(s));
  if (Error e = setExpertCache(artifact, *path))
    return fail(std::move(e));
  llmc_model_info_t info;
  llmc_artifact_info(artifact, &info);
  if (benchPrompt + benchDecode > info.max_seq_len)
    return fail(formatv("--prompt-tokens + --decode exceed the model's {0} "
                        "positions", info.max_seq_len));
  if (llmc_status_t s = llmc_session_create(artifact, 0, &session))
    return fail(statusError(s));
  std::mt19937 rng(1);
  std::vector<int32_t> prompt(benchPrompt);
  for (int32_t &t : prompt)
    t = 3 + rng() % (info.vocab_size - 3);
  const float *logits;
  using clock = std::chrono::steady_clock;
  // Warm up (page in the weights, start the threads, fill the allocator).
  if (llmc_status_t s =
          llmc_session_forward_last(session, prompt.data(), prompt.size(), &logits))
    return fail(statusError(s));
  llmc_session_reset(session);
  llmc_profile_reset();

  auto t0 = clock::now();
  llmc_session_forward_last(session, prompt.data(), prompt.size(), &logits);
  auto t1 = clock::now();
  int32_t n;
  const double *secs;
  const int64_t *calls;
  llmc_profile_read(&n, &secs, &calls);
  std::vector<double> prefillOps(secs, secs + n);
  llmc_profile_reset();
  llmc_early_exit_reset();
  llmc_artifact_expert_stats_reset(artifact);
  auto t2 = clock::now();
  for (int i = 0; i < benchDecode; ++i) {
    int32_t next = std::max_element(logits, logits + info.vocab_size) - logits;
    if (llmc_status_t s = llmc_session_forward(session, &next, 1, &logits))
      return fail(statusError(s));
  }
  auto t3 = clock::now();
  llmc_profile_read(&n, &secs, &calls);
  std::vector<double> decodeOps(secs, secs + n);
  double prefillS = std::chrono::duration<double>(t1 - t0).count();
  double decodeS = std::chrono::duration<double>(t3 - t2).count();
  outs() << formatv("prefill: {0} tokens in {1:f3} s ({2:f1} tok/s); decode: "
                    "{3} tokens in {4:f3} s ({5:f2} tok/s)\n",
                    benchPrompt, prefillS, benchPrompt / prefillS,
                    benchDecode, decodeS, benchDecode / decodeS);
  outs().flush();
  llmc::printExitStats(artifact, info, benchDecode, stdout);
  llmc::printExpertStats(artifact, stdout);
  std::fflush(stdout);
  json::Object doc{{"model", std::string(benchInput)},
                   {"prompt_tokens", int64_t(benchPrompt)},
                   {"decode_tokens", int64_t(benchDecode)},
                   {"opt_level", int64_t(options.optLevel)},
                   {"prefill_tok_s", benchPrompt / prefillS},
                   {"decode_tok_s", benchDecode / decodeS}};
  llmc_expert_stats_t es;
  if (!llmc_artifact_expert_stats(artifact, &es) && es.capacity_bytes)
    doc["experts"] = json::Object{
        {"capacity_bytes", int64_t(es.capacity_bytes)},
        {"paged_bytes", int64_t(es.paged_bytes)},
        {"pinned_bytes", int64_t(es.pinned_bytes)},
        {"peak_resident_bytes", int64_t(es.peak_resident_bytes)},
        {"uses", int64_t(es.uses)},
        {"hits", int64_t(es.hits)},
        {"hit_rate", es.uses ? double(es.hits) / es.uses : 0.0},
        {"demand_loads", int64_t(es.demand_loads)},
        {"prefetches", int64_t(es.prefetches)},
        {"prefetches_used", int64_t(es.prefetches_used)},
        {"prediction_accuracy",
         es.predictions ? double(es.predictions_right) / es.predictions : 0.0},
        {"bytes_loaded_per_token",
         es.tokens ? double(es.bytes_loaded) / es.tokens : 0.0}};
  if (benchProfile) {
    mlir::MLIRContext context;
    LoadedModel model;
    if (Error e = loadModel(context, benchInput, benchTokenizer, model))
      return fail(std::move(e));
    // Predict the ops the artifact runs: the same llm-level pipeline.
    if (Error e = optimizeModel(*model.module, options, benchInput))
      return fail(std::move(e));
    auto pre = predict(context, *model.module, "prefill", benchPrompt, 0);
    auto dec = predict(context, *model.module, "decode", 1,
                       benchPrompt + benchDecode / 2);
    if (!pre)
      return fail(pre.takeError());
    if (!dec)
      return fail(dec.takeError());
    auto manifest = json::parse(llmc_artifact_manifest(artifact));
    const json::Array *table =
        manifest ? manifest->getAsObject()->getArray("profile") : nullptr;
    if (!table || table->size() != pre->size() ||
        prefillOps.size() > table->size())
      return fail("the profiled artifact's op table does not match the model");
    struct Sum {
      double prePred = 0, preMeas = 0, decPred = 0, decMeas = 0;
    };
    std::map<std::string, Sum> classes;
    json::Array opRows; // every op, with the weight it reads (JSON only)
    for (size_t i = 0; i < table->size(); ++i) {
      const json::Object *entry = (*table)[i].getAsObject();
      std::string op = entry->getString("op").value_or("?").str();
      Sum one;
      one.prePred = (*pre)[i];
      one.decPred = (*dec)[i];
      if (i < prefillOps.size())
        one.preMeas = prefillOps[i];
      if (i < decodeOps.size())
        one.decMeas = decodeOps[i] / benchDecode;
      Sum &s = classes[op];
      s.prePred += one.prePred;
      s.decPred += one.decPred;
      s.preMeas += one.preMeas;
      s.decMeas += one.decMeas;
      opRows.push_back(json::Object{
          {"op", op},
          {"weight", entry->getString("weight").value_or("").str()},
          {"prefill_predicted_s", one.prePred},
          {"prefill_measured_s", one.preMeas},
          {"decode_predicted_s", one.decPred},
          {"decode_measured_s", one.decMeas}});
    }
    outs() << formatv("\n{0,-16} {1,14} {2,14} {3,9} {4,14} {5,14} {6,9}\n",
                      "op class", "prefill pred ms", "measured ms", "meas/pred",
                      "decode pred ms", "measured ms", "meas/pred");
    json::Array rows;
    Sum all;
    for (auto &[op, s] : classes) {
      outs() << formatv("{0,-16} {1,14:f3} {2,14:f3} {3,9:f2} {4,14:f4} "
                        "{5,14:f4} {6,9:f2}\n",
                        op, s.prePred * 1e3, s.preMeas * 1e3,
                        s.prePred > 0 ? s.preMeas / s.prePred : 0.0,
                        s.decPred * 1e3, s.decMeas * 1e3,
                        s.decPred > 0 ? s.decMeas / s.decPred : 0.0);
      rows.push_back(json::Object{{"op", op},
                                  {"prefill_predicted_s", s.prePred},
                                  {"prefill_measured_s", s.preMeas},
                                  {"decode_predicted_s", s.decPred},
                                  {"decode_measured_s", s.decMeas}});
      all.prePred += s.prePred;
      all.preMeas += s.preMeas;
      all.decPred += s.decPred;
      all.decMeas += s.decMeas;
    }
    outs() << formatv("{0,-16} {1,14:f3} {2,14:f3} {3,9:f2} {4,14:f4} "
                      "{5,14:f4} {6,9:f2}\n",
                      "all ops", all.prePred * 1e3, all.preMeas * 1e3,
                      all.prePred > 0 ? all.preMeas / all.prePred : 0.0,
                      all.decPred * 1e3, all.decMeas * 1e3,
                      all.decPred > 0 ? all.decMeas / all.decPred : 0.0);
    doc["hardware"] = std::string(benchHardware);
    doc["op_classes"] = std::move(rows);
    doc["ops"] = std::move(opRows);
  }
  if (!benchJson.empty())
    if (Error e = writeToOutput(benchJson, [&](raw_ostream &os) {
          os << formatv("{0:2}", json::Value(std::move(doc))) << "\n";
          return Error::success();
        }))
      return fail(std::move(e));
  return 0;
}
