//===- Perplexity.cpp - llmc perplexity: how well a model predicts a text -===//
//
//   llmc perplexity <model> --text FILE [--ref <model>] [--ctx N] [--json F]
//
// The text is tokenized (BOS first) and cut into windows of --ctx tokens
// (default: the compiled context, at most 512); each window runs in a fresh
// session and every position except the last predicts the next token:
// perplexity = exp(mean negative log-likelihood). With --ref (e.g. the f32
// model next to a quantized one), the same windows run through the
// reference and, as llama.cpp's KL-divergence statistics do, every position
// contributes KL(ref || model) over the whole vocabulary and whether both
// pick the same top-1 token.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"
#include "Compile.h"
#include "importers/Tokenizer.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <vector>

using namespace llvm;
using namespace llmc;

static cl::opt<std::string> pplInput(cl::Positional, cl::Required,
                                     cl::desc("<model.llmc | model path>"),
                                     cl::sub(perplexityCmd()));
static cl::opt<std::string> pplText("text", cl::Required,
                                    cl::desc("Text to evaluate"),
                                    cl::value_desc("file"),
                                    cl::sub(perplexityCmd()));
static cl::opt<std::string>
    pplRef("ref",
           cl::desc("Reference model (.llmc, or a path compiled without "
                    "--quant): KL divergence and top-1 agreement against it"),
           cl::value_desc("model"), cl::sub(perplexityCmd()));
static cl::opt<int> pplCtx("ctx", cl::init(0),
                           cl::desc("Tokens per window (0 = the compiled "
                                    "context, at most 512)"),
                           cl::sub(perplexityCmd()));
static cl::opt<bool> pplStepwise(
    "stepwise",
    cl::desc("Run the model one token per forward, as generation does "
             "(early-exit heads act on one-token steps only)"),
    cl::sub(perplexityCmd()));
static cl::opt<std::string> pplJson("json", cl::desc("Also write JSON here"),
                                    cl::value_desc("file"),
                                    cl::sub(perplexityCmd()));

namespace {
/// log softmax of one row, in double.
void logSoftmax(const float *row, int32_t n, std::vector<double> &out) {
  out.resize(n);
  double mx = row[0];
  for (int32_t i = 1; i < n; ++i)
    mx = std::max(mx, double(row[i]));
  double sum = 0;
  for (int32_t i = 0; i < n; ++i)
    sum += std::exp(double(row[i]) - mx);
  double lse = mx + std::log(sum);
  for (int32_t i = 0; i < n; ++i)
    out[i] = double(row[i]) - lse;
}

int32_t argmax(const float *row, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (row[i] > row[best])
      best = i;
  return best;
}
} // namespace

