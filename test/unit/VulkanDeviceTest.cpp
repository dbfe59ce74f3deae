//===- VulkanDeviceTest.cpp - the Vulkan device's failure paths -----------===//
//
// The built-in demo compiled with --target vulkan, run where the Vulkan
// loader, a device, a capability or device memory is missing: each must be
// a status with a message that says which, never a crash. The device's
// test hooks (LLMC_VULKAN_LIBRARY, LLMC_VULKAN_DISABLE,
// LLMC_VULKAN_MEMORY_LIMIT) stand in for machines without them; the loader
// with no driver is the real one with an empty driver list.
//
//===----------------------------------------------------------------------===//

#include "llmc/runtime.h"
#include "test/unit/TestEnv.h"
#include "tools/llmc/Compile.h"
#include <cmath>
#include <cstdlib>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace {
using llmc::test::ScopedEnv;
using llmc::test::take;

class VulkanDeviceTest : public ::testing::Test {
protected:
  static std::string compile(const char *preset) {
    setenv("XDG_CACHE_HOME", LLMC_UNIT_TEST_CACHE, 1);
    llmc::CompileOptions options;
    options.target = "vulkan";
    options.vulkanTarget = preset;
    auto path = llmc::compileDemo(options);
    EXPECT_TRUE(static_cast<bool>(path)) << llvm::toString(path.takeError());
    return path ? *path : std::string();
  }

  void SetUp() override {
    char text[4096];
    ASSERT_EQ(take(llmc_devices_list(text, sizeof text)), "ok");
    if (std::string(text).rfind("vulkan:0", 0) != 0)
      GTEST_SKIP() << "no Vulkan device: " << text;
  }

  /// Creating a session of `path` fails with `code` and `needle`.
  void expectSessionError(const std::string &path, llmc_status_code_t code,
                          const std::string &needle) {
    llmc_artifact_t *a = nullptr;
    ASSERT_EQ(take(llmc_artifact_load(path.c_str(), &a)), "ok");
    llmc_session_t *s = nullptr;
    llmc_status_code_t got;
    std::string msg = take(llmc_session_create(a, 0, &s), &got);
    EXPECT_EQ(s, nullptr);
    EXPECT_EQ(got, code) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    EXPECT_NE(msg.find(path), std::string::npos) << "names the file: " << msg;
    llmc_artifact_free(a);
  }
};

TEST_F(VulkanDeviceTest, RunsTheDemo) {
  std::string path = compile("baseline");
  llmc_artifact_t *a = nullptr;
  ASSERT_EQ(take(llmc_artifact_load(path.c_str(), &a)), "ok");
  llmc_session_t *s = nullptr;
  ASSERT_EQ(take(llmc_session_create(a, 0, &s)), "ok");
  std::vector<int32_t> prompt = {1, 5, 9, 13};
  const float *logits = nullptr;
  ASSERT_EQ(take(llmc_session_forward(s, prompt.data(), 4, &logits)), "ok");
  llmc_model_info_t info;
  ASSERT_EQ(take(llmc_artifact_info(a, &info)), "ok");
  for (int i = 0; i < 4 * info.vocab_size; ++i)
    ASSERT_TRUE(std::isfinite(logits[i])) << i;
  char stats[1024];
  ASSERT_EQ(take(llmc_artifact_device_stats(a, stats, sizeof stats)), "ok");
  EXPECT_NE(std::string(stats).find("dispatches"), std::string::npos) << stats;
  llmc_session_free(s);
  llmc_artifact_free(a);
}

TEST_F(VulkanDeviceTest, NoLoader) {
  std::string path = compile("baseline");
  ScopedEnv env("LLMC_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1");
  expectSessionError(path, LLMC_UNSUPPORTED, "no Vulkan loader");
}

TEST_F(VulkanDeviceTest, NoDevice) {
  std::string path = compile("baseline");
  // The real loader, told of no driver.
  ScopedEnv icd("VK_ICD_FILENAMES", "/nonexistent/icd.json");
  ScopedEnv drivers("VK_DRIVER_FILES", "/nonexistent/icd.json");
  expectSessionError(path, LLMC_UNSUPPORTED, "no Vulkan");
}

TEST_F(VulkanDeviceTest, MissingCapability) {
  std::string path = compile("full");
  ScopedEnv env("LLMC_VULKAN_DISABLE", "Float16");
  expectSessionError(path, LLMC_UNSUPPORTED,
                     "lacks SPIR-V capabilities the kernels use: Float16");
}

TEST_F(VulkanDeviceTest, OutOfDeviceMemory) {
  std::string path = compile("baseline");
  {
    // Not even the weights fit.
    ScopedEnv env("LLMC_VULKAN_MEMORY_LIMIT", "4096");
    expectSessionError(path, LLMC_OUT_OF_RANGE, "out of device memory");
  }
  // The weights fit, the KV cache and temporaries of a forward do not: the
  // forward call fails, the session and artifact stay usable and freeable.
  llmc_artifact_t *a = nullptr;
  ASSERT_EQ(take(llmc_artifact_load(path.c_str(), &a)), "ok");
  const void *data;
  size_t weightBytes;
  ASSERT_EQ(take(llmc_artifact_section(a, "weights", &data, &weightBytes)), "ok");
  std::string limit = std::to_string(weightBytes + 1024);
  ScopedEnv env("LLMC_VULKAN_MEMORY_LIMIT", limit.c_str());
  llmc_session_t *s = nullptr;
  ASSERT_EQ(take(llmc_session_create(a, 0, &s)), "ok");
  int32_t tok = 1;
  const float *logits = nullptr;
  llmc_status_code_t code;
  std::string msg = take(llmc_session_forward(s, &tok, 1, &logits), &code);
  EXPECT_EQ(code, LLMC_OUT_OF_RANGE) << msg;
  EXPECT_NE(msg.find("out of device memory"), std::string::npos) << msg;
  llmc_session_free(s);
  llmc_artifact_free(a);
}
} // namespace
