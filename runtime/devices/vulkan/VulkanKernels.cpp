//===- VulkanKernels.cpp - kernel modules and recorded dispatches ---------===//

#include "runtime/src/Internal.h"

#if __has_include(<vulkan/vulkan.h>)
#include "runtime/devices/vulkan/VulkanKernels.h"
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

using namespace llmc::runtime::vulkan;

std::string llmc::runtime::vulkan::parseKernelModule(const void *data,
                                                     size_t size, Module &m) {
  const char *p = static_cast<const char *>(data);
  if (size < 12 || std::memcmp(p, "LLMCSPV1", 8) != 0)
    return "a kernel module is not an llmc SPIR-V module (bad magic)";
  uint32_t jsonSize;
  std::memcpy(&jsonSize, p + 8, 4);
  size_t wordsAt = (12 + size_t(jsonSize) + 3) / 4 * 4;
  if (wordsAt >= size || (size - wordsAt) % 4)
    return "a kernel module is truncated";
  m.words = reinterpret_cast<const uint32_t *>(p + wordsAt);
  m.wordCount = (size - wordsAt) / 4;
  try {
    nlohmann::json meta = nlohmann::json::parse(p + 12, p + 12 + jsonSize);
    for (const auto &k : meta.at("kernels")) {
      auto kernel = std::make_unique<Kernel>();
      kernel->name = k.at("name").get<std::string>();
      for (const auto &arg : k.at("args")) {
        std::string s = arg.get<std::string>();
        ArgKind kind{ArgKind::I32};
        if (s.rfind("buf:", 0) == 0)
          kind = {ArgKind::Buffer, uint32_t(std::stoul(s.substr(4)))};
        else if (s == "off")
          kind.kind = ArgKind::Offset;
        else if (s == "idx")
          kind.kind = ArgKind::Index;
        else if (s == "f32")
          kind.kind = ArgKind::F32;
        else if (s != "i32")
          throw std::runtime_error("unknown argument kind '" + s + "'");
        kernel->args.push_back(kind);
      }
      m.kernels.push_back(std::move(kernel));
    }
  } catch (const std::exception &e) {
    return std::string("malformed kernel module table: ") + e.what();
  }
  return "";
}

void llmc::runtime::vulkan::freeRecording(const DeviceFns &vk, VkDevice device,
                                          VkCommandPool pool, Recording &r) {
  if (r.commands)
    vk.vkFreeCommandBuffers(device, pool, 1, &r.commands);
  if (r.pool)
    vk.vkDestroyDescriptorPool(device, r.pool, nullptr);
  r.commands = VK_NULL_HANDLE;
  r.pool = VK_NULL_HANDLE;
}

std::string llmc::runtime::vulkan::recordDispatches(const DeviceFns &vk,
                                                    VkDevice device,
                                                    VkCommandPool pool,
                                                    Recording &r) {
  const std::vector<Dispatch> &dispatches = r.dispatches;
  size_t sets = std::max<size_t>(dispatches.size(), 1), descriptors = 0;
  for (const Dispatch &d : dispatches)
    descriptors += d.bindings.size();
  VkDescriptorPoolSize ps{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                          uint32_t(std::max<size_t>(descriptors, 1))};
  VkDescriptorPoolCreateInfo dpi{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
  dpi.maxSets = uint32_t(sets);
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &ps;
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = pool;
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  if (vk.vkCreateDescriptorPool(device, &dpi, nullptr, &r.pool) != VK_SUCCESS ||
      vk.vkAllocateCommandBuffers(device, &ai, &r.commands) != VK_SUCCESS) {
    freeRecording(vk, device, pool, r);
    return "cannot allocate Vulkan descriptors / command buffer";
  }
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  vk.vkBeginCommandBuffer(r.commands, &bi);
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  std::vector<VkDescriptorBufferInfo> infos;
  std::vector<VkWriteDescriptorSet> writes;
  for (const Dispatch &d : dispatches) {
    VkDescriptorSetAllocateInfo si{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    si.descriptorPool = r.pool;
    si.descriptorSetCount = 1;
    si.pSetLayouts = &d.kernel->setLayout;
    VkDescriptorSet set;
    if (vk.vkAllocateDescriptorSets(device, &si, &set) != VK_SUCCESS) {
      vk.vkEndCommandBuffer(r.commands);
      freeRecording(vk, device, pool, r);
      return "cannot allocate a Vulkan descriptor set";
    }
    infos.resize(d.bindings.size());
    writes.resize(d.bindings.size());
    for (size_t i = 0; i < d.bindings.size(); ++i) {
      infos[i] = {d.bindings[i].buffer, d.bindings[i].offset,
                  d.bindings[i].range};
      writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
      writes[i].dstSet = set;
      writes[i].dstBinding = uint32_t(i);
      writes[i].descriptorCount = 1;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
    vk.vkUpdateDescriptorSets(device, uint32_t(writes.size()), writes.data(), 0,
                              nullptr);
    vk.vkCmdBindPipeline(r.commands, VK_PIPELINE_BIND_POINT_COMPUTE,
                         d.kernel->pipeline);
    vk.vkCmdBindDescriptorSets(r.commands, VK_PIPELINE_BIND_POINT_COMPUTE,
                               d.kernel->layout, 0, 1, &set, 0, nullptr);
    vk.vkCmdDispatch(r.commands, d.grid[0], d.grid[1], d.grid[2]);
    vk.vkCmdPipelineBarrier(r.commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                            VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier,
                            0, nullptr, 0, nullptr);
  }
  VkMemoryBarrier toHost{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  toHost.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  toHost.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vk.vkCmdPipelineBarrier(r.commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                          VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &toHost, 0, nullptr,
                          0, nullptr);
  vk.vkEndCommandBuffer(r.commands);
  return "";
}
#endif
