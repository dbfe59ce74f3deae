// RUN: llmc-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(llm-gpu-map-loops{workgroup-size=64}))' | FileCheck %s
// RUN: llmc-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(llm-gpu-map-loops,convert-parallel-loops-to-gpu))' | FileCheck %s --check-prefix=LAUNCH
// RUN: llmc-opt %s --split-input-file --verify-diagnostics --pass-pipeline='builtin.module(func.func(llm-gpu-map-loops{reduction=all-reduce vector-width=4}))' | FileCheck %s --check-prefix=CUDA
// RUN: not llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-gpu-map-loops{reduction=shuffle}))' 2>&1 | FileCheck %s --check-prefix=BADRED
// RUN: not llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-gpu-map-loops{vector-width=3}))' 2>&1 | FileCheck %s --check-prefix=BADVEC
// BADRED: reduction must be 'tree' or 'all-reduce', got 'shuffle'
// BADVEC: vector-width must be 1, 2 or 4, got 3

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// An elementwise op over [n, 64]: one workgroup per row, 64 threads across
// the row (guarded), the row on block_y and the column tile on block_x;
// the host allocation becomes a device allocation on a stream.
// CHECK-LABEL: func.func @elementwise
// CHECK: %[[T:.*]] = gpu.wait async
// CHECK: %[[M:.*]], %[[T2:.*]] = gpu.alloc async [%[[T]]] (%{{.*}}) : memref<?x64xf32>
// CHECK: gpu.wait [%[[T2]]]
// CHECK: scf.parallel
// CHECK: scf.parallel
// CHECK: arith.cmpi ult
// CHECK: scf.if
// CHECK: arith.addf
// CHECK: memref.store
// CHECK: #gpu.loop_dim_map<processor = sequential{{.*}}#gpu.loop_dim_map<processor = thread_x
// CHECK: #gpu.loop_dim_map<processor = block_y{{.*}}#gpu.loop_dim_map<processor = block_x
// CHECK: gpu.dealloc async
// LAUNCH-LABEL: func.func @elementwise
// LAUNCH: gpu.launch blocks
// LAUNCH: gpu.launch blocks
// LAUNCH-NOT: scf.parallel
// LAUNCH: return
func.func @elementwise(%a: memref<?x64xf32>, %out: memref<?x64xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %a, %c0 : memref<?x64xf32>
  %tmp = memref.alloc(%n) : memref<?x64xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<?x64xf32>) outs(%tmp : memref<?x64xf32>) {
  ^bb0(%x: f32, %y: f32):
    %s = arith.addf %x, %x : f32
    linalg.yield %s : f32
  }
  memref.copy %tmp, %out : memref<?x64xf32> to memref<?x64xf32>
  memref.dealloc %tmp : memref<?x64xf32>
  return
}

// -----

#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>

// A short row reduction (32 < reduce-length): a sequential loop inside each
// invocation; the short static dim (16 rows) gets a 16-thread workgroup.
// CHECK-LABEL: func.func @reduction
// CHECK: %[[W:.*]] = arith.muli %{{.*}}, %c16
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c16) step (%[[W]])
// CHECK: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[W]]) step
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: processor = thread_x
// CHECK: processor = block_x
func.func @reduction(%a: memref<16x32xf32>, %out: memref<16xf32>) {
  linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<16x32xf32>) outs(%out : memref<16xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %sq = arith.mulf %x, %x : f32
    %s = arith.addf %acc, %sq : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A matrix-vector product (sum over 256 input features): a gpu.launch with
// one workgroup per output (grid x = the 172 outputs), 64 threads striding
// over the features, a tree of halvings in workgroup memory (memory space 3)
// with barriers, thread 0 adding the total to the output.
// CHECK-LABEL: func.func @gemv
// CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c172{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c64
// CHECK: %[[PART:.*]] = scf.for %{{.*}} = %[[TX]] to %c256 step %c64 iter_args
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[SH:.*]] = memref.alloc() : memref<1x64xf32, 3>
// CHECK: memref.store %[[PART]], %[[SH]][%{{.*}}, %[[TX]]]
// CHECK: gpu.barrier
// CHECK: arith.cmpi ult, %[[TX]], %c32
// CHECK-COUNT-6: gpu.barrier
// CHECK: memref.load %[[SH]][%{{.*}}, %c0{{.*}}]
// CHECK: arith.cmpi eq, %[[TX]], %c0
// CHECK: memref.store
// CHECK: gpu.terminator
// The CUDA form (reduction=all-reduce vector-width=4): 256 = 4 x 64, so each
// thread reads 4 consecutive weights and inputs per 128-bit load when the
// operands' offsets and outer strides are multiples of 4 (checked at run
// time; the scalar loop otherwise), and the partial sums meet in a
// gpu.all_reduce (warp shuffles on NVVM) instead of a workgroup-memory tree.
// CUDA-LABEL: func.func @gemv
// CUDA: gpu.launch
// CUDA: memref.extract_strided_metadata %{{.*}} : memref<1x256xf32>
// CUDA: memref.extract_strided_metadata %{{.*}} : memref<172x256xf32>
// CUDA: %[[PART:.*]] = scf.if %{{.*}} -> (f32) {
// CUDA: scf.for %{{.*}} = %{{.*}} to %c256 step %c256
// CUDA: vector.load %{{.*}} {alignment = 16 : i64} : memref<1x256xf32>, vector<4xf32>
// CUDA: vector.load %{{.*}} {alignment = 16 : i64} : memref<172x256xf32>, vector<4xf32>
// CUDA-COUNT-4: arith.mulf
// CUDA: } else {
// CUDA: scf.for %{{.*}} = %{{.*}} to %c256 step %c64
// CUDA: %[[SUM:.*]] = gpu.all_reduce add %[[PART]] uniform {
// CUDA-NOT: gpu.barrier
// CUDA: arith.addf %{{.*}}, %[[SUM]]
func.func @gemv(%x: memref<1x256xf32>, %w: memref<172x256xf32>, %y: memref<1x172xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<1x256xf32>, memref<172x256xf32>) outs(%y : memref<1x172xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// No parallel dim (a full reduction to a scalar): one invocation.
// CHECK-LABEL: func.func @full_reduction
// CHECK: scf.parallel (%{{.*}}) = (%c0) to (%c1) step
// CHECK: scf.parallel
// CHECK: scf.for
// CHECK: arith.addf
// LAUNCH-LABEL: func.func @full_reduction
// LAUNCH: gpu.launch
func.func @full_reduction(%a: memref<128xf32>, %out: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> ()>],
                  iterator_types = ["reduction"]}
      ins(%a : memref<128xf32>) outs(%out : memref<f32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Five parallel dims: the outer three collapse into one grid dim, so no
// invocation loops over a parallel dim.
// CHECK-LABEL: func.func @five_dims
// CHECK: scf.parallel (%{{.*}}, %{{.*}}, %{{.*}}) =
// CHECK: arith.divsi
// CHECK: processor = thread_x
// CHECK: mapping = [#gpu.loop_dim_map<processor = block_z{{.*}}processor = block_y{{.*}}processor = block_x
func.func @five_dims(%a: memref<2x4x?x19x16xf32>) {
  %cst = arith.constant 0.0 : f32
  linalg.fill ins(%cst : f32) outs(%a : memref<2x4x?x19x16xf32>)
  return
}

// -----

// A buffer read on the host cannot run on the GPU.
func.func @host_load(%a: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{reads or writes a buffer outside a parallel loop: it cannot run on the GPU}}
  %v = memref.load %a[%c0] : memref<4xf32>
  return %v : f32
}

