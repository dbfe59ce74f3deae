//===- RuntimeTest.cpp - the runtime C API on good and bad artifacts ------===//
//
// Uses the built-in demo model (compiled once into a temporary cache) and
// damaged copies of it: every failure must be a status with a clear
// message, never a crash.
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"
#include "tools/llmc/Compile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <string>

namespace {
std::string demoPath;
std::string tempDir;

/// Status message (and frees it); "ok" for success.
std::string take(llmc_status_t s, llmc_status_code_t *code = nullptr) {
  if (code)
    *code = llmc_status_code(s);
  std::string m = llmc_status_message(s);
  llmc_status_free(s);
  return m;
}

std::string readAll(const std::string &path) {
  auto b = llvm::MemoryBuffer::getFile(path);
  return b ? (*b)->getBuffer().str() : std::string();
}

std::string writeTemp(const std::string &name, const std::string &bytes) {
  std::string path = tempDir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

/// The artifact with its manifest text transformed by `edit`.
std::string withManifest(const std::string &bytes,
                         std::string (*edit)(std::string)) {
  uint64_t off, size;
  memcpy(&off, bytes.data() + 16, 8);
  memcpy(&size, bytes.data() + 24, 8);
  std::string m = edit(bytes.substr(off, size));
  std::string out = bytes.substr(0, off) + m;
  uint64_t newSize = m.size();
  memcpy(&out[24], &newSize, 8);
  return out;
}

class RuntimeTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    llvm::SmallString<128> dir;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-runtime-test", dir));
    tempDir = std::string(dir);
    // The demo is compiled once per build, not once per test process.
    setenv("XDG_CACHE_HOME", LLMC_UNIT_TEST_CACHE, 1);
    llmc::CompileOptions options;
    auto path = llmc::compileDemo(options);
    ASSERT_TRUE(static_cast<bool>(path)) << llvm::toString(path.takeError());
    demoPath = *path;
  }
  static void TearDownTestSuite() { llvm::sys::fs::remove_directories(tempDir); }

  /// Loading `bytes` fails with `code` and a message containing `needle`.
  void expectLoadError(const std::string &bytes, llmc_status_code_t code,
                       const std::string &needle) {
    std::string path = writeTemp("bad.llmc", bytes);
    llmc_artifact_t *a = nullptr;
    llmc_status_code_t got;
    std::string msg = take(llmc_artifact_load(path.c_str(), &a), &got);
    EXPECT_EQ(a, nullptr);
    EXPECT_EQ(got, code) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << "message names the file: " << msg;
  }
};

