//===- VulkanMemory.h - device buffers in a fake address space --*- C++ -*-===//
//
// Vulkan device memory has no host address, yet the host code of a
// `--target vulkan` artifact does pointer arithmetic on its buffers (views,
// slices). Every buffer therefore gets a range of a fake address space
// (ranges separated by a gap), and a kernel argument's pointer maps back to
// (buffer, byte offset) by lookup. Only included where <vulkan/vulkan.h>
// exists (LLMC_HAVE_VULKAN).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_DEVICES_VULKAN_VULKANMEMORY_H
#define LLMC_RUNTIME_DEVICES_VULKAN_VULKANMEMORY_H

#include "runtime/devices/vulkan/VulkanKernels.h"
#include <map>
#include <string>

namespace llmc::runtime::vulkan {

class AddressSpace {
public:
  /// The first buffer's address (below it: no buffer, ever).
  static constexpr uintptr_t kBase = uintptr_t(1) << 44;

  /// Buffers of `device` (`vk` its functions, `memory` its memory types),
  /// at most `limit` bytes in all (0: no limit; LLMC_VULKAN_MEMORY_LIMIT).
  void open(const DeviceFns &vk, VkDevice device,
            const VkPhysicalDeviceMemoryProperties &memory,
            const std::string &deviceName, uint64_t limit);
  /// A buffer of `bytes`, host-visible if `host` (or if device memory is);
  /// null with `error` set on failure.
  Buffer *create(uint64_t bytes, bool host, std::string &error);
  /// Frees `b` and its address range.
  void destroy(Buffer *b);
  /// Frees every buffer (the device is idle).
  void destroyAll();
  /// The buffer whose range holds `address`, or null.
  Buffer *lookup(uintptr_t address) const;

private:
  uint32_t memoryType(uint32_t bits, VkMemoryPropertyFlags want) const;
  void free(Buffer *b);

  const DeviceFns *vk = nullptr;
  VkDevice device = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory{};
  std::string deviceName;
  std::map<uintptr_t, Buffer *> buffers;
  uintptr_t nextAddress = kBase;
  uint64_t used = 0, limit = 0;
};

} // namespace llmc::runtime::vulkan

#endif
