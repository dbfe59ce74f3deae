//===- VulkanMemory.cpp - device buffers in a fake address space ----------===//

#include "runtime/src/Internal.h"

#if __has_include(<vulkan/vulkan.h>)
#include "runtime/devices/vulkan/VulkanMemory.h"

using namespace llmc::runtime::vulkan;

/// Between two buffers' ranges, so that an address one past a buffer's end
/// is never inside the next one.
static constexpr uintptr_t kAddressGap = 1 << 16;

void AddressSpace::open(const DeviceFns &fns, VkDevice dev,
                        const VkPhysicalDeviceMemoryProperties &types,
                        const std::string &devName, uint64_t maxBytes) {
  vk = &fns;
  device = dev;
  memory = types;
  deviceName = devName;
  limit = maxBytes;
}

uint32_t AddressSpace::memoryType(uint32_t bits,
                                  VkMemoryPropertyFlags want) const {
  for (uint32_t i = 0; i < memory.memoryTypeCount; ++i)
    if ((bits & (1u << i)) &&
        (memory.memoryTypes[i].propertyFlags & want) == want)
      return i;
  return UINT32_MAX;
}

Buffer *AddressSpace::create(uint64_t bytes, bool host, std::string &error) {
  if (limit && used + bytes > limit) {
    error = "out of device memory: " + std::to_string(bytes) +
            " more bytes requested, " + std::to_string(used) + " of " +
            std::to_string(limit) + " in use (LLMC_VULKAN_MEMORY_LIMIT)";
    return nullptr;
  }
  auto b = std::make_unique<Buffer>();
  b->size = bytes;
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = bytes;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
              VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
              VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  if (vk->vkCreateBuffer(device, &bci, nullptr, &b->buffer) != VK_SUCCESS) {
    error = "cannot create a Vulkan buffer of " + std::to_string(bytes) +
            " bytes";
    return nullptr;
  }
  VkMemoryRequirements req;
  vk->vkGetBufferMemoryRequirements(device, b->buffer, &req);
  const VkMemoryPropertyFlags hostFlags =
      VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t type =
      host ? memoryType(req.memoryTypeBits, hostFlags)
           : memoryType(req.memoryTypeBits,
                        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | hostFlags);
  if (type == UINT32_MAX && !host)
    type = memoryType(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  VkResult r = type == UINT32_MAX
                   ? VK_ERROR_OUT_OF_DEVICE_MEMORY
                   : vk->vkAllocateMemory(device, &mai, nullptr, &b->memory);
  if (r != VK_SUCCESS) {
    vk->vkDestroyBuffer(device, b->buffer, nullptr);
    error = "out of device memory: cannot allocate " + std::to_string(bytes) +
            " bytes on '" + deviceName + "'";
    return nullptr;
  }
  vk->vkBindBufferMemory(device, b->buffer, b->memory, 0);
  if (memory.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
    vk->vkMapMemory(device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped);
  b->address = nextAddress;
  nextAddress +=
      (bytes + kAddressGap - 1) / kAddressGap * kAddressGap + kAddressGap;
  used += bytes;
  Buffer *raw = b.release();
  buffers[raw->address] = raw;
  return raw;
}

void AddressSpace::free(Buffer *b) {
  vk->vkDestroyBuffer(device, b->buffer, nullptr);
  vk->vkFreeMemory(device, b->memory, nullptr);
  used -= b->size;
  delete b;
}

void AddressSpace::destroy(Buffer *b) {
  buffers.erase(b->address);
  free(b);
}

void AddressSpace::destroyAll() {
  for (auto &[_, b] : buffers)
    free(b);
  buffers.clear();
}

Buffer *AddressSpace::lookup(uintptr_t address) const {
  auto it = buffers.upper_bound(address);
  if (it == buffers.begin())
    return nullptr;
  --it;
  Buffer *b = it->second;
  return address <= b->address + b->size ? b : nullptr;
}

#endif
