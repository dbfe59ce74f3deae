// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-gpu-merge-modules | FileCheck %s

// Two outlined kernels (both named after their function, as
// gpu-kernel-outlining names them) and a constant global copied into both:
// one module, kernels named after their old modules, the global once, and
// the launches pointing at the merged module.
// CHECK-LABEL: gpu.module @llmc_kernels
// CHECK-COUNT-1: memref.global "private" constant @inv_freq
// CHECK: gpu.func @forward_kernel() kernel
// CHECK: gpu.func @forward_kernel_0() kernel
// CHECK-NOT: gpu.module
// CHECK: func.func @forward
// CHECK: gpu.launch_func @llmc_kernels::@forward_kernel blocks
// CHECK: gpu.launch_func @llmc_kernels::@forward_kernel_0 blocks
module attributes {gpu.container_module} {
  gpu.module @forward_kernel {
    memref.global "private" constant @inv_freq : memref<2xf32> = dense<[1.0, 0.5]>
    gpu.func @forward_kernel() kernel {
      %g = memref.get_global @inv_freq : memref<2xf32>
      gpu.return
    }
  }
  gpu.module @forward_kernel_0 {
    memref.global "private" constant @inv_freq : memref<2xf32> = dense<[1.0, 0.5]>
    gpu.func @forward_kernel() kernel {
      %g = memref.get_global @inv_freq : memref<2xf32>
      gpu.return
    }
  }
  func.func @forward() {
    %c1 = arith.constant 1 : index
    gpu.launch_func @forward_kernel::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    gpu.launch_func @forward_kernel_0::@forward_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
    return
  }
}

// -----

// Copies that differ cannot be merged.
module attributes {gpu.container_module} {
  gpu.module @a {
    memref.global "private" constant @c : memref<1xf32> = dense<1.0>
  }
  gpu.module @b {
    // expected-error @+1 {{symbol 'c' differs between kernel modules}}
    memref.global "private" constant @c : memref<1xf32> = dense<2.0>
  }
}
