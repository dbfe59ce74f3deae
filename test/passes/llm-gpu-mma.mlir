// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-gpu-mma,canonicalize))' | FileCheck %s
// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-gpu-mma{precision=tf32 min-rows=32},canonicalize))' | FileCheck %s --check-prefix=TF32
// RUN: not llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-gpu-mma{precision=fp8}))' 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: precision must be 'tf32' or '3xtf32', got 'fp8'

// A linear projection (the llm.schedule contraction over token blocks of 4,
// K = 64, N = 32): at least 16 token rows run the tensor-core kernel, fewer
// keep the contraction (decode GEMV).
// CHECK-LABEL: func.func @linear
// CHECK: %[[B:.*]] = memref.dim %{{.*}}, %c0 : memref<?x4x64xf32>
// CHECK: %[[ROWS:.*]] = arith.muli %[[B]], %c4
// CHECK: %[[BIG:.*]] = arith.cmpi uge, %[[ROWS]], %c16
// CHECK: scf.if %[[BIG]] {
// One workgroup of 4 warps per 16 x 32 tile of y.
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c1{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}}) threads({{.*}}) in (%{{.*}} = %c128
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c8 iter_args(%{{.*}} = %{{.*}}) -> (vector<2x2xf32>)
// 3xTF32: operands split into a TF32 part (low 13 mantissa bits cleared)
// and the remainder; three products.
// CHECK: arith.andi %{{.*}}, %c-8192_i32
// CHECK: arith.subf
// CHECK-COUNT-3: nvgpu.mma.sync({{.*}}) {mmaShape = [16, 8, 8], tf32Enabled} : (vector<4x1xf32>, vector<2x1xf32>, vector<2x2xf32>) -> vector<2x2xf32>
// Rows past the token count are not stored.
// CHECK: scf.if
// CHECK: vector.extract %{{.*}}[0, 0]
// CHECK: memref.store
// CHECK: } else {
// CHECK: linalg.generic
// CHECK-SAME: llm.schedule = "linear"
// TF32-LABEL: func.func @linear
// TF32: arith.cmpi uge, %{{.*}}, %c32
// TF32-NOT: arith.andi
// TF32: nvgpu.mma.sync
// TF32-NOT: nvgpu.mma.sync
// TF32: } else {
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @linear(%x: memref<?x4x64xf32>, %w: memref<32x64xf32>, %y: memref<?x4x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x4x64xf32>, memref<32x64xf32>) outs(%y : memref<?x4x32xf32>)
      attrs = {llm.schedule = "linear"} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// K = 60 is not a multiple of the MMA's 8: left alone.
// CHECK-LABEL: func.func @odd_k
// CHECK-NOT: nvgpu.mma.sync
// CHECK-NOT: scf.if
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @odd_k(%x: memref<?x4x60xf32>, %w: memref<32x60xf32>, %y: memref<?x4x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x4x60xf32>, memref<32x60xf32>) outs(%y : memref<?x4x32xf32>)
      attrs = {llm.schedule = "linear"} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Not a projection (no llm.schedule; e.g. attention scores): left alone.
// CHECK-LABEL: func.func @not_linear
// CHECK-NOT: nvgpu.mma.sync
#x = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
#w = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
#y = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
func.func @not_linear(%x: memref<?x4x64xf32>, %w: memref<32x64xf32>, %y: memref<?x4x32xf32>) {
  linalg.generic {indexing_maps = [#x, #w, #y],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x4x64xf32>, memref<32x64xf32>) outs(%y : memref<?x4x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}
