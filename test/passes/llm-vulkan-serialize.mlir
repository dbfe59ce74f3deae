// RUN: rm -rf %t && mkdir -p %t && llmc-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(spirv-attach-target{ver=v1.3 caps=Shader exts=SPV_KHR_storage_buffer_storage_class client_api=Vulkan},convert-gpu-to-spirv,spirv.module(spirv-lower-abi-attrs,spirv-update-vce),llm-vulkan-serialize{dump-dir=%t})' | FileCheck %s
// RUN: %python -c "import sys; d=open(sys.argv[1],'rb').read(); print('spirv magic', d[:4].hex(), len(d) % 4)" %t/k.spv | FileCheck %s --check-prefix=SPV
// RUN: %if spirv-tools %{ spirv-val --target-env vulkan1.1 %t/k.spv && echo valid | FileCheck %s --check-prefix=VAL %}

// The kernel module becomes a gpu.binary holding the runtime's format:
// "LLMCSPV1", the JSON length, the kernel table (name, workgroup size,
// argument ABI), then the SPIR-V words; the gpu.module and spirv.module are
// gone and the launch now refers to the binary.
// CHECK-NOT: gpu.module
// CHECK-NOT: spirv.module
// CHECK: func.func @host
// CHECK: gpu.launch_func @k::@kernel
// CHECK: gpu.binary @k  [#gpu.object<#spirv.target_env<#spirv.vce<v1.3, [Shader], [SPV_KHR_storage_buffer_storage_class]>, api=Vulkan, #spirv.resource_limits<>>, bin = "LLMCSPV1{{.*}}{\22kernels\22:[{\22args\22:[\22buf:4\22,\22off\22],\22name\22:\22kernel\22,\22workgroup\22:[64,1,1]}]}
// SPV: spirv magic 03022307 0
// VAL: valid
module attributes {gpu.container_module} {
  func.func @host(%a: memref<?xf32>, %off: index) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    gpu.launch_func @k::@kernel blocks in (%c1, %c1, %c1) threads in (%c64, %c1, %c1)
        args(%a : memref<?xf32>, %off : index)
    return
  }
  gpu.module @k {
    gpu.func @kernel(%a: memref<?xf32>, %off: index) kernel
        attributes {known_block_size = array<i32: 64, 1, 1>,
                    llm.kernel_abi = ["buf:4", "off"],
                    spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [64, 1, 1]>} {
      %i = gpu.thread_id x
      %j = arith.addi %off, %i : index
      %v = memref.load %a[%j] : memref<?xf32>
      %w = arith.addf %v, %v : f32
      memref.store %w, %a[%j] : memref<?xf32>
      gpu.return
    }
  }
}

// -----

// A kernel without the ABI table the runtime needs.
module attributes {gpu.container_module} {
  gpu.module @k {
    // expected-error @+1 {{has no llm.kernel_abi / static workgroup size (run llm-gpu-kernel-abi first)}}
    gpu.func @kernel(%a: memref<?xf32>) kernel
        attributes {spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [1, 1, 1]>} {
      gpu.return
    }
  }
}
