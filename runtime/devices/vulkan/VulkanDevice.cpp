//===- VulkanDevice.cpp - runs an artifact's SPIR-V kernels on Vulkan -----===//
//
// A `--target vulkan` artifact carries host code (a shared library, as on
// the CPU) whose every buffer access is a SPIR-V kernel launch through the
// mgpu* functions (devices/gpu/GPUHost.h). This device implements them:
//
// - libvulkan is dlopened (the runtime loads without it and reports "no
//   Vulkan loader"); the first compute-capable device is used (discrete
//   first; LLMC_VULKAN_DEVICE=<index> picks one); its features are checked
//   against the SPIR-V capabilities the artifact was compiled for.
// - Device memory has no host address: every buffer gets a range of a fake
//   address space, so host code can do its pointer arithmetic (views,
//   slices) and a kernel argument's pointer maps back to (buffer, byte
//   offset). Weights are uploaded once; each session's KV cache stays on
//   the device; temporaries come from a pool of freed buffers by size.
// - Launches are recorded (kernel, bindings, workgroup counts; scalars go
//   to a host-visible argument arena) and submitted as one command buffer
//   when forward returns. A recorded command buffer is kept per distinct
//   dispatch sequence ("shape") and replayed when the sequence recurs, with
//   only the argument arena rewritten.
//
// Reading kernel modules and recording command buffers: VulkanKernels.cpp;
// buffers and their fake addresses: VulkanMemory.cpp.
//
// Test hooks: LLMC_VULKAN_LIBRARY (loader path), LLMC_VULKAN_MEMORY_LIMIT
// (bytes of device memory to allow), LLMC_VULKAN_DISABLE (capabilities to
// treat as missing, comma-separated); LLMC_VULKAN_TRACE prints every
// dispatch.
//
//===----------------------------------------------------------------------===//

#include "runtime/devices/gpu/GPUHost.h"
#include "runtime/src/Internal.h"

#if __has_include(<vulkan/vulkan.h>)
#define LLMC_HAVE_VULKAN 1
#include "runtime/devices/vulkan/VulkanKernels.h"
#include "runtime/devices/vulkan/VulkanMemory.h"
#endif

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <unordered_map>
#include <sstream>

using namespace llmc::runtime;

#ifndef LLMC_HAVE_VULKAN
llmc_status_t llmc::runtime::createVulkanDevice(llmc_artifact_s &a,
                                                std::unique_ptr<Device> &) {
  return makeStatus(LLMC_UNSUPPORTED,
                    a.path + ": this runtime was built without Vulkan support");
}
#else

using namespace llmc::runtime::vulkan;

namespace {
struct SessionBuffers {
  Buffer *kv = nullptr, *tokens = nullptr, *logits = nullptr;
};

/// A buffer's device address, as the host code sees it.
const void *addr(const Buffer *b) {
  return reinterpret_cast<const void *>(b->address);
}

constexpr size_t kMaxRecordings = 16;

class VulkanDevice : public Device, public gpu::Backend, DeviceFns {
public:
  ~VulkanDevice() override {
    if (!device)
      return;
    vkDeviceWaitIdle(device);
    for (auto &r : recordings)
      freeRecording(r);
    space.destroyAll();
    for (auto &m : modules) {
      for (auto &k : m->kernels) {
        if (k->pipeline) vkDestroyPipeline(device, k->pipeline, nullptr);
        if (k->layout) vkDestroyPipelineLayout(device, k->layout, nullptr);
        if (k->setLayout)
          vkDestroyDescriptorSetLayout(device, k->setLayout, nullptr);
      }
      if (m->shader) vkDestroyShaderModule(device, m->shader, nullptr);
    }
    if (fence) vkDestroyFence(device, fence, nullptr);
    if (commandPool) vkDestroyCommandPool(device, commandPool, nullptr);
    vkDestroyDevice(device, nullptr);
  }

