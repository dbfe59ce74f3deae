//===- HostBench.cpp - measured roofline of the current CPU ---------------===//

#include "HostBench.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <immintrin.h>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

using namespace llvm;

namespace {
using Clock = std::chrono::steady_clock;

/// Bumped when the measurement changes, so older cached results are redone.
constexpr int64_t kMethod = 3;

unsigned threads() { return std::max(1u, std::thread::hardware_concurrency()); }

/// Runs `fn(t)` on every core and returns the wall time in seconds.
template <typename Fn> double onAllCores(Fn fn) {
  std::vector<std::thread> pool;
  auto start = Clock::now();
  for (unsigned t = 0; t < threads(); ++t)
    pool.emplace_back(fn, t);
  for (std::thread &th : pool)
    th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

typedef float v8f __attribute__((vector_size(32)));

/// Sums `n` floats with four independent 8-lane accumulators (AVX loads).
__attribute__((target("avx2"))) float sumAvx2(const float *p, size_t n) {
  v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
  for (size_t i = 0; i + 32 <= n; i += 32) {
    a0 += *reinterpret_cast<const v8f *>(p + i);
    a1 += *reinterpret_cast<const v8f *>(p + i + 8);
    a2 += *reinterpret_cast<const v8f *>(p + i + 16);
    a3 += *reinterpret_cast<const v8f *>(p + i + 24);
  }
  v8f a = (a0 + a1) + (a2 + a3);
  float s = 0;
  for (int k = 0; k < 8; ++k)
    s += a[k];
  return s;
}

float sumGeneric(const float *p, size_t n) {
  float acc[16] = {0};
  for (size_t i = 0; i + 16 <= n; i += 16)
    for (int k = 0; k < 16; ++k)
      acc[k] += p[i + k];
  float s = 0;
  for (float a : acc)
    s += a;
  return s;
}

/// Read bandwidth: every core streams its own 64-byte aligned slice (first
/// touched by that core) of 1 GiB, far larger than the caches, with vector
/// loads; best of several passes.
double measureBandwidth() {
  const size_t bytes = size_t(1) << 30;
  unsigned nt = threads();
  size_t n = bytes / sizeof(float) / nt / 32 * 32;
  std::vector<float *> slices(nt, nullptr);
  onAllCores([&](unsigned t) {
    slices[t] = static_cast<float *>(std::aligned_alloc(64, n * sizeof(float)));
    if (slices[t])
      std::fill(slices[t], slices[t] + n, 1.0f);
  });
  bool ok = std::all_of(slices.begin(), slices.end(),
                        [](float *p) { return p != nullptr; });
  bool avx2 = __builtin_cpu_supports("avx2");
  std::vector<double> sink(nt);
  double best = 0;
  for (int pass = 0; ok && pass < 6; ++pass) {
    double secs = onAllCores([&](unsigned t) {
      sink[t] = avx2 ? sumAvx2(slices[t], n) : sumGeneric(slices[t], n);
    });
    best = std::max(best, double(n * sizeof(float) * nt) / secs);
  }
  for (float *p : slices)
    std::free(p);
  volatile double keep = sink[0];
  (void)keep;
  return best;
}


/// Independent FMA chains, enough to cover the FMA latency.
__attribute__((target("avx2,fma"))) double fmaKernelAvx2(long iters) {
  v8f a[10], x = {1, 1, 1, 1, 1, 1, 1, 1}, y = x * 0.999999f;
  for (int k = 0; k < 10; ++k)
    a[k] = x * (float)k;
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < 10; ++k)
      a[k] = __builtin_ia32_vfmaddps256(a[k], y, x);
  float s = 0;
  for (int k = 0; k < 10; ++k)
    for (int j = 0; j < 8; ++j)
      s += a[k][j];
  return s;
}

double fmaKernelGeneric(long iters) {
  float a[32] = {0};
  for (long i = 0; i < iters; ++i)
    for (int k = 0; k < 32; ++k)
      a[k] = a[k] * 0.999999f + 1.0f;
  float s = 0;
  for (float v : a)
    s += v;
  return s;
}

/// f32 peak: FLOP/s of FMA chains on every core (an FMA counts 2).
double measureF32Peak() {
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const long iters = 20'000'000;
  std::vector<double> sink(threads());
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    double secs = onAllCores([&](unsigned t) {
      sink[t] = avx2 ? fmaKernelAvx2(iters) : fmaKernelGeneric(iters);
    });
    double flops = double(iters) * threads() * (avx2 ? 10 * 8 * 2 : 32 * 2);
    best = std::max(best, flops / secs);
  }
  volatile double keep = sink[0];
  (void)keep;
  return best;
}

