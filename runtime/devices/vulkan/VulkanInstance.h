//===- VulkanInstance.h - the Vulkan loader, instance and features -*- C++ -*-===//
//
// What the Vulkan device and `llmc run --list-devices` share: libvulkan
// dlopened (so the runtime loads without it), the instance, and a physical
// device's features named as the SPIR-V capabilities the compiler declares.
// Only included where <vulkan/vulkan.h> exists (LLMC_HAVE_VULKAN).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_DEVICES_VULKAN_VULKANINSTANCE_H
#define LLMC_RUNTIME_DEVICES_VULKAN_VULKANINSTANCE_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <cstdlib>
#include <dlfcn.h>
#include <sstream>
#include <string>
#include <vector>

namespace llmc::runtime::vulkan {

#define LLMC_VK_INSTANCE_FNS(X)                                                \
  X(vkDestroyInstance) X(vkEnumeratePhysicalDevices)                           \
  X(vkGetPhysicalDeviceProperties) X(vkGetPhysicalDeviceProperties2)           \
  X(vkGetPhysicalDeviceFeatures2) X(vkGetPhysicalDeviceQueueFamilyProperties)  \
  X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice)                     \
  X(vkGetDeviceProcAddr)

/// The loader and the instance: enough to list devices.
struct Instance {
  void *lib = nullptr;
  PFN_vkGetInstanceProcAddr getProc = nullptr;
  VkInstance instance = VK_NULL_HANDLE;
#define X(f) PFN_##f f = nullptr;
  LLMC_VK_INSTANCE_FNS(X)
#undef X

  ~Instance() {
    if (instance && vkDestroyInstance)
      vkDestroyInstance(instance, nullptr);
    if (lib)
      dlclose(lib);
  }

  /// Empty on success, else why not.
  std::string open() {
    const char *path = std::getenv("LLMC_VULKAN_LIBRARY");
    lib = dlopen(path && *path ? path : "libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
      return std::string("no Vulkan loader (libvulkan.so.1: ") + dlerror() +
             "); install libvulkan1 and a driver (e.g. mesa-vulkan-drivers)";
    getProc = reinterpret_cast<PFN_vkGetInstanceProcAddr>(
        dlsym(lib, "vkGetInstanceProcAddr"));
    if (!getProc)
      return "the Vulkan loader has no vkGetInstanceProcAddr";
    auto create = reinterpret_cast<PFN_vkCreateInstance>(
        getProc(VK_NULL_HANDLE, "vkCreateInstance"));
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "llmc";
    app.apiVersion = VK_API_VERSION_1_2;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pApplicationInfo = &app;
    if (!create || create(&ci, nullptr, &instance) != VK_SUCCESS) {
      instance = VK_NULL_HANDLE;
      return "cannot create a Vulkan instance (no Vulkan driver installed?)";
    }
#define X(f) f = reinterpret_cast<PFN_##f>(getProc(instance, #f));
    LLMC_VK_INSTANCE_FNS(X)
#undef X
    return "";
  }

  std::vector<VkPhysicalDevice> devices() {
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(instance, &n, nullptr);
    std::vector<VkPhysicalDevice> d(n);
    if (n)
      vkEnumeratePhysicalDevices(instance, &n, d.data());
    d.resize(n);
    return d;
  }
};

inline const char *typeName(VkPhysicalDeviceType t) {
  switch (t) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
  case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
  default: return "other";
  }
}

/// The device's features, as the SPIR-V capability names the compiler
/// declares.
struct Features {
  VkPhysicalDeviceFeatures2 base{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  VkPhysicalDeviceVulkan11Features v11{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features v12{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceSubgroupProperties subgroup{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};

  void query(Instance &in, VkPhysicalDevice pd) {
    base.pNext = &v11;
    v11.pNext = &v12;
    in.vkGetPhysicalDeviceFeatures2(pd, &base);
    VkPhysicalDeviceProperties2 p{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    p.pNext = &subgroup;
    in.vkGetPhysicalDeviceProperties2(pd, &p);
  }

  bool has(const std::string &cap) const {
    bool compute = subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT;
    auto ops = subgroup.supportedOperations;
    if (cap == "Shader") return true;
    if (cap == "Float16") return v12.shaderFloat16;
    if (cap == "Int8") return v12.shaderInt8;
    if (cap == "Int16") return base.features.shaderInt16;
    if (cap == "Int64") return base.features.shaderInt64;
    if (cap == "StorageBuffer16BitAccess") return v11.storageBuffer16BitAccess;
    if (cap == "StorageBuffer8BitAccess") return v12.storageBuffer8BitAccess;
    if (cap == "GroupNonUniform")
      return compute && (ops & VK_SUBGROUP_FEATURE_BASIC_BIT);
    if (cap == "GroupNonUniformArithmetic")
      return compute && (ops & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    if (cap == "GroupNonUniformShuffle")
      return compute && (ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    return false;
  }
};

inline bool disabledByEnv(const std::string &cap) {
  const char *env = std::getenv("LLMC_VULKAN_DISABLE");
  if (!env)
    return false;
  std::stringstream ss(env);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item == cap)
      return true;
  return false;
}

} // namespace llmc::runtime::vulkan

#endif