int llmc::runPerplexity() {
  CompileOptions options = compileOptions();
  auto path = resolveArtifact(pplInput, tokenizerOption(), options);
  if (!path)
    return fail(path.takeError());
  LoadedArtifact model, ref;
  int ctxLimit = pplCtx;
  if (ctxLimit < 0 || ctxLimit == 1)
    return fail("--ctx must be at least 2 (or 0 for the compiled context)");
  if (Error e = model.load(*path))
    return fail(std::move(e));
  if (ctxLimit == 0)
    ctxLimit = std::min(model.info.max_seq_len, 512);
  if (ctxLimit > model.info.max_seq_len)
    return fail(*path + ": --ctx " + Twine(ctxLimit) +
                " exceeds the compiled context " +
                Twine(model.info.max_seq_len));
  if (Error e = model.startSession(ctxLimit))
    return fail(std::move(e));
  std::string refPath;
  if (!pplRef.empty()) {
    CompileOptions refOptions = options;
    refOptions.quant.clear();
    refOptions.earlyExit.clear();
    refOptions.skipLayers.clear();
    auto r = resolveArtifact(pplRef, tokenizerOption(), refOptions);
    if (!r)
      return fail(r.takeError());
    refPath = *r;
    if (Error e = ref.load(refPath))
      return fail(std::move(e));
    if (Error e = ref.startSession(ctxLimit))
      return fail(std::move(e));
    if (ref.info.vocab_size != model.info.vocab_size)
      return fail(refPath + ": vocabulary of " + Twine(ref.info.vocab_size) +
                  " tokens, the model has " + Twine(model.info.vocab_size));
  }
  auto tokenizer = artifactTokenizer(model.artifact, *path);
  if (!tokenizer)
    return fail(tokenizer.takeError());
  auto text = MemoryBuffer::getFile(pplText);
  if (!text)
    return fail(fileError(pplText, "cannot read: " + text.getError().message()));
  std::vector<int32_t> tokens = (*tokenizer)->encode((*text)->getBuffer(), true);
  if (tokens.size() < 2)
    return fail(fileError(pplText, "has fewer than 2 tokens"));

  bool progress = options.progress;
  int32_t vocab = model.info.vocab_size;
  double nll = 0, refNll = 0, kl = 0;
  int64_t scored = 0, agree = 0;
  std::vector<double> lp, lq;
  // Early exits of the one-token steps (--stepwise), per layer.
  std::vector<int64_t> exits;
  int64_t steps = 0;
  size_t windows = (tokens.size() + ctxLimit - 1) / ctxLimit;
  for (size_t w = 0; w < windows; ++w) {
    size_t begin = w * ctxLimit;
    size_t end = std::min(tokens.size(), begin + ctxLimit);
    if (end - begin < 2)
      break;
    ArrayRef<int32_t> win(tokens.data() + begin, end - begin);
    llmc_early_exit_reset();
    auto logits = model.run(win, pplStepwise);
    if (!logits)
      return fail(logits.takeError());
    if (pplStepwise) {
      steps += win.size();
      int32_t n;
      const int64_t *counts;
      llmc_early_exit_read(&n, &counts);
      if (exits.size() < size_t(n))
        exits.resize(n);
      for (int32_t l = 0; l < n; ++l)
        exits[l] += counts[l];
    }
    const float *refLogits = nullptr;
    if (!refPath.empty()) {
      auto r = ref.run(win);
      llmc_early_exit_reset();
      if (!r)
        return fail(r.takeError());
      refLogits = *r;
    }
    for (size_t i = 0; i + 1 < win.size(); ++i) {
      const float *row = *logits + i * vocab;
      logSoftmax(row, vocab, lq);
      nll -= lq[win[i + 1]];
      ++scored;
      if (!refLogits)
        continue;
      const float *rrow = refLogits + i * vocab;
      logSoftmax(rrow, vocab, lp);
      refNll -= lp[win[i + 1]];
      double d = 0;
      for (int32_t v = 0; v < vocab; ++v)
        d += std::exp(lp[v]) * (lp[v] - lq[v]);
      kl += d;
      agree += argmax(row, vocab) == argmax(rrow, vocab);
    }
    if (progress)
      errs() << format("\rllmc: perplexity window %zu/%zu", w + 1, windows);
  }
  if (progress)
    errs() << "\n";
  double ppl = std::exp(nll / scored);
  json::Object result{{"model", *path},
                      {"text", pplText.getValue()},
                      {"tokens", int64_t(tokens.size())},
                      {"scored", scored},
                      {"ctx", ctxLimit},
                      {"perplexity", ppl}};
  outs() << format("perplexity: %.4f over %lld predicted tokens (%zu windows "
                   "of up to %d)\n",
                   ppl, (long long)scored, windows, ctxLimit);
  if (pplStepwise) {
    int64_t exited = 0;
    double layers = 0;
    json::Object perLayer;
    std::string list;
    for (size_t l = 0; l < exits.size(); ++l) {
      if (!exits[l])
        continue;
      exited += exits[l];
      layers += double(exits[l]) * (l + 1);
      perLayer[std::to_string(l)] = exits[l];
      list += (list.empty() ? "" : ", ") + std::to_string(l) + ": " +
              std::to_string(exits[l]);
    }
    layers = (layers + double(steps - exited) * model.info.n_layers) /
             std::max<int64_t>(steps, 1);
    outs() << format("early exit: %lld of %lld one-token steps exited "
                     "(after layer %s); average layers run %.2f of %d\n",
                     (long long)exited, (long long)steps,
                     list.empty() ? "-" : list.c_str(), layers,
                     model.info.n_layers);
    result["steps"] = steps;
    result["exits"] = std::move(perLayer);
    result["average_layers"] = layers;
  }
  if (!refPath.empty()) {
    double refPpl = std::exp(refNll / scored);
    double delta = 100.0 * (ppl - refPpl) / refPpl;
    double meanKl = kl / scored;
    double top1 = 100.0 * agree / scored;
    outs() << format("reference perplexity: %.4f (delta %+.3f %%)\n", refPpl,
                     delta);
    outs() << format("mean KL divergence: %.6f, top-1 agreement: %.2f %%\n",
                     meanKl, top1);
    result["reference"] = refPath;
    result["reference_perplexity"] = refPpl;
    result["perplexity_delta_percent"] = delta;
    result["mean_kl"] = meanKl;
    result["top1_agreement_percent"] = top1;
  }
  if (!pplJson.empty())
    if (Error e = writeToOutput(pplJson, [&](raw_ostream &os) {
          os << formatv("{0:2}", json::Value(std::move(result))) << "\n";
          return Error::success();
        }))
      return fail(std::move(e));
  return 0;
}
