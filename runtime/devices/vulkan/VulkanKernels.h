//===- VulkanKernels.h - kernel modules and recorded dispatches -*- C++ -*-===//
//
// What the Vulkan device keeps per kernel module, buffer and dispatch, and
// the two pieces of its work that need no device state: reading a kernel
// module (LLMCSPV1, lowering/vulkan/SerializeSPIRV.cpp) and recording a
// dispatch sequence into a command buffer (VulkanKernels.cpp).
// Only included where <vulkan/vulkan.h> exists (LLMC_HAVE_VULKAN).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_DEVICES_VULKAN_VULKANKERNELS_H
#define LLMC_RUNTIME_DEVICES_VULKAN_VULKANKERNELS_H

#include "runtime/devices/vulkan/VulkanInstance.h"
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace llmc::runtime::vulkan {

/// The device-level functions the device loads.
#define LLMC_VK_DEVICE_FNS(X)                                                  \
  X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer)  \
  X(vkGetBufferMemoryRequirements) X(vkAllocateMemory) X(vkFreeMemory)         \
  X(vkBindBufferMemory) X(vkMapMemory) X(vkCreateShaderModule)                 \
  X(vkDestroyShaderModule) X(vkCreateDescriptorSetLayout)                      \
  X(vkDestroyDescriptorSetLayout) X(vkCreatePipelineLayout)                    \
  X(vkDestroyPipelineLayout) X(vkCreateComputePipelines) X(vkDestroyPipeline)  \
  X(vkCreateDescriptorPool) X(vkDestroyDescriptorPool)                         \
  X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets) X(vkCreateCommandPool) \
  X(vkDestroyCommandPool) X(vkAllocateCommandBuffers) X(vkFreeCommandBuffers)  \
  X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkCmdBindPipeline)           \
  X(vkCmdBindDescriptorSets) X(vkCmdDispatch) X(vkCmdPipelineBarrier)          \
  X(vkCmdCopyBuffer) X(vkCmdFillBuffer) X(vkQueueSubmit) X(vkCreateFence)      \
  X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences) X(vkDeviceWaitIdle)
/// One argument of a kernel, from the module's JSON (llm.kernel_abi).
struct ArgKind {
  enum K { Buffer, Offset, Index, I32, F32 } kind;
  uint32_t elemBytes = 0;
};

struct Kernel {
  std::string name;
  std::vector<ArgKind> args;
  VkDescriptorSetLayout setLayout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
};

struct Module {
  const uint32_t *words = nullptr;
  size_t wordCount = 0;
  VkShaderModule shader = VK_NULL_HANDLE;
  std::vector<std::unique_ptr<Kernel>> kernels;
};

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  uint64_t size = 0;
  uintptr_t address = 0; ///< in the fake address space
  void *mapped = nullptr;
  bool pooled = false; ///< a temporary of the host code
};

struct Binding {
  VkBuffer buffer;
  VkDeviceSize offset, range;
  bool operator==(const Binding &o) const {
    return buffer == o.buffer && offset == o.offset && range == o.range;
  }
};

struct Dispatch {
  Kernel *kernel;
  uint32_t grid[3];
  std::vector<Binding> bindings; ///< scalars: slots of the argument arena
  bool operator==(const Dispatch &o) const {
    return kernel == o.kernel && std::equal(grid, grid + 3, o.grid) &&
           bindings == o.bindings;
  }
};

/// A recorded command buffer and the descriptor sets it binds.
struct Recording {
  std::vector<Dispatch> dispatches;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  VkCommandBuffer commands = VK_NULL_HANDLE;
  uint64_t lastUse = 0;
};

/// The device-level functions, loaded with vkGetDeviceProcAddr.
struct DeviceFns {
#define X(f) PFN_##f f = nullptr;
  LLMC_VK_DEVICE_FNS(X)
#undef X
};

/// Reads a kernel module's kernel table and locates its SPIR-V words;
/// "" or what is wrong with it.
std::string parseKernelModule(const void *data, size_t size, Module &m);

/// Records `r.dispatches` into a new command buffer of `pool` (one
/// descriptor set per dispatch, a barrier after each, a host-read barrier
/// at the end); "" or what failed (then `r` holds nothing).
std::string recordDispatches(const DeviceFns &vk, VkDevice device,
                             VkCommandPool pool, Recording &r);

/// Frees a recording's command buffer and descriptor pool.
void freeRecording(const DeviceFns &vk, VkDevice device, VkCommandPool pool,
                   Recording &r);

} // namespace llmc::runtime::vulkan

#endif