// -----

// Softmax's row max over the (dynamic) cached positions: split across a
// workgroup like a sum, with maximumf and -inf as the identity.
// CHECK-LABEL: func.func @row_max
// CHECK: gpu.launch
// CHECK: %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c64 iter_args(%{{.*}} = %[[NINF]])
// CHECK: arith.maximumf
// CHECK: memref.alloc() : memref<1x64xf32, 3>
// CHECK: arith.maximumf
// CHECK: gpu.barrier
// CUDA-LABEL: func.func @row_max
// CUDA: gpu.all_reduce maximumf %{{.*}} uniform
// CUDA: arith.maximumf
func.func @row_max(%s: memref<2x4x?xf32>, %m: memref<2x4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d1, d2)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%s : memref<2x4x?xf32>) outs(%m : memref<2x4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %r = arith.maximumf %acc, %x : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// A linear projection over a 4-token block: the block's 4 rows are folded
// into each workgroup (4 accumulators per thread), so each weight row is
// read once per block, not once per token; the grid is (outputs, blocks).
// CHECK-LABEL: func.func @token_block
// CHECK: gpu.launch blocks(%{{.*}}, %{{.*}}, %{{.*}}) in (%{{.*}} = %c32{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %c1{{.*}})
// CHECK: scf.for %{{.*}} = %{{.*}} to %c256 step %c64 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (f32, f32, f32, f32)
// CHECK: memref.alloc() : memref<4x64xf32, 3>
// CUDA-LABEL: func.func @token_block
// CUDA: scf.for %{{.*}} -> (f32, f32, f32, f32)
// CUDA-COUNT-4: vector.load %{{.*}} : memref<32x256xf32>, vector<4xf32>
// CUDA: } else {
// CUDA-COUNT-4: gpu.all_reduce add
func.func @token_block(%x: memref<?x4x256xf32>, %w: memref<32x256xf32>, %y: memref<?x4x32xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>,
                                   affine_map<(d0, d1, d2, d3) -> (d2, d3)>,
                                   affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x4x256xf32>, memref<32x256xf32>) outs(%y : memref<?x4x32xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Attention's q.k over head_dim 64, keys stored along positions: one
// thread per score (neighbouring threads read neighbouring keys), not a
// workgroup per score.
// CHECK-LABEL: func.func @scores
// CHECK-NOT: gpu.launch
// CHECK: scf.parallel
// CHECK: processor = thread_x
func.func @scores(%q: memref<?x64xf32>, %k: memref<64x?xf32>, %s: memref<?x?xf32>) {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2) -> (d0, d2)>,
                                   affine_map<(d0, d1, d2) -> (d2, d1)>,
                                   affine_map<(d0, d1, d2) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<?x64xf32>, memref<64x?xf32>) outs(%s : memref<?x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %p : f32
    linalg.yield %r : f32
  }
  return
}
