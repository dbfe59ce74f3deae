// RUN: llmc-opt %s --split-input-file --verify-diagnostics --llm-gpu-kernel-abi | FileCheck %s

// A strided view with a dynamic offset and row stride becomes its flat
// buffer (extent = 1 + (rows - 1) * stride + (cols - 1)), its offset and its
// dynamic stride; the load indexes the buffer linearly. An i1 travels as
// i32; the constant RoPE table becomes a function-local array.
// CHECK-LABEL: func.func @host
// CHECK: %[[BASE:.*]], %[[OFF:.*]], %[[SIZES:.*]]:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %{{.*}} : memref<?x32xf32, strided<[?, 1], offset: ?>>
// CHECK: %[[FLAT:.*]] = memref.reinterpret_cast %[[BASE]] to offset: [0], sizes: [%{{.*}}], strides: [1] : memref<f32> to memref<?xf32>
// CHECK: %[[FLAG:.*]] = arith.extui %{{.*}} : i1 to i32
// CHECK: gpu.launch_func @k::@kernel {{.*}} args(%[[FLAT]] : memref<?xf32>, %[[OFF]] : index, %[[STRIDES]]#0 : index, %[[FLAG]] : i32, %{{.*}} : memref<?xf32>, %{{.*}} : index)
// CHECK-LABEL: gpu.func @kernel
// CHECK-SAME: (%[[B:[a-z0-9]+]]: memref<?xf32>, %[[O:[a-z0-9]+]]: index, %[[S:[a-z0-9]+]]: index, %[[F:[a-z0-9]+]]: i32, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[OO:[a-z0-9]+]]: index)
// CHECK-SAME: llm.kernel_abi = ["buf:4", "off", "idx", "i32", "buf:4", "off"]
// CHECK-SAME: spirv.entry_point_abi = #spirv.entry_point_abi<workgroup_size = [32, 1, 1]>
// CHECK: arith.trunci %[[F]] : i32 to i1
// CHECK: %[[TAB:.*]] = memref.alloca() : memref<4xf32, #spirv.storage_class<Function>>
// CHECK: memref.store %{{.*}}, %[[TAB]][%c3
// CHECK: %[[R:.*]] = arith.muli %{{.*}}, %[[S]]
// CHECK: %[[L:.*]] = arith.addi %[[O]], %[[R]]
// CHECK: memref.load %[[B]][%{{.*}}] : memref<?xf32>
// CHECK: memref.load %[[TAB]]
// CHECK: memref.store %{{.*}}, %[[OUT]][%{{.*}}] : memref<?xf32>
module attributes {gpu.container_module} {
  memref.global "private" constant @freqs : memref<4xf32> = dense<[1.0, 0.1, 0.01, 0.001]>
  func.func @host(%a: memref<?x32xf32, strided<[?, 1], offset: ?>>, %flag: i1, %out: memref<64xf32>) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %t = memref.get_global @freqs : memref<4xf32>
    gpu.launch_func @k::@kernel blocks in (%c1, %c1, %c1) threads in (%c32, %c1, %c1)
        args(%a : memref<?x32xf32, strided<[?, 1], offset: ?>>, %flag : i1, %t : memref<4xf32>, %out : memref<64xf32>)
    return
  }
  gpu.module @k {
    gpu.func @kernel(%a: memref<?x32xf32, strided<[?, 1], offset: ?>>, %flag: i1, %t: memref<4xf32>, %out: memref<64xf32>) kernel
        attributes {known_block_size = array<i32: 32, 1, 1>} {
      %c3 = arith.constant 3 : index
      %i = gpu.thread_id x
      %v = memref.load %a[%c3, %i] : memref<?x32xf32, strided<[?, 1], offset: ?>>
      %f = memref.load %t[%c3] : memref<4xf32>
      %p = arith.mulf %v, %f : f32
      %q = arith.select %flag, %p, %v : f32
      memref.store %q, %out[%i] : memref<64xf32>
      gpu.return
    }
  }
}

// -----

// Kernel buffers may only be loaded, stored and measured.
module attributes {gpu.container_module} {
  func.func @host(%a: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @k::@kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<8xf32>)
    return
  }
  gpu.module @k {
    gpu.func @kernel(%a: memref<8xf32>) kernel attributes {known_block_size = array<i32: 1, 1, 1>} {
      // expected-error @+1 {{kernel buffers may only be loaded, stored and measured (memref.dim), not used by this op}}
      %s = memref.subview %a[0] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1]>>
      gpu.return
    }
  }
}

// -----

// Without a static workgroup size there is no SPIR-V entry point.
module attributes {gpu.container_module} {
  func.func @host(%a: memref<8xf32>, %n: index) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @k::@kernel blocks in (%c1, %c1, %c1) threads in (%n, %c1, %c1) args(%a : memref<8xf32>)
    return
  }
  gpu.module @k {
    // expected-error @+1 {{kernel has no static workgroup size}}
    gpu.func @kernel(%a: memref<8xf32>) kernel {
      gpu.return
    }
  }
}