  llmc_status_t open(llmc_artifact_s &a) {
    artifact = &a;
    std::string why = vk.open();
    if (!why.empty())
      return makeStatus(LLMC_UNSUPPORTED, a.path + ": " + why);
    std::vector<VkPhysicalDevice> all = vk.devices();
    if (all.empty())
      return makeStatus(LLMC_UNSUPPORTED,
                        a.path + ": no Vulkan device (the loader found "
                                 "none; install a driver, e.g. "
                                 "mesa-vulkan-drivers for lavapipe)");
    int pick = -1;
    if (const char *env = std::getenv("LLMC_VULKAN_DEVICE")) {
      pick = std::atoi(env);
      if (pick < 0 || pick >= static_cast<int>(all.size()))
        return makeStatus(LLMC_INVALID_ARGUMENT,
                          "LLMC_VULKAN_DEVICE=" + std::string(env) +
                              ": the loader sees " + std::to_string(all.size()) +
                              " device(s)");
    } else {
      int best = -1;
      for (size_t i = 0; i < all.size(); ++i) {
        VkPhysicalDeviceProperties p;
        vk.vkGetPhysicalDeviceProperties(all[i], &p);
        int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 3
                   : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 2
                   : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU            ? 0
                                                                            : 1;
        if (rank > best)
          best = rank, pick = static_cast<int>(i);
      }
    }
    physical = all[pick];
    vk.vkGetPhysicalDeviceProperties(physical, &props);
    name = props.deviceName;
    if (props.apiVersion < VK_API_VERSION_1_1)
      return makeStatus(LLMC_UNSUPPORTED,
                        a.path + ": Vulkan device '" + name +
                            "' supports only Vulkan 1.0 (1.1 is needed)");
    features.query(vk, physical);

    // The capabilities the kernels were compiled for.
    nlohmann::json manifest = nlohmann::json::parse(a.manifest);
    const nlohmann::json &t = manifest.at("target");
    std::string missing;
    if (t.contains("vulkan"))
      for (const auto &c : t["vulkan"].value("capabilities", nlohmann::json::array())) {
        std::string cap = c.get<std::string>();
        if (!features.has(cap) || disabledByEnv(cap))
          missing += (missing.empty() ? "" : ", ") + cap;
      }
    if (!missing.empty())
      return makeStatus(LLMC_UNSUPPORTED,
                        a.path + ": Vulkan device '" + name +
                            "' lacks SPIR-V capabilities the kernels use: " +
                            missing +
                            " (recompile with --vulkan-target baseline)");

    uint32_t nq = 0;
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qf(nq);
    vk.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, qf.data());
    queueFamily = UINT32_MAX;
    for (uint32_t i = 0; i < nq; ++i)
      if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        queueFamily = i;
        break;
      }
    if (queueFamily == UINT32_MAX)
      return makeStatus(LLMC_UNSUPPORTED, a.path + ": Vulkan device '" + name +
                                              "' has no compute queue");
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = queueFamily;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;
    // Enable what the device has (the kernels use only what was checked).
    Features enable = features;
    enable.base.pNext = &enable.v11;
    enable.v11.pNext = &enable.v12;
    enable.v12.pNext = nullptr;
    if (props.apiVersion < VK_API_VERSION_1_2)
      enable.v11.pNext = nullptr;
    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &enable.base;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    if (vk.vkCreateDevice(physical, &dci, nullptr, &device) != VK_SUCCESS) {
      device = VK_NULL_HANDLE;
      return makeStatus(LLMC_UNSUPPORTED,
                        a.path + ": cannot create Vulkan device '" + name + "'");
    }
#define X(f) f = reinterpret_cast<PFN_##f>(vk.vkGetDeviceProcAddr(device, #f));
    LLMC_VK_DEVICE_FNS(X)
#undef X
    vkGetDeviceQueue(device, queueFamily, 0, &queue);
    VkPhysicalDeviceMemoryProperties memory;
    vk.vkGetPhysicalDeviceMemoryProperties(physical, &memory);
    trace = std::getenv("LLMC_VULKAN_TRACE") != nullptr;
    const char *limit = std::getenv("LLMC_VULKAN_MEMORY_LIMIT");
    space.open(*this, device, memory, name,
               limit ? std::strtoull(limit, nullptr, 10) : 0);
    VkCommandPoolCreateInfo cpi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    cpi.queueFamilyIndex = queueFamily;
    VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (vkCreateCommandPool(device, &cpi, nullptr, &commandPool) != VK_SUCCESS ||
        vkCreateFence(device, &fci, nullptr, &fence) != VK_SUCCESS)
      return makeStatus(LLMC_INTERNAL, a.path + ": cannot create a Vulkan "
                                                "command pool / fence");
    scalarAlign = std::max<VkDeviceSize>(
        4, props.limits.minStorageBufferOffsetAlignment);

    // The host code: its constructors load the kernel modules.
    void *sym = nullptr;
    {
      gpu::ScopedBackend scope(this);
      if (llmc_status_t s = code.load(a, sym))
        return s;
    }
    entry = reinterpret_cast<EntryFn>(sym);
    if (!error.empty())
      return makeStatus(LLMC_BAD_ARTIFACT, a.path + ": " + error);