TEST_F(RuntimeTest, LoadsRunsAndSamples) {
  llmc_artifact_t *a = nullptr;
  ASSERT_EQ(take(llmc_artifact_load(demoPath.c_str(), &a)), "ok");
  llmc_model_info_t info;
  ASSERT_EQ(take(llmc_artifact_info(a, &info)), "ok");
  EXPECT_EQ(info.dim, 128);
  EXPECT_EQ(info.n_layers, 4);
  EXPECT_EQ(info.max_seq_len, 256);
  EXPECT_EQ(info.bos_id, 1);
  const void *data;
  size_t size;
  EXPECT_EQ(take(llmc_artifact_section(a, "tokenizer", &data, &size)), "ok");
  EXPECT_GT(size, 0u);
  EXPECT_NE(take(llmc_artifact_section(a, "nope", &data, &size)), "ok");

  llmc_session_t *s = nullptr;
  ASSERT_EQ(take(llmc_session_create(a, 0, &s)), "ok");
  int32_t tokens[3] = {1, 50, 60};
  const float *logits = nullptr;
  ASSERT_EQ(take(llmc_session_forward(s, tokens, 3, &logits)), "ok");
  EXPECT_EQ(llmc_session_position(s), 3);
  for (int i = 0; i < 3 * info.vocab_size; ++i)
    ASSERT_TRUE(std::isfinite(logits[i])) << i;
  std::vector<float> last(logits + 2 * info.vocab_size,
                          logits + 3 * info.vocab_size);

  // Greedy picks the first maximum; top-k 1 at any temperature agrees.
  llmc_sampler_params_t greedy{0.0f, 0, 1.0f, 0};
  llmc_sampler_t *g = nullptr;
  ASSERT_EQ(take(llmc_sampler_create(&greedy, &g)), "ok");
  int32_t t0, t1;
  ASSERT_EQ(take(llmc_sampler_sample(g, last.data(), info.vocab_size, &t0)), "ok");
  EXPECT_EQ(t0, std::max_element(last.begin(), last.end()) - last.begin());
  llmc_sampler_params_t top1{1.5f, 1, 1.0f, 9};
  llmc_sampler_t *k1 = nullptr;
  ASSERT_EQ(take(llmc_sampler_create(&top1, &k1)), "ok");
  ASSERT_EQ(take(llmc_sampler_sample(k1, last.data(), info.vocab_size, &t1)), "ok");
  EXPECT_EQ(t0, t1);

  // Same seed, same draws.
  llmc_sampler_params_t hot{1.0f, 0, 0.9f, 42};
  llmc_sampler_t *h1 = nullptr, *h2 = nullptr;
  ASSERT_EQ(take(llmc_sampler_create(&hot, &h1)), "ok");
  ASSERT_EQ(take(llmc_sampler_create(&hot, &h2)), "ok");
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(take(llmc_sampler_sample(h1, last.data(), info.vocab_size, &t0)), "ok");
    ASSERT_EQ(take(llmc_sampler_sample(h2, last.data(), info.vocab_size, &t1)), "ok");
    EXPECT_EQ(t0, t1);
    EXPECT_GE(t0, 0);
    EXPECT_LT(t0, info.vocab_size);
  }

  // The last-row variant computes the same last row.
  llmc_session_t *s2 = nullptr;
  ASSERT_EQ(take(llmc_session_create(a, 0, &s2)), "ok");
  const float *lastOnly = nullptr;
  ASSERT_EQ(take(llmc_session_forward_last(s2, tokens, 3, &lastOnly)), "ok");
  EXPECT_EQ(llmc_session_position(s2), 3);
  for (int i = 0; i < info.vocab_size; ++i)
    EXPECT_NEAR(lastOnly[i], last[i], 1e-5f * (1.0f + std::fabs(last[i]))) << i;
  llmc_session_free(s2);

  // Reset starts again at position 0 and reproduces the logits.
  llmc_session_reset(s);
  EXPECT_EQ(llmc_session_position(s), 0);
  ASSERT_EQ(take(llmc_session_forward(s, tokens, 3, &logits)), "ok");
  EXPECT_EQ(0, memcmp(last.data(), logits + 2 * info.vocab_size,
                      last.size() * sizeof(float)));

  // Rewinding to position 1 and running the last two tokens again
  // reproduces the last row; rewinding past the end is refused.
  ASSERT_EQ(take(llmc_session_rewind(s, 1)), "ok");
  EXPECT_EQ(llmc_session_position(s), 1);
  ASSERT_EQ(take(llmc_session_forward(s, tokens + 1, 2, &logits)), "ok");
  for (int i = 0; i < info.vocab_size; ++i)
    EXPECT_NEAR(logits[info.vocab_size + i], last[i],
                1e-5f * (1.0f + std::fabs(last[i]))) << i;
  llmc_status_code_t code;
  std::string msg = take(llmc_session_rewind(s, 4), &code);
  EXPECT_EQ(code, LLMC_OUT_OF_RANGE);
  EXPECT_NE(msg.find("holds positions [0, 3)"), std::string::npos) << msg;

  llmc_sampler_free(g);
  llmc_sampler_free(k1);
  llmc_sampler_free(h1);
  llmc_sampler_free(h2);
  llmc_session_free(s);
  llmc_artifact_free(a);
}

// The weights read through the file mapping or from their copy in huge
// pages give the same logits; switching back and forth works, and a bad
// placement or artifact is an error.
TEST_F(RuntimeTest, WeightMemoryPlacementsAgree) {
  llmc_artifact_t *a = nullptr;
  ASSERT_EQ(take(llmc_artifact_load(demoPath.c_str(), &a)), "ok");
  llmc_model_info_t info;
  ASSERT_EQ(take(llmc_artifact_info(a, &info)), "ok");
  int32_t tokens[4] = {1, 50, 60, 70};
  auto run = [&] {
    llmc_session_t *s = nullptr;
    EXPECT_EQ(take(llmc_session_create(a, 0, &s)), "ok");
    const float *logits = nullptr;
    EXPECT_EQ(take(llmc_session_forward(s, tokens, 4, &logits)), "ok");
    std::vector<float> out(logits, logits + 4 * info.vocab_size);
    llmc_session_free(s);
    return out;
  };
  ASSERT_EQ(take(llmc_artifact_set_weight_memory(a, LLMC_WEIGHTS_MAPPED)), "ok");
  EXPECT_EQ(llmc_artifact_weight_memory(a), LLMC_WEIGHTS_MAPPED);
  std::vector<float> mapped = run();
  ASSERT_EQ(take(llmc_artifact_set_weight_memory(a, LLMC_WEIGHTS_HUGE_PAGES)), "ok");
  EXPECT_EQ(llmc_artifact_weight_memory(a), LLMC_WEIGHTS_HUGE_PAGES);
  EXPECT_EQ(run(), mapped);
  ASSERT_EQ(take(llmc_artifact_set_weight_memory(a, LLMC_WEIGHTS_MAPPED)), "ok");
  EXPECT_EQ(run(), mapped);
  llmc_status_code_t code;
  take(llmc_artifact_set_weight_memory(a, static_cast<llmc_weight_memory_t>(7)),
       &code);
  EXPECT_EQ(code, LLMC_INVALID_ARGUMENT);
  take(llmc_artifact_set_weight_memory(nullptr, LLMC_WEIGHTS_MAPPED), &code);
  EXPECT_EQ(code, LLMC_INVALID_ARGUMENT);
  llmc_artifact_free(a);
}

