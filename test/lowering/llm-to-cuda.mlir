// RUN: llmc-opt %S/Inputs/tiny-llama.mlir --llm-to-cuda="serialize=false cuda-arch=sm_80,sm_90" | FileCheck %s
// RUN: llmc-opt %S/Inputs/tiny-llama.mlir --llm-to-cuda="serialize=false mma=none" | FileCheck %s --check-prefix=SIMT
// RUN: rm -rf %t && mkdir -p %t && %python %S/../e2e/make_shape_ir.py %t/wide.mlir --dim 256 --hidden 512 --layers 1 --heads 4 --kv-heads 2 --vocab 64 --seq 32 && llmc-opt %t/wide.mlir --llm-to-cuda=serialize=false | FileCheck %s --check-prefix=VEC
// RUN: not llmc-opt %S/Inputs/tiny-llama.mlir --llm-to-cuda="cuda-arch=sm_75" 2>&1 | FileCheck %s --check-prefix=ARCH
// RUN: not llmc-opt %S/Inputs/tiny-llama.mlir --pass-pipeline="builtin.module(llm-to-cuda{serialize=false},gpu-module-to-binary{format=isa toolkit=/nonexistent},llm-cuda-bundle)" 2>&1 | FileCheck %s --check-prefix=LIBDEVICE

// The llm-to-cuda pipeline on a 2-layer GQA Llama (dim 128, 8 query heads
// over 2 KV heads, head_dim 16), stopped before PTX: the host function only
// allocates device buffers, slices and launches kernels of one gpu.module
// carrying an NVVM target per --cuda-arch; each op class is NVVM code.

// Host: device allocations, launches into the merged module, and the
// run-time choice between the tensor-core and GEMV kernels of each
// projection (token rows >= 16).
// CHECK-LABEL: func.func @forward
// CHECK-NOT: memref.load
// CHECK: gpu.alloc async
// CHECK: gpu.launch_func @llmc_kernels::@forward_kernel blocks in
// CHECK: arith.cmpi uge, %{{.*}}, %c16
// CHECK-NEXT: scf.if
// CHECK: gpu.launch_func @llmc_kernels::@{{.*}} threads in (%c128, %c1, %c1)
// CHECK: } else {
// CHECK: gpu.launch_func @llmc_kernels::@{{.*}} threads in (%c64, %c1, %c1)
// CHECK: return

// Kernels: one module, PTX 8.0 for both architectures.
// CHECK: gpu.module @llmc_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">, #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">]
// Embedding: a gather, one thread per element of a row.
// CHECK: llvm.func @forward_kernel(
// CHECK: nvvm.read.ptx.sreg.ctaid.y
// CHECK: nvvm.read.ptx.sreg.tid.x
// CHECK: llvm.load %{{.*}} : !llvm.ptr -> i32
// CHECK: nvvm.kernel, nvvm.maxntid = array<i32: 64, 1, 1>
// RMSNorm's sum of squares (and every split reduction): warp shuffles, then
// one exchange through shared memory between the warps.
// CHECK-DAG: llvm.mlir.global internal @__wg_{{.*}}() {addr_space = 3 : i32} : !llvm.array<32 x f32>
// CHECK-DAG: nvvm.shfl.sync bfly
// CHECK-DAG: nvvm.barrier0
// CHECK-DAG: llvm.call @__nv_sqrtf
// Prefill projections: m16n8k8 TF32 tensor-core products (3xTF32: three
// per k-step) in 128-thread workgroups.
// CHECK-DAG: nvvm.mma.sync A[{{.*}}] B[{{.*}}] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<tf32>, multiplicandBPtxType = #nvvm.mma_type<tf32>, shape = #nvvm.shape<m = 16, n = 8, k = 8>} : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
// CHECK-DAG: nvvm.kernel, nvvm.maxntid = array<i32: 128, 1, 1>
// RoPE: libdevice sin/cos (linked from the CUDA toolkit when serialized).
// CHECK-DAG: llvm.call @__nv_cosf
// CHECK-DAG: llvm.call @__nv_sinf
// SwiGLU: silu(g) * u = g / (1 + exp(-g)) * u.
// CHECK-DAG: llvm.fneg
// CHECK-DAG: llvm.fdiv
// Attention: the scores' max and exp (softmax).
// CHECK-DAG: llvm.intr.maximum
// CHECK-DAG: llvm.call @__nv_expf
// CHECK-DAG: llvm.func @__nv_expf(f32) -> f32

// mma=none: no tensor cores, every projection is the GEMV / SIMT kernel.
// SIMT-LABEL: func.func @forward
// SIMT-NOT: threads in (%c128
// SIMT: gpu.module @llmc_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">]
// SIMT-NOT: nvvm.mma.sync

// 256 input features = 4 x 64 threads: the GEMV reads weights and inputs
// with aligned 128-bit loads (ld.global.v4) when the run-time alignment
// check passes.
// VEC: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>
// VEC: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr -> vector<4xf32>

// Without the toolkit's libdevice, the math functions stay unresolved: an
// error at compile time, not at load time.
// LIBDEVICE: error: kernel module 'llmc_kernels' for sm_80 calls libdevice functions that were not linked (__nv_sqrtf): install the CUDA toolkit (nvvm/libdevice) or set CUDA_PATH

// ARCH: unknown CUDA architecture 'sm_75' (sm_80, sm_86, sm_89, sm_90, ...: Ampere or newer)
