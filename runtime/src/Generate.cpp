//===- Generate.cpp - the generation loop shared by llmc run and exes -----===//

#include "llmc/generate.h"
#include "runtime/src/Internal.h"
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

using namespace llmc;
using llmc::runtime::makeStatus;

std::unique_ptr<Tokenizer> llmc::artifactTokenizer(const llmc_artifact_t *artifact,
                                                   const std::string &path,
                                                   std::string &error) {
  nlohmann::json m =
      nlohmann::json::parse(llmc_artifact_manifest(artifact), nullptr, false);
  if (m.is_discarded() || !m.contains("tokenizer") ||
      !m["tokenizer"].is_object()) {
    error = path + ": carries no tokenizer; recompile with --tokenizer";
    return nullptr;
  }
  std::string format = m["tokenizer"].value("format", "");
  const void *data;
  size_t size;
  if (llmc_status_t s =
          llmc_artifact_section(artifact, "tokenizer", &data, &size)) {
    error = llmc_status_message(s);
    llmc_status_free(s);
    return nullptr;
  }
  return tokenizer::parseSection(
      format, path, std::string_view(static_cast<const char *>(data), size),
      error);
}

void llmc::printExitStats(llmc_artifact_t *artifact,
                          const llmc_model_info_t &info, int decoded,
                          std::FILE *err) {
  nlohmann::json m =
      nlohmann::json::parse(llmc_artifact_manifest(artifact), nullptr, false);
  if (m.is_discarded() || !m.contains("target") || decoded <= 0 ||
      !m["target"].value("early_exit", nlohmann::json()).is_string())
    return;
  int32_t n = 0;
  const int64_t *exits = nullptr;
  llmc_early_exit_read(&n, &exits);
  int64_t exited = 0;
  double layers = 0;
  std::string histogram;
  for (int32_t l = 0; l < n; ++l) {
    if (!exits[l])
      continue;
    exited += exits[l];
    layers += double(exits[l]) * (l + 1);
    histogram += (histogram.empty() ? "" : ", ") + std::to_string(l) + ": " +
                 std::to_string(exits[l]);
  }
  layers += double(decoded - exited) * info.n_layers;
  std::fprintf(err,
               "early exit: %lld of %d decode steps exited (after layer %s); "
               "average layers run %.2f of %d\n",
               static_cast<long long>(exited), decoded,
               histogram.empty() ? "-" : histogram.c_str(), layers / decoded,
               info.n_layers);
}

namespace {

struct Objects {
  llmc_session_t *session = nullptr;
  llmc_sampler_t *sampler = nullptr;
  std::FILE *logits = nullptr;
  std::string logitsTmp;
  ~Objects() {
    llmc_sampler_free(sampler);
    llmc_session_free(session);
    if (logits) { // not renamed: an error cut the run short
      std::fclose(logits);
      std::remove(logitsTmp.c_str());
    }
  }
};
} // namespace