TEST_F(RuntimeTest, ContextOverflowAndBadTokens) {
  llmc_artifact_t *a = nullptr;
  ASSERT_EQ(take(llmc_artifact_load(demoPath.c_str(), &a)), "ok");
  llmc_session_t *s = nullptr;
  llmc_status_code_t code;
  std::string msg = take(llmc_session_create(a, 100000, &s), &code);
  EXPECT_EQ(code, LLMC_OUT_OF_RANGE);
  EXPECT_NE(msg.find("exceeds the 256 positions"), std::string::npos) << msg;
  ASSERT_EQ(take(llmc_session_create(a, 4, &s)), "ok");
  int32_t tokens[3] = {1, 2, 3};
  const float *logits;
  ASSERT_EQ(take(llmc_session_forward(s, tokens, 3, &logits)), "ok");
  msg = take(llmc_session_forward(s, tokens, 2, &logits), &code);
  EXPECT_EQ(code, LLMC_OUT_OF_RANGE);
  EXPECT_NE(msg.find("context overflow"), std::string::npos) << msg;
  EXPECT_EQ(llmc_session_position(s), 3) << "a failed call has no effect";
  int32_t bad = 1 << 20;
  msg = take(llmc_session_forward(s, &bad, 1, &logits), &code);
  EXPECT_EQ(code, LLMC_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("outside the vocabulary"), std::string::npos) << msg;
  msg = take(llmc_session_forward(s, tokens, 0, &logits), &code);
  EXPECT_EQ(code, LLMC_INVALID_ARGUMENT);
  llmc_session_free(s);
  llmc_artifact_free(a);
}

TEST_F(RuntimeTest, BadArtifacts) {
  std::string good = readAll(demoPath);
  ASSERT_GT(good.size(), 1000u);
  expectLoadError(good.substr(0, good.size() / 2), LLMC_BAD_ARTIFACT,
                  "truncated");
  expectLoadError(good.substr(0, 10), LLMC_BAD_ARTIFACT,
                  "shorter than the 64-byte header");
  std::string magic = good;
  magic[0] = 'X';
  expectLoadError(magic, LLMC_BAD_ARTIFACT, "bad magic");
  std::string version = good;
  uint32_t v = 99;
  memcpy(&version[8], &v, 4);
  expectLoadError(version, LLMC_UNSUPPORTED, "format version 99");
  expectLoadError(withManifest(good, [](std::string m) {
                    return m.substr(0, m.size() / 2);
                  }),
                  LLMC_BAD_ARTIFACT, "malformed manifest");
  expectLoadError(withManifest(good, [](std::string m) {
                    size_t at = m.find("\"features\":[");
                    return m.substr(0, at) + "\"features\":[\"avx512fake\"," +
                           m.substr(at + 12);
                  }),
                  LLMC_UNSUPPORTED, "CPU features this CPU lacks: avx512fake");
  expectLoadError(withManifest(good, [](std::string m) {
                    size_t at = m.find("\"kind\":\"cpu\"");
                    return m.substr(0, at) + "\"kind\":\"tpu\"" + m.substr(at + 12);
                  }),
                  LLMC_UNSUPPORTED, "target 'tpu'");
  // A section pointing past the end of the file.
  expectLoadError(withManifest(good, [](std::string m) {
                    size_t at = m.find("\"size\":") + 7;
                    size_t end = m.find_first_not_of("0123456789", at);
                    return m.substr(0, at) + "999999999999" + m.substr(end);
                  }),
                  LLMC_BAD_ARTIFACT, "past the end of the file");

  llmc_artifact_t *a = nullptr;
  llmc_status_code_t code;
  std::string msg = take(llmc_artifact_load("/nonexistent/x.llmc", &a), &code);
  EXPECT_EQ(code, LLMC_IO_ERROR);
  EXPECT_NE(msg.find("/nonexistent/x.llmc: cannot open"), std::string::npos);
  EXPECT_EQ(llmc_status_code(llmc_artifact_load(nullptr, &a)) , LLMC_INVALID_ARGUMENT);
}

TEST_F(RuntimeTest, SamplerRejectsBadParameters) {
  llmc_sampler_t *s = nullptr;
  llmc_sampler_params_t p{-1.0f, 0, 1.0f, 0};
  EXPECT_EQ(llmc_status_code(llmc_sampler_create(&p, &s)), LLMC_INVALID_ARGUMENT);
  p = {1.0f, -3, 1.0f, 0};
  EXPECT_EQ(llmc_status_code(llmc_sampler_create(&p, &s)), LLMC_INVALID_ARGUMENT);
  p = {1.0f, 0, 0.0f, 0};
  EXPECT_EQ(llmc_status_code(llmc_sampler_create(&p, &s)), LLMC_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
}
} // namespace
