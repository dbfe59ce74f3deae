//===- VulkanDevices.cpp - the Vulkan devices the loader sees -------------===//
//
// `llmc run --list-devices` / llmc_devices_list: each device's name, type,
// Vulkan version, subgroup size and the optional SPIR-V capabilities it has.
//
//===----------------------------------------------------------------------===//

#include "runtime/src/Internal.h"

#if __has_include(<vulkan/vulkan.h>)
#include "runtime/devices/vulkan/VulkanInstance.h"

using namespace llmc::runtime::vulkan;

std::string llmc::runtime::describeVulkanDevices() {
  Instance vk;
  std::string why = vk.open();
  if (!why.empty())
    return "vulkan: " + why + "\n";
  std::vector<VkPhysicalDevice> all = vk.devices();
  if (all.empty())
    return "vulkan: no devices (the loader found none)\n";
  std::string out;
  for (size_t i = 0; i < all.size(); ++i) {
    VkPhysicalDeviceProperties p;
    vk.vkGetPhysicalDeviceProperties(all[i], &p);
    Features f;
    f.query(vk, all[i]);
    std::string caps;
    for (const char *c : {"Float16", "Int8", "Int16", "Int64",
                          "StorageBuffer16BitAccess", "StorageBuffer8BitAccess",
                          "GroupNonUniformArithmetic", "GroupNonUniformShuffle"})
      if (f.has(c))
        caps += std::string(caps.empty() ? "" : ",") + c;
    out += "vulkan:" + std::to_string(i) + "  " + p.deviceName + " (" +
           typeName(p.deviceType) + ", Vulkan " +
           std::to_string(VK_API_VERSION_MAJOR(p.apiVersion)) + "." +
           std::to_string(VK_API_VERSION_MINOR(p.apiVersion)) +
           ", subgroup " + std::to_string(f.subgroup.subgroupSize) +
           ")  capabilities: " + (caps.empty() ? "baseline" : caps) + "\n";
  }
  return out;
}
#else
std::string llmc::runtime::describeVulkanDevices() {
  return "vulkan: this runtime was built without Vulkan support\n";
}
#endif