llmc_status_t llmc::generate(llmc_artifact_t *artifact,
                             const Tokenizer &tokenizer,
                             const GenerateOptions &o, std::FILE *out,
                             std::FILE *err) {
  if (o.steps < 1)
    return makeStatus(LLMC_INVALID_ARGUMENT, "-n must be at least 1");
  llmc_model_info_t info;
  if (llmc_status_t s = llmc_artifact_info(artifact, &info))
    return s;
  std::vector<int32_t> prompt = tokenizer.encode(o.prompt, true);
  if (prompt.empty())
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "the prompt encodes to no tokens and the tokenizer has "
                      "no BOS");
  Objects rt;
  if (llmc_status_t s =
          llmc_session_create(artifact, o.maxContext, &rt.session))
    return s;
  if (llmc_status_t s = llmc_sampler_create(&o.sampler, &rt.sampler))
    return s;
  if (!o.dumpLogits.empty()) {
    rt.logitsTmp = o.dumpLogits + ".tmp";
    rt.logits = std::fopen(rt.logitsTmp.c_str(), "wb");
    if (!rt.logits)
      return makeStatus(LLMC_IO_ERROR, o.dumpLogits + ": cannot write");
  }
  auto dump = [&](const float *rows, size_t n) {
    if (rt.logits)
      std::fwrite(rows, sizeof(float) * info.vocab_size, n, rt.logits);
  };

  using clock = std::chrono::steady_clock;
  std::fputs(o.prompt.c_str(), out);
  std::fflush(out);
  auto t0 = clock::now();
  const float *logits;
  // Every prompt position's logits only when they are dumped.
  auto prefill = rt.logits ? llmc_session_forward : llmc_session_forward_last;
  if (llmc_status_t s = prefill(rt.session, prompt.data(),
                                static_cast<int32_t>(prompt.size()), &logits))
    return s;
  auto t1 = clock::now();
  // Exit statistics count decode steps (a one-token prompt takes the
  // decode path too, and may exit).
  llmc_early_exit_reset();
  size_t prefillRows = rt.logits ? prompt.size() : 1;
  dump(logits, prefillRows);
  const float *last = logits + (prefillRows - 1) * info.vocab_size;
  int32_t token = prompt.back();
  int decoded = 0;
  for (int generated = 0; generated < o.steps; ++generated) {
    int32_t next;
    if (llmc_status_t s =
            llmc_sampler_sample(rt.sampler, last, info.vocab_size, &next))
      return s;
    // A generated BOS or EOS ends the sequence (llama2.c's convention).
    if (next == info.bos_id || next == info.eos_id)
      break;
    std::string piece = tokenizer.decodeToken(token, next);
    std::fwrite(piece.data(), 1, piece.size(), out);
    std::fflush(out);
    token = next;
    if (generated + 1 == o.steps)
      break;
    if (llmc_status_t s = llmc_session_forward(rt.session, &token, 1, &logits))
      return s;
    ++decoded;
    dump(logits, 1);
    last = logits;
  }
  auto t2 = clock::now();
  std::fputs("\n", out);
  std::fflush(out);
  if (rt.logits) {
    bool failed = std::ferror(rt.logits) != 0;
    failed |= std::fclose(rt.logits) != 0;
    rt.logits = nullptr;
    if (failed || std::rename(rt.logitsTmp.c_str(), o.dumpLogits.c_str())) {
      std::remove(rt.logitsTmp.c_str());
      return makeStatus(LLMC_IO_ERROR, o.dumpLogits + ": write failed");
    }
  }
  if (o.stats) {
    double prefillS = std::chrono::duration<double>(t1 - t0).count();
    double decodeS = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(err, "prefill: %zu tokens in %.3f s (%.1f tok/s)\n",
                 prompt.size(), prefillS, prompt.size() / prefillS);
    if (decoded > 0)
      std::fprintf(err, "decode: %d tokens in %.3f s (%.1f tok/s)\n", decoded,
                   decodeS, decoded / decodeS);
    printExitStats(artifact, info, decoded, err);
    printExpertStats(artifact, err);
  }
  return nullptr;
}

//===----------------------------------------------------------------------===//
// The tokenizer's C API
//===----------------------------------------------------------------------===//

struct llmc_tokenizer_s {
  std::unique_ptr<Tokenizer> tok;
  std::string piece; ///< the last decoded piece
};

extern "C" llmc_status_t llmc_tokenizer_create(const llmc_artifact_t *artifact,
                                               llmc_tokenizer_t **out) {
  if (!artifact || !out)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_tokenizer_create: null argument");
  *out = nullptr;
  std::string error;
  auto tok = artifactTokenizer(artifact, artifact->path, error);
  if (!tok)
    return makeStatus(LLMC_BAD_ARTIFACT, error);
  *out = new llmc_tokenizer_s{std::move(tok), {}};
  return nullptr;
}

extern "C" void llmc_tokenizer_free(llmc_tokenizer_t *tokenizer) {
  delete tokenizer;
}

extern "C" llmc_status_t
llmc_tokenizer_encode(const llmc_tokenizer_t *t, const char *text,
                      size_t length, int add_bos, int32_t *ids,
                      size_t capacity, size_t *count) {
  if (!t || (!text && length) || (!ids && capacity) || !count)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_tokenizer_encode: null argument");
  std::vector<int32_t> v =
      t->tok->encode(std::string_view(text ? text : "", length), add_bos != 0);
  *count = v.size();
  std::copy(v.begin(), v.begin() + std::min(v.size(), capacity), ids);
  if (v.size() > capacity)
    return makeStatus(LLMC_OUT_OF_RANGE,
                      "llmc_tokenizer_encode: the text has " +
                          std::to_string(v.size()) + " tokens, room for " +
                          std::to_string(capacity));
  return nullptr;
}

extern "C" llmc_status_t llmc_tokenizer_decode(llmc_tokenizer_t *t,
                                               int32_t prev, int32_t id,
                                               const char **piece,
                                               size_t *length) {
  if (!t || !piece || !length)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_tokenizer_decode: null argument");
  if (id < 0 || id >= t->tok->vocabSize())
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_tokenizer_decode: token " + std::to_string(id) +
                          " is outside the vocabulary (" +
                          std::to_string(t->tok->vocabSize()) + ")");
  t->piece = t->tok->decodeToken(prev, id);
  *piece = t->piece.data();
  *length = t->piece.size();
  return nullptr;
}