    // Weights, uploaded once.
    weights = createBuffer(std::max<uint64_t>(a.weights.size, 4), false);
    if (!weights || !upload(weights, a.weights.data, a.weights.size))
      return takeError(LLMC_OUT_OF_RANGE);
    return nullptr;
  }

  bool hostKV() const override { return false; }

  void releaseSession(llmc_session_s &s) override {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = sessions.find(&s);
    if (it == sessions.end())
      return;
    vkDeviceWaitIdle(device);
    // Recordings may bind the session's buffers.
    for (auto &r : recordings)
      freeRecording(r);
    recordings.clear();
    for (Buffer *b : {it->second.kv, it->second.tokens, it->second.logits})
      if (b)
        destroy(b);
    sessions.erase(it);
  }

  llmc_status_t forward(llmc_session_s &s, const int32_t *tokens, int32_t n,
                        int32_t rows) override {
    std::lock_guard<std::mutex> lock(mutex);
    llmc_artifact_s &a = *s.artifact;
    error.clear();
    SessionBuffers &sb = sessions[&s];
    if (!sb.kv) {
      sb.kv = createBuffer(kvCacheBytes(a), false);
      if (!sb.kv || !fill(sb.kv))
        return takeError(LLMC_OUT_OF_RANGE);
    }
    uint64_t tokBytes = uint64_t(n) * 4;
    uint64_t logitBytes = uint64_t(rows) * a.info.vocab_size * 4;
    if (!ensureHostBuffer(sb.tokens, tokBytes) ||
        !ensureHostBuffer(sb.logits, logitBytes))
      return takeError(LLMC_OUT_OF_RANGE);
    std::memcpy(sb.tokens->mapped, tokens, tokBytes);

    dispatches.clear();
    scalars.clear();
    {
      gpu::ScopedBackend scope(this);
      callEntry(entry, a,
                {addr(sb.tokens), addr(sb.kv), addr(weights), addr(sb.logits)},
                n, s.position, rows);
    }
    if (!error.empty())
      return takeError(LLMC_INTERNAL);
    if (!submit())
      return takeError(LLMC_INTERNAL);
    s.logits.resize(static_cast<size_t>(rows) * a.info.vocab_size);
    std::memcpy(s.logits.data(), sb.logits->mapped, logitBytes);
    ++forwards;
    return nullptr;
  }

  //===--------------------------------------------------------------------===//
  // gpu::Backend: what the host code calls
  //===--------------------------------------------------------------------===//

  void *moduleLoad(const void *data, size_t size) override {
    auto m = std::make_unique<Module>();
    std::string why = parseKernelModule(data, size, *m);
    if (!why.empty()) {
      fail(why);
      return nullptr;
    }
    modules.push_back(std::move(m));
    return modules.back().get();
  }

  void moduleUnload(void *) override {}

  void *getFunction(void *module, const char *fnName) override {
    auto *m = static_cast<Module *>(module);
    if (!m)
      return nullptr;
    for (auto &k : m->kernels)
      if (k->name == fnName) {
        if (!k->pipeline && !buildPipeline(*m, *k))
          return nullptr;
        return k.get();
      }
    fail(std::string("kernel '") + fnName + "' is not in its module");
    return nullptr;
  }

  void launch(void *function, const int64_t grid[3], const int64_t *,
              void **params, size_t paramCount) override {
    auto *k = static_cast<Kernel *>(function);
    if (!k || !error.empty())
      return;
    Dispatch d{k, {}, {}};
    for (int i = 0; i < 3; ++i) {
      if (grid[i] < 0 || grid[i] > props.limits.maxComputeWorkGroupCount[i]) {
        fail("kernel " + k->name + ": " + std::to_string(grid[i]) +
             " workgroups exceed the device limit " +
             std::to_string(props.limits.maxComputeWorkGroupCount[i]));
        return;
      }
      d.grid[i] = static_cast<uint32_t>(grid[i]);
    }
    if (d.grid[0] * uint64_t(d.grid[1]) * d.grid[2] == 0)
      return; // nothing to run
    size_t p = 0;
    Buffer *lastBuffer = nullptr;
    uint64_t lastStart = 0, lastExtent = 0;
    uint32_t lastElem = 1;
    for (const ArgKind &arg : k->args) {
      if (arg.kind == ArgKind::Buffer) {
        if (p + 5 > paramCount)
          return fail("kernel " + k->name + ": too few launch arguments");
        uintptr_t aligned = *static_cast<uintptr_t *>(params[p + 1]);
        int64_t extent = *static_cast<int64_t *>(params[p + 3]);
        p += 5;
        lastBuffer = space.lookup(aligned);
        if (!lastBuffer)
          return fail("kernel " + k->name +
                      ": an argument is not device memory");
        lastStart = aligned - lastBuffer->address;
        lastExtent = uint64_t(std::max<int64_t>(extent, 1)) * arg.elemBytes;
        lastElem = arg.elemBytes;
        d.bindings.push_back({}); // completed by its offset argument
        continue;
      }
      if (p >= paramCount)
        return fail("kernel " + k->name + ": too few launch arguments");
      uint32_t word = 0;
      if (arg.kind == ArgKind::Offset) {
        if (!lastBuffer)
          return fail("kernel " + k->name + ": offset before its buffer");
        int64_t elems = *static_cast<int64_t *>(params[p]);
        uint64_t start = lastStart + uint64_t(elems) * lastElem;
        // A buffer the device can bind whole is bound whole (the view's
        // offset goes to the kernel): a view that moves with the position
        // (the KV cache slot a step writes) then keeps its binding, so the
        // command buffer of a step replays for the next. A larger one is
        // bound from the view's start.
        VkDeviceSize align = props.limits.minStorageBufferOffsetAlignment;
        VkDeviceSize bound =
            lastBuffer->size <= props.limits.maxStorageBufferRange
                ? 0
                : start / align * align;
        // The binding reaches to the end of the buffer (within the device's
        // range limit), not just the view's extent, for the same reason
        // (views that grow with the sequence).
        VkDeviceSize range = lastBuffer->size - std::min(bound, lastBuffer->size);
        range = std::min<VkDeviceSize>(range, props.limits.maxStorageBufferRange);
        if (start - bound + lastExtent > range && bound < lastBuffer->size)
          return fail("kernel " + k->name + ": a buffer view of " +
                      std::to_string(start - bound + lastExtent) +
                      " bytes exceeds the device's maxStorageBufferRange (" +
                      std::to_string(props.limits.maxStorageBufferRange) + ")");
        if (bound >= lastBuffer->size || range == 0) {
          // An empty view (nothing is read): bind the whole buffer.
          bound = 0;
          range = lastBuffer->size;
        }
        d.bindings.back() = {lastBuffer->buffer, bound, range};
        word = static_cast<uint32_t>((start - bound) / lastElem);
      } else if (arg.kind == ArgKind::Index) {
        int64_t v = *static_cast<int64_t *>(params[p]);
        if (v < INT32_MIN || v > INT32_MAX)
          return fail("kernel " + k->name + ": index " + std::to_string(v) +
                      " does not fit the device's 32-bit indices");
        word = static_cast<uint32_t>(static_cast<int32_t>(v));
      } else {
        std::memcpy(&word, params[p], 4); // i32 or f32
      }
      ++p;
      d.bindings.push_back({VK_NULL_HANDLE, scalars.size() * scalarAlign, 4});
      scalars.push_back(word);
    }
    if (p != paramCount)
      return fail("kernel " + k->name + ": " + std::to_string(paramCount) +
                  " launch arguments, its ABI takes " + std::to_string(p));
    if (trace) {
      std::fprintf(stderr, "llmc vulkan: dispatch %zu %s grid %u x %u x %u",
                   dispatches.size(), k->name.c_str(), d.grid[0], d.grid[1],
                   d.grid[2]);
      for (const Binding &b : d.bindings)
        if (b.buffer)
          std::fprintf(stderr, " [%llu+%llu]", (unsigned long long)b.offset,
                       (unsigned long long)b.range);
      std::fprintf(stderr, "\n");
    }
    dispatches.push_back(std::move(d));
  }

  void *allocate(uint64_t bytes) override {
    bytes = std::max<uint64_t>((bytes + 63) / 64 * 64, 64);
    auto &freeList = pool[bytes];
    if (!freeList.empty()) {
      Buffer *b = freeList.back();
      freeList.pop_back();
      return reinterpret_cast<void *>(b->address);
    }
    Buffer *b = createBuffer(bytes, false);
    if (!b) {
      // Keep the host code going with a distinct bogus address; the error
      // is reported when forward returns.
      return reinterpret_cast<void *>(AddressSpace::kBase - 4096);
    }
    b->pooled = true;
    return reinterpret_cast<void *>(b->address);
  }

  void release(void *pointer) override {
    Buffer *b = space.lookup(reinterpret_cast<uintptr_t>(pointer));
    if (b && b->pooled && b->address == reinterpret_cast<uintptr_t>(pointer))
      pool[b->size].push_back(b);
  }

  std::string describe() const override {
    return "vulkan device '" + name + "': " + std::to_string(forwards) +
           " forward calls, " + std::to_string(dispatchTotal) +
           " dispatches, command buffers recorded " + std::to_string(recorded) +
           ", replayed " + std::to_string(replayed);
  }

