// RUN: llmc-opt %S/Inputs/tiny-llama.mlir --llm-to-vulkan=serialize=false | FileCheck %s

// The llm-to-vulkan pipeline on a 2-layer GQA Llama (dim 128, 8 query heads
// over 2 KV heads, head_dim 16), stopped before serialization: the host
// function only allocates and launches; each op class is SPIR-V kernels
// (one spirv.module per kernel, argument i at binding (0, i)).

// Host: the embedding gather runs on a grid of 2 x tokens workgroups of 64
// threads; buffers are device allocations; no buffer is touched on the host.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: %[[TOKENS:[a-z0-9]+]]: memref<?xi32>
// CHECK: %[[T:.*]] = memref.dim %[[TOKENS]], %c0
// CHECK: gpu.alloc async [%{{.*}}] (%[[T]]) : memref<?x128xf32>
// CHECK: gpu.launch_func @forward_kernel::@forward_kernel blocks in (%c2, %[[T]], %c1) threads in (%c64, %c1, %c1) args(%{{.*}} : memref<?xi32>, %{{.*}} : index, %{{.*}} : memref<?xf32>
// CHECK-NOT: memref.load
// CHECK-NOT: memref.store
// CHECK-NOT: linalg.
// CHECK: return

// Embedding: a token id (i32 buffer) indexes the f32 table.
// CHECK-LABEL: spirv.module @__spv__forward_kernel Logical GLSL450
// CHECK: spirv.GlobalVariable @forward_kernel_arg_0 bind(0, 0) : !spirv.ptr<!spirv.struct<(!spirv.rtarray<i32, stride=4> [0])>, StorageBuffer>
// CHECK: spirv.GlobalVariable @forward_kernel_arg_1 bind(0, 1) : !spirv.ptr<!spirv.struct<(i32 [0])>, StorageBuffer>
// CHECK: spirv.GlobalVariable @forward_kernel_arg_3 bind(0, 3) : !spirv.ptr<!spirv.struct<(!spirv.rtarray<f32, stride=4> [0])>, StorageBuffer>
// CHECK: spirv.func @forward_kernel() "None"
// CHECK: spirv.Load "StorageBuffer" %{{.*}} : i32
// CHECK: spirv.Load "StorageBuffer" %{{.*}} : f32
// CHECK: spirv.Store "StorageBuffer"
// CHECK: spirv.EntryPoint "GLCompute" @forward_kernel
// CHECK: spirv.ExecutionMode @forward_kernel "LocalSize", 64, 1, 1

// RMSNorm: a sum of squares per row, split across a workgroup (each thread
// strides over the row; partial sums combined in workgroup memory between
// barriers), then the scale by rsqrt(mean + eps) and the gain.
// CHECK-LABEL: spirv.module @__spv__forward_kernel_1 Logical
// CHECK: spirv.GlobalVariable @__workgroup_mem__{{[0-9]+}} : !spirv.ptr<!spirv.struct<(!spirv.array<64 x f32>)>, Workgroup>
// CHECK: spirv.mlir.loop
// CHECK: spirv.FMul
// CHECK: spirv.FAdd
// CHECK: spirv.ControlBarrier <Workgroup>, <Workgroup>, <AcquireRelease|WorkgroupMemory>
// CHECK-LABEL: spirv.module @__spv__forward_kernel_2 Logical
// CHECK: spirv.FDiv
// CHECK: spirv.GL.Sqrt

// Linear, one token (decode GEMV): one workgroup per output feature, its 64
// threads striding over the input features, then a tree of halvings in
// workgroup memory (6 barriers after the first).
// CHECK-LABEL: spirv.module @__spv__forward_kernel_4 Logical
// CHECK: spirv.GlobalVariable @__workgroup_mem__{{[0-9]+}} : !spirv.ptr<!spirv.struct<(!spirv.array<64 x f32>)>, Workgroup>
// CHECK: spirv.mlir.loop
// CHECK: spirv.FMul
// CHECK: spirv.FAdd
// CHECK-COUNT-7: spirv.ControlBarrier <Workgroup>
// CHECK: spirv.ExecutionMode @forward_kernel "LocalSize", 64, 1, 1

// RoPE: the position as a float, sin and cos of position x frequency.
// CHECK-LABEL: spirv.module @__spv__forward_kernel_18 Logical
// CHECK: spirv.ConvertUToF
// CHECK: spirv.GL.Cos
// CHECK: spirv.GL.Sin
// CHECK: spirv.ExecutionMode @forward_kernel "LocalSize", 32, 1, 1

// Attention: scores over blocks of 16 cached positions (a 5-d loop, its
// outer dims collapsed into one grid dim and recovered by division), the
// causal and padding mask, softmax (max, exp, sum, divide), then the
// weighted sum of values.
// CHECK-LABEL: spirv.module @__spv__forward_kernel_23 Logical
// CHECK: spirv.GL.SAbs
// CHECK: spirv.mlir.loop
// CHECK: spirv.FMul
// CHECK: spirv.ExecutionMode @forward_kernel "LocalSize", 64, 1, 1
// CHECK-LABEL: spirv.module @__spv__forward_kernel_24 Logical
// CHECK: spirv.UGreaterThanEqual
// CHECK: spirv.UGreaterThan
// CHECK: spirv.Select
// CHECK-LABEL: spirv.module @__spv__forward_kernel_26 Logical
// CHECK: spirv.GL.FMax
// CHECK-LABEL: spirv.module @__spv__forward_kernel_27 Logical
// CHECK: spirv.GL.Exp
// CHECK-LABEL: spirv.module @__spv__forward_kernel_30 Logical
// CHECK: spirv.FDiv
// CHECK-LABEL: spirv.module @__spv__forward_kernel_32 Logical
// CHECK: spirv.mlir.loop
// CHECK: spirv.FMul

// Residual add.
// CHECK-LABEL: spirv.module @__spv__forward_kernel_38 Logical
// CHECK: spirv.FAdd

// SwiGLU: silu(gate) * up = gate / (1 + exp(-gate)) * up.
// CHECK-LABEL: spirv.module @__spv__forward_kernel_52 Logical
// CHECK: spirv.FNegate
// CHECK: spirv.GL.Exp
// CHECK: spirv.FDiv
// CHECK: spirv.FMul
