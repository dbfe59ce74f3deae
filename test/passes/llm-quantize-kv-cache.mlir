// RUN: llmc-opt %s --llm-quantize-kv-cache | FileCheck %s

// Every float cache becomes i8: the signature, the attention operands and
// results threaded through the layers; activations stay f32.
// CHECK-LABEL: func.func @two_layers
// CHECK-SAME: %[[KV:arg[0-9]+]]: !llm.kv_cache<2x64x4x8, i8>
// CHECK-SAME: -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, i8>)
// CHECK: %{{.*}}, %[[KV1:[a-z_0-9]+]] = llm.attention %{{.*}}, %{{.*}}, %{{.*}}, %[[KV]][%{{.*}}] {{.*}} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, i8>
// CHECK: %{{.*}}, %[[KV2:[a-z_0-9]+]] = llm.attention %{{.*}}, %{{.*}}, %{{.*}}, %[[KV1]][%{{.*}}] {{.*}} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, i8>
// CHECK: return %{{.*}}, %[[KV2]] : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, i8>
func.func @two_layers(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %kv: !llm.kv_cache<2x64x4x8, f32>, %pos: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>) {
  %o, %kv1 = llm.attention %q, %k, %v, %kv[%pos] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, f32>
  %o2, %kv2 = llm.attention %o, %k, %v, %kv1[%pos] {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, f32>
  return %o2, %kv2 : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>
}

// An int8 cache is left as it is.
// CHECK-LABEL: func.func @already
// CHECK-SAME: !llm.kv_cache<1x16x1x8, i8>
func.func @already(%kv: !llm.kv_cache<1x16x1x8, i8>) -> !llm.kv_cache<1x16x1x8, i8> {
  return %kv : !llm.kv_cache<1x16x1x8, i8>
}