typedef long long v4i __attribute__((vector_size(32)));

/// int8 dot products as AVX2 does them (vpmaddubsw u8 x s8 -> s16 pairs,
/// vpmaddwd -> s32, vpaddd), 8 independent chains; 32 multiply-adds per
/// chain step.
__attribute__((target("avx2"))) long long int8KernelAvx2(long iters) {
  __m256i acc[8], a[8], b = _mm256_set1_epi8(-2),
                        ones = _mm256_set1_epi16(1);
  for (int k = 0; k < 8; ++k) {
    acc[k] = _mm256_setzero_si256();
    a[k] = _mm256_set1_epi8(static_cast<char>(k + 1));
  }
  for (long i = 0; i < iters; ++i) {
    // Distinct inputs per chain, opaque to the optimizer, so that every
    // product is computed in every iteration.
    for (int k = 0; k < 8; ++k)
      asm volatile("" : "+x"(a[k]));
    for (int k = 0; k < 8; ++k)
      acc[k] = _mm256_add_epi32(
          acc[k], _mm256_madd_epi16(_mm256_maddubs_epi16(a[k], b), ones));
  }
  long long s = 0;
  for (int k = 0; k < 8; ++k)
    s += _mm256_extract_epi32(acc[k], 0);
  return s;
}

/// int8 peak: multiply-adds of int8 dot products on every core (2 ops each).
double measureInt8Peak() {
  if (!__builtin_cpu_supports("avx2"))
    return 0;
  const long iters = 20'000'000;
  std::vector<long long> sink(threads());
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    double secs = onAllCores([&](unsigned t) { sink[t] = int8KernelAvx2(iters); });
    best = std::max(best, double(iters) * threads() * 8 * 32 * 2 / secs);
  }
  volatile long long keep = sink[0];
  (void)keep;
  return best;
}

std::string cpuName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (StringRef(line).starts_with("model name"))
      return StringRef(line).split(':').second.trim().str();
  return "unknown CPU";
}
} // namespace

Expected<std::string> llmc::hostHardwareFile(bool remeasure) {
  SmallString<256> dir;
  if (std::optional<std::string> xdg = sys::Process::GetEnv("XDG_CACHE_HOME"))
    dir = *xdg;
  else if (!sys::path::cache_directory(dir))
    dir = sys::path::parent_path(sys::fs::getMainExecutable(nullptr, nullptr));
  sys::path::append(dir, "llmc");
  std::string cpu = cpuName();
  std::string key = formatv("{0} x{1}", cpu, threads()).str();
  SmallString<256> path(dir);
  sys::path::append(path, "host-hardware.json");
  if (!remeasure)
    if (auto buf = MemoryBuffer::getFile(path))
      if (auto json = json::parse((*buf)->getBuffer()))
        if (const json::Object *host = json->getAsObject()->getObject("host"))
          if (host->getString("cpu") == StringRef(key) &&
              host->getInteger("method") == kMethod)
            return std::string(path);
  if (std::error_code ec = sys::fs::create_directories(dir))
    return createStringError(ec, "%s: cannot create: %s", dir.c_str(),
                             ec.message().c_str());
  errs() << "llmc: measuring this machine (" << key
         << "): memory bandwidth...";
  errs().flush();
  double bw = measureBandwidth();
  errs() << formatv(" {0:f1} GB/s; f32 peak...", bw / 1e9);
  errs().flush();
  double peak = measureF32Peak();
  errs() << formatv(" {0:f1} GFLOP/s; int8 peak...", peak / 1e9);
  errs().flush();
  double int8 = measureInt8Peak();
  errs() << formatv(" {0:f1} GOP/s (cached in {1})\n", int8 / 1e9, path);
  json::Object host{
      {"peak", int8 > 0 ? json::Object{{"f32", peak}, {"int8", int8}}
                        : json::Object{{"f32", peak}}},
      {"bandwidth", bw},
      {"cpu", key},
      {"method", kMethod},
      {"source", "measured by llmc: all-core sequential vector read of 1 GiB, "
                 "each core its own first-touched slice (best of 6); "
                 "independent f32 FMA chains; AVX2 int8 dot-product chains "
                 "(vpmaddubsw/vpmaddwd)"}};
  std::string text =
      formatv("{0:2}", json::Value(json::Object{{"host", std::move(host)}}));
  if (Error e = writeToOutput(path, [&](raw_ostream &os) {
        os << text << "\n";
        return Error::success();
      }))
    return std::move(e);
  return std::string(path);
}
