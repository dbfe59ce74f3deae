//===- CUDADeviceTest.cpp - the CUDA device, with and without a GPU -------===//
//
// The built-in demo compiled with --target cuda (PTX and cubins for sm_80
// and sm_90). Where no GPU is, the host side runs against the fake driver
// (FakeCUDADriver.cpp, via LLMC_CUDA_LIBRARY): a missing driver, a driver
// without devices, a device older than every image, which image each
// architecture loads, and a forward pass whose launches reach the driver.
// Where a GPU is, the demo's logits match the CPU backend's within 1e-3;
// elsewhere that test skips with "no CUDA device".
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"
#include "test/unit/TestEnv.h"
#include "tools/llmc/Compile.h"
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {
using llmc::test::ScopedEnv;
using llmc::test::take;

std::string compileDemo(const char *target) {
  setenv("XDG_CACHE_HOME", LLMC_UNIT_TEST_CACHE, 1);
  llmc::CompileOptions options;
  options.target = target;
  options.cudaArch = "sm_80,sm_90";
  auto path = llmc::compileDemo(options);
  EXPECT_TRUE(static_cast<bool>(path)) << llvm::toString(path.takeError());
  return path ? *path : std::string();
}

/// Loads `path` and runs an `n`-token prompt; the status message ("ok")
/// and, on success, every position's logits and the device line.
std::string runPrompt(const std::string &path, std::vector<float> *logits,
                      std::string *stats, llmc_status_code_t *code = nullptr,
                      int n = 4) {
  llmc_artifact_t *a = nullptr;
  std::string m = take(llmc_artifact_load(path.c_str(), &a), code);
  if (m != "ok")
    return m;
  llmc_session_t *s = nullptr;
  m = take(llmc_session_create(a, 0, &s), code);
  if (m == "ok") {
    llmc_model_info_t info;
    m = take(llmc_artifact_info(a, &info), code);
    std::vector<int32_t> prompt;
    for (int i = 0; i < n; ++i)
      prompt.push_back((1 + 4 * i) % info.vocab_size);
    const float *out = nullptr;
    if (m == "ok")
      m = take(llmc_session_forward(s, prompt.data(), n, &out), code);
    if (m == "ok" && logits)
      logits->assign(out, out + size_t(n) * info.vocab_size);
    char text[1024] = {};
    if (m == "ok" && stats &&
        take(llmc_artifact_device_stats(a, text, sizeof text)) == "ok")
      *stats = text;
    llmc_session_free(s);
  }
  llmc_artifact_free(a);
  return m;
}

class FakeCUDATest : public ::testing::Test {
protected:
  void SetUp() override { path = compileDemo("cuda"); }
  std::string path;
  ScopedEnv lib{"LLMC_CUDA_LIBRARY", LLMC_FAKE_CUDA_LIBRARY};
};

TEST(CUDADriverTest, NoDriver) {
  std::string path = compileDemo("cuda");
  ScopedEnv env("LLMC_CUDA_LIBRARY", "/nonexistent/libcuda.so.1");
  llmc_status_code_t code;
  std::string m = runPrompt(path, nullptr, nullptr, &code);
  EXPECT_EQ(code, LLMC_UNSUPPORTED) << m;
  EXPECT_NE(m.find("no CUDA driver"), std::string::npos) << m;
  EXPECT_NE(m.find(path), std::string::npos) << "names the file: " << m;
  char text[4096];
  ASSERT_EQ(take(llmc_devices_list(text, sizeof text)), "ok");
  EXPECT_NE(std::string(text).find("cuda: no CUDA driver"), std::string::npos)
      << text;
}

TEST_F(FakeCUDATest, NoDevice) {
  ScopedEnv arch("LLMC_FAKE_CUDA_ARCH", "none");
  llmc_status_code_t code;
  std::string m = runPrompt(path, nullptr, nullptr, &code);
  EXPECT_EQ(code, LLMC_UNSUPPORTED) << m;
  EXPECT_NE(m.find("no CUDA device"), std::string::npos) << m;
}

TEST_F(FakeCUDATest, DeviceOlderThanEveryImage) {
  ScopedEnv arch("LLMC_FAKE_CUDA_ARCH", "sm_75");
  llmc_status_code_t code;
  std::string m = runPrompt(path, nullptr, nullptr, &code);
  EXPECT_EQ(code, LLMC_BAD_ARTIFACT) << m;
  EXPECT_NE(m.find("compiled for sm_80, sm_90; CUDA device 'Fake CUDA GPU' "
                   "is sm_75 (recompile with --cuda-arch sm_75)"),
            std::string::npos)
      << m;
}

TEST_F(FakeCUDATest, PicksTheImageForTheArchitecture) {
  // Cubins run on their major version (same or newer minor); any newer
  // major JIT-compiles the newest PTX. (PTX only when ptxas was missing.)
  struct Case {
    const char *arch, *cubin, *ptx;
  } cases[] = {{"sm_80", "cubin sm_80", "ptx sm_80"},
               {"sm_86", "cubin sm_80", "ptx sm_80"},
               {"sm_90", "cubin sm_90", "ptx sm_90"},
               {"sm_100", "ptx sm_90", "ptx sm_90"}};
  for (const Case &c : cases) {
    ScopedEnv arch("LLMC_FAKE_CUDA_ARCH", c.arch);
    std::vector<float> logits;
    std::string stats;
    ASSERT_EQ(runPrompt(path, &logits, &stats), "ok") << c.arch;
    bool cubin = stats.find("cubin") != std::string::npos;
    EXPECT_NE(stats.find(std::string("(") + c.arch + ", " +
                         (cubin ? c.cubin : c.ptx) + ")"),
              std::string::npos)
        << c.arch << ": " << stats;
    // The forward pass reached the driver: modules, launches, logits.
    EXPECT_NE(stats.find("1 forward calls"), std::string::npos) << stats;
    EXPECT_EQ(stats.find(" 0 kernel launches"), std::string::npos) << stats;
    EXPECT_FALSE(logits.empty());
  }
}

TEST_F(FakeCUDATest, DecodeStepsReplayOneGraph) {
  ScopedEnv arch("LLMC_FAKE_CUDA_ARCH", "sm_90");
  auto stepStats = [&](const char *graphsEnv) {
    ScopedEnv g("LLMC_CUDA_GRAPHS", graphsEnv);
    llmc_artifact_t *a = nullptr;
    EXPECT_EQ(take(llmc_artifact_load(path.c_str(), &a)), "ok");
    llmc_session_t *s = nullptr;
    EXPECT_EQ(take(llmc_session_create(a, 0, &s)), "ok");
    std::vector<int32_t> prompt = {1, 5, 9, 13};
    const float *out = nullptr;
    EXPECT_EQ(take(llmc_session_forward(s, prompt.data(), 4, &out)), "ok");
    for (int32_t t = 0; t < 3; ++t)
      EXPECT_EQ(take(llmc_session_forward(s, &t, 1, &out)), "ok");
    char text[1024] = {};
    EXPECT_EQ(take(llmc_artifact_device_stats(a, text, sizeof text)), "ok");
    llmc_session_free(s);
    llmc_artifact_free(a);
    return std::string(text);
  };
  // The prompt and the first decode step instantiate a graph each; the
  // next decode steps update the decode graph in place.
  std::string on = stepStats("1");
  EXPECT_NE(on.find("4 forward calls"), std::string::npos) << on;
  EXPECT_NE(on.find("graphs launched 4, instantiated 2, updated 2"),
            std::string::npos)
      << on;
  std::string off = stepStats("0");
  EXPECT_NE(off.find("graphs off"), std::string::npos) << off;
}

TEST(CUDADeviceTest, MatchesTheCPUBackend) {
  char text[4096];
  ASSERT_EQ(take(llmc_devices_list(text, sizeof text)), "ok");
  if (std::string(text).find("cuda:0") == std::string::npos)
    GTEST_SKIP() << "no CUDA device";
  // 24 tokens: the projections take the tensor-core kernel (>= 16 rows).
  std::vector<float> gpu, cpu;
  std::string stats;
  ASSERT_EQ(runPrompt(compileDemo("cuda"), &gpu, &stats, nullptr, 24), "ok");
  ASSERT_EQ(runPrompt(compileDemo("cpu"), &cpu, nullptr, nullptr, 24), "ok");
  ASSERT_EQ(gpu.size(), cpu.size());
  float worst = 0;
  for (size_t i = 0; i < gpu.size(); ++i)
    worst = std::max(worst, std::fabs(gpu[i] - cpu[i]));
  EXPECT_LT(worst, 1e-3f) << stats;
}
} // namespace
