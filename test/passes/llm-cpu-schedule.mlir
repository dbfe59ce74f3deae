// RUN: llmc-opt %s --llm-cpu-schedule --split-input-file --verify-diagnostics | FileCheck %s
// RUN: llmc-opt %s --llm-cpu-schedule=print-schedule --split-input-file --verify-diagnostics 2>&1 >/dev/null | FileCheck %s --check-prefix=SCHED

// A tagged linear: parallel tasks of 16 output rows, 1 x 4 x 4 register
// tiles, the 64-feature reduction split into 16-lane partial sums kept in
// registers across the reduction loop.
// CHECK-LABEL: func.func @linear
// CHECK: scf.forall (%{{.*}}) in (8)
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c16 iter_args(%{{.*}} = %{{.*}}, %[[ACC:[a-z0-9_]+]] = %{{.*}}) -> (tensor<1x4x4x16xf32>, vector<1x4x4x16xf32>)
// CHECK: vector.transfer_read
// CHECK: arith.mulf %{{.*}}, %{{.*}} : vector<1x4x4x16xf32>
// CHECK: arith.addf %[[ACC]], %{{.*}} : vector<1x4x4x16xf32>
// CHECK: vector.multi_reduction <add>
// SCHED: transform.named_sequence @__transform_main
// SCHED: transform.structured.match ops{["linalg.generic"]} attributes {llm.schedule = "linear", llm.tiles = array<i64: 16, 4, 16>}
// SCHED: transform.structured.tile_using_forall %{{.*}} tile_sizes [0, 0, 16]
// SCHED: transform.structured.tile_reduction_using_for %{{.*}} by tile_sizes = [0, 0, 0, 16]
#mx = affine_map<(b, t, o, i) -> (b, t, i)>
#mw = affine_map<(b, t, o, i) -> (o, i)>
#my = affine_map<(b, t, o, i) -> (b, t, o)>
func.func @linear(%x: tensor<?x4x64xf32>, %w: tensor<128x64xf32>, %init: tensor<?x4x128xf32>) -> tensor<?x4x128xf32> {
  %y = linalg.generic {indexing_maps = [#mx, #mw, #my], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
    ins(%x, %w : tensor<?x4x64xf32>, tensor<128x64xf32>) outs(%init : tensor<?x4x128xf32>)
    attrs = {llm.schedule = "linear", llm.tiles = array<i64: 16, 4, 16>} {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x4x128xf32>
  return %y : tensor<?x4x128xf32>
}

// -----

// Row-wise ops become tasks of 16 tokens; per-head ops one task per head.
// CHECK-LABEL: func.func @rows_and_heads
// CHECK: scf.forall
// CHECK: scf.forall (%{{.*}}, %{{.*}}) in (4, 2)
#id2 = affine_map<(t, d) -> (t, d)>
#id4 = affine_map<(a, b, c, d) -> (a, b, c, d)>
func.func @rows_and_heads(%x: tensor<?x64xf32>, %s: tensor<4x2x?x?xf32>) -> (tensor<?x64xf32>, tensor<4x2x?x?xf32>) {
  %r = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
    ins(%x : tensor<?x64xf32>) outs(%x : tensor<?x64xf32>) attrs = {llm.schedule = "rows"} {
  ^bb0(%a: f32, %b: f32):
    %n = arith.negf %a : f32
    linalg.yield %n : f32
  } -> tensor<?x64xf32>
  %h = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
    ins(%s : tensor<4x2x?x?xf32>) outs(%s : tensor<4x2x?x?xf32>) attrs = {llm.schedule = "heads"} {
  ^bb0(%a: f32, %b: f32):
    %e = math.exp %a : f32
    linalg.yield %e : f32
  } -> tensor<4x2x?x?xf32>
  return %r, %h : tensor<?x64xf32>, tensor<4x2x?x?xf32>
}

// -----

#id1 = affine_map<(t) -> (t)>
func.func @unknown(%x: tensor<?xf32>) -> tensor<?xf32> {
  // expected-error @+1 {{unknown llm.schedule or malformed llm.tiles}}
  %r = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
    ins(%x : tensor<?xf32>) outs(%x : tensor<?xf32>) attrs = {llm.schedule = "fancy"} {
  ^bb0(%a: f32, %b: f32):
    linalg.yield %a : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}
