//===- Sampler.cpp - greedy, temperature, top-k, top-p sampling -----------===//

#include "runtime/src/Internal.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace llmc::runtime;

struct llmc_sampler_s {
  llmc_sampler_params_t params;
  std::mt19937_64 rng;
  std::vector<std::pair<float, int32_t>> scratch;
};

extern "C" llmc_status_t llmc_sampler_create(const llmc_sampler_params_t *p,
                                             llmc_sampler_t **out) {
  if (!p || !out)
    return makeStatus(LLMC_INVALID_ARGUMENT, "llmc_sampler_create: null argument");
  *out = nullptr;
  if (!(p->temperature >= 0) || std::isinf(p->temperature))
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "temperature must be a finite number >= 0");
  if (p->top_k < 0)
    return makeStatus(LLMC_INVALID_ARGUMENT, "top_k must be >= 0");
  if (!(p->top_p > 0 && p->top_p <= 1))
    return makeStatus(LLMC_INVALID_ARGUMENT, "top_p must be in (0, 1]");
  *out = new llmc_sampler_s{*p, std::mt19937_64(p->seed), {}};
  return nullptr;
}

extern "C" void llmc_sampler_free(llmc_sampler_t *s) { delete s; }

extern "C" llmc_status_t llmc_sampler_sample(llmc_sampler_t *s,
                                             const float *logits, int32_t n,
                                             int32_t *token) {
  if (!s || !logits || !token || n <= 0)
    return makeStatus(LLMC_INVALID_ARGUMENT,
                      "llmc_sampler_sample: null argument or empty vocabulary");
  const llmc_sampler_params_t &p = s->params;
  if (p.temperature == 0.0f) {
    // Greedy: the first index of the maximum, as llama2.c's argmax.
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
      if (logits[i] > logits[best])
        best = i;
    *token = best;
    return nullptr;
  }
  auto &c = s->scratch;
  c.resize(n);
  float mx = *std::max_element(logits, logits + n);
  for (int32_t i = 0; i < n; ++i)
    c[i] = {(logits[i] - mx) / p.temperature, i};
  // Most probable first (ties by id, for determinism).
  auto byProb = [](const auto &a, const auto &b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  size_t keep = c.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < keep) {
    keep = p.top_k;
    std::partial_sort(c.begin(), c.begin() + keep, c.end(), byProb);
  } else {
    std::sort(c.begin(), c.end(), byProb);
  }
  double sum = 0;
  for (size_t i = 0; i < keep; ++i) {
    c[i].first = std::exp(c[i].first);
    sum += c[i].first;
  }
  if (p.top_p < 1.0f) {
    // Smallest prefix whose probability reaches top_p.
    double acc = 0;
    size_t cut = keep;
    for (size_t i = 0; i < keep; ++i) {
      acc += c[i].first / sum;
      if (acc >= p.top_p) {
        cut = i + 1;
        break;
      }
    }
    sum = 0;
    for (size_t i = 0; i < cut; ++i)
      sum += c[i].first;
    keep = cut;
  }
  double r = std::uniform_real_distribution<double>(0.0, sum)(s->rng);
  double acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += c[i].first;
    if (r < acc) {
      *token = c[i].second;
      return nullptr;
    }
  }
  *token = c[keep - 1].second;
  return nullptr;
}