private:
  void fail(const std::string &why) {
    if (error.empty())
      error = why;
  }
  llmc_status_t takeError(llmc_status_code_t code) {
    std::string e = error.empty() ? "unknown Vulkan error" : error;
    error.clear();
    return makeStatus(code, artifact->path + ": " + e);
  }

  /// A buffer of `bytes` (see AddressSpace::create); null with the error
  /// set on failure.
  Buffer *createBuffer(uint64_t bytes, bool host) {
    std::string why;
    Buffer *b = space.create(bytes, host, why);
    if (!b)
      fail(why);
    return b;
  }
  void destroy(Buffer *b) { space.destroy(b); }

  bool ensureHostBuffer(Buffer *&b, uint64_t bytes) {
    bytes = std::max<uint64_t>(bytes, 64);
    if (b && b->size >= bytes)
      return true;
    if (b) {
      vkDeviceWaitIdle(device);
      for (auto &r : recordings)
        freeRecording(r);
      recordings.clear();
      destroy(b);
    }
    b = createBuffer(std::max<uint64_t>(bytes, 4096), true);
    return b != nullptr;
  }

  /// Runs `record` in a one-off command buffer and waits.
  template <typename F> bool runOnce(F record) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = commandPool;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    VkCommandBuffer cb;
    if (vkAllocateCommandBuffers(device, &ai, &cb) != VK_SUCCESS) {
      fail("cannot allocate a Vulkan command buffer");
      return false;
    }
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    vkBeginCommandBuffer(cb, &bi);
    record(cb);
    vkEndCommandBuffer(cb);
    bool ok = execute(cb);
    vkFreeCommandBuffers(device, commandPool, 1, &cb);
    return ok;
  }

  bool execute(VkCommandBuffer cb) {
    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cb;
    vkResetFences(device, 1, &fence);
    if (vkQueueSubmit(queue, 1, &si, fence) != VK_SUCCESS ||
        vkWaitForFences(device, 1, &fence, VK_TRUE, UINT64_MAX) != VK_SUCCESS) {
      fail("Vulkan queue submission failed (device lost?)");
      return false;
    }
    return true;
  }

  bool fill(Buffer *b) {
    return runOnce([&](VkCommandBuffer cb) {
      vkCmdFillBuffer(cb, b->buffer, 0, VK_WHOLE_SIZE, 0);
    });
  }

  bool upload(Buffer *dst, const void *data, uint64_t bytes) {
    if (dst->mapped) {
      std::memcpy(dst->mapped, data, bytes);
      return true;
    }
    constexpr uint64_t chunk = 64ull << 20;
    Buffer *staging = createBuffer(std::min(bytes, chunk), true);
    if (!staging)
      return false;
    bool ok = true;
    for (uint64_t off = 0; ok && off < bytes; off += chunk) {
      uint64_t n = std::min(chunk, bytes - off);
      std::memcpy(staging->mapped, static_cast<const char *>(data) + off, n);
      ok = runOnce([&](VkCommandBuffer cb) {
        VkBufferCopy region{0, off, n};
        vkCmdCopyBuffer(cb, staging->buffer, dst->buffer, 1, &region);
      });
    }
    destroy(staging);
    return ok;
  }

  bool buildPipeline(Module &m, Kernel &k) {
    if (!m.shader) {
      VkShaderModuleCreateInfo sci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
      sci.codeSize = m.wordCount * 4;
      sci.pCode = m.words;
      if (vkCreateShaderModule(device, &sci, nullptr, &m.shader) != VK_SUCCESS) {
        fail("the device rejected a SPIR-V module");
        return false;
      }
    }
    std::vector<VkDescriptorSetLayoutBinding> binds(k.args.size());
    for (size_t i = 0; i < k.args.size(); ++i)
      binds[i] = {uint32_t(i), VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                  VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
    if (binds.size() > props.limits.maxPerStageDescriptorStorageBuffers) {
      fail("kernel " + k.name + " binds " + std::to_string(binds.size()) +
           " storage buffers; the device allows " +
           std::to_string(props.limits.maxPerStageDescriptorStorageBuffers));
      return false;
    }
    VkDescriptorSetLayoutCreateInfo dl{
        VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
    dl.bindingCount = uint32_t(binds.size());
    dl.pBindings = binds.data();
    VkPipelineLayoutCreateInfo pl{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
    pl.setLayoutCount = 1;
    pl.pSetLayouts = &k.setLayout;
    VkComputePipelineCreateInfo cp{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    cp.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    cp.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    cp.stage.module = m.shader;
    cp.stage.pName = k.name.c_str();
    if (vkCreateDescriptorSetLayout(device, &dl, nullptr, &k.setLayout) != VK_SUCCESS ||
        vkCreatePipelineLayout(device, &pl, nullptr, &k.layout) != VK_SUCCESS ||
        (cp.layout = k.layout,
         vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &cp, nullptr,
                                  &k.pipeline) != VK_SUCCESS)) {
      k.pipeline = VK_NULL_HANDLE;
      fail("cannot create the compute pipeline of kernel " + k.name);
      return false;
    }
    return true;
  }

  void freeRecording(Recording &r) {
    vulkan::freeRecording(*this, device, commandPool, r);
  }

  /// Submits the recorded dispatches (replaying a command buffer recorded
  /// for the same sequence) and waits.
  bool submit() {
    dispatchTotal += dispatches.size();
    // The argument arena: one aligned slot per scalar.
    uint64_t arenaBytes = std::max<uint64_t>(scalars.size() * scalarAlign, 64);
    if (!arena || arena->size < arenaBytes) {
      vkDeviceWaitIdle(device);
      for (auto &r : recordings)
        freeRecording(r);
      recordings.clear();
      if (arena)
        destroy(arena);
      arena = createBuffer(arenaBytes * 2, true);
      if (!arena)
        return false;
    }
    for (size_t i = 0; i < scalars.size(); ++i)
      std::memcpy(static_cast<char *>(arena->mapped) + i * scalarAlign,
                  &scalars[i], 4);
    for (Dispatch &d : dispatches)
      for (Binding &b : d.bindings)
        if (b.buffer == VK_NULL_HANDLE)
          b.buffer = arena->buffer;
    ++clock;
    for (Recording &r : recordings)
      if (r.dispatches == dispatches) {
        r.lastUse = clock;
        ++replayed;
        return execute(r.commands);
      }
    // Record a new one (evicting the least recently used).
    if (recordings.size() >= kMaxRecordings) {
      auto lru = std::min_element(recordings.begin(), recordings.end(),
                                  [](const Recording &a, const Recording &b) {
                                    return a.lastUse < b.lastUse;
                                  });
      freeRecording(*lru);
      recordings.erase(lru);
    }
    Recording r;
    r.dispatches = dispatches;
    r.lastUse = clock;
    std::string why = recordDispatches(*this, device, commandPool, r);
    if (!why.empty()) {
      fail(why);
      return false;
    }
    ++recorded;
    recordings.push_back(r);
    return execute(r.commands);
  }

  Instance vk;
  llmc_artifact_s *artifact = nullptr;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props{};
  Features features;
  std::string name;
  uint32_t queueFamily = 0;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  VkCommandPool commandPool = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  VkDeviceSize scalarAlign = 16;

  CodeObject code;
  EntryFn entry = nullptr;
  std::mutex mutex;
  std::string error;
  std::vector<std::unique_ptr<Module>> modules;
  AddressSpace space;
  std::unordered_map<uint64_t, std::vector<Buffer *>> pool;
  bool trace = false; ///< LLMC_VULKAN_TRACE: print every dispatch
  Buffer *weights = nullptr, *arena = nullptr;
  std::map<llmc_session_s *, SessionBuffers> sessions;
  std::vector<Dispatch> dispatches;
  std::vector<uint32_t> scalars;
  std::vector<Recording> recordings;
  uint64_t clock = 0, recorded = 0, replayed = 0, dispatchTotal = 0,
           forwards = 0;
};
} // namespace

llmc_status_t llmc::runtime::createVulkanDevice(llmc_artifact_s &a,
                                                std::unique_ptr<Device> &out) {
  return openDevice<VulkanDevice>(a, out);
}

#endif
