// RUN: llmc-opt %s -llm-fuse-qkv -split-input-file | FileCheck %s
// RUN: llmc-opt %s -llm-fuse-qkv=gate-up=false -split-input-file | FileCheck %s --check-prefix=NOGATEUP
// RUN: llmc-opt %s -llm-fuse-qkv=siblings=false -split-input-file | FileCheck %s --check-prefix=NOSIB

// Q, K, V of one input: one linear over the concatenated weights (pack-time
// llm.concat, Q rows first), then a slice per projection.
// CHECK-LABEL: func.func @qkv
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>)
// CHECK-DAG: %[[WQ:.*]] = llm.param "wq"
// CHECK-DAG: %[[WK:.*]] = llm.param "wk"
// CHECK-DAG: %[[WV:.*]] = llm.param "wv"
// CHECK: %[[W:.*]] = llm.concat %[[WQ]], %[[WK]], %[[WV]] {axis = 0 : i64} : tensor<64x64xf32>, tensor<32x64xf32>, tensor<32x64xf32> -> tensor<128x64xf32>
// CHECK-NEXT: %[[QKV:.*]] = llm.linear %[[X]], %[[W]] : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
// CHECK-NEXT: %[[T:.*]] = tensor.dim %[[QKV]], %c0
// CHECK-NEXT: %[[Q:.*]] = tensor.extract_slice %[[QKV]][0, 0] [%[[T]], 64] [1, 1] : tensor<?x128xf32> to tensor<?x64xf32>
// CHECK-NEXT: %[[K:.*]] = tensor.extract_slice %[[QKV]][0, 64] [%[[T]], 32] [1, 1] : tensor<?x128xf32> to tensor<?x32xf32>
// CHECK-NEXT: %[[V:.*]] = tensor.extract_slice %[[QKV]][0, 96] [%[[T]], 32] [1, 1] : tensor<?x128xf32> to tensor<?x32xf32>
// CHECK-NEXT: return %[[Q]], %[[K]], %[[V]]
// CHECK-NOT: llm.linear
// NOSIB-LABEL: func.func @qkv
// NOSIB-COUNT-3: llm.linear
// NOSIB-NOT: llm.concat
func.func @qkv(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %wk = llm.param "wk" : tensor<32x64xf32>
  %wv = llm.param "wv" : tensor<32x64xf32>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %v = llm.linear %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %q, %k, %v : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// Biases (Qwen-style) are concatenated the same way.
// CHECK-LABEL: func.func @qkv_bias
// CHECK-DAG: %[[WQ:.*]] = llm.param "wq"
// CHECK-DAG: %[[BQ:.*]] = llm.param "bq"
// CHECK-DAG: %[[WK:.*]] = llm.param "wk"
// CHECK-DAG: %[[BK:.*]] = llm.param "bk"
// CHECK: %[[W:.*]] = llm.concat %[[WQ]], %[[WK]] {axis = 0 : i64} {{.*}} -> tensor<96x64xf32>
// CHECK-NEXT: %[[B:.*]] = llm.concat %[[BQ]], %[[BK]] {axis = 0 : i64} : tensor<64xf32>, tensor<32xf32> -> tensor<96xf32>
// CHECK-NEXT: llm.linear %{{.*}}, %[[W]] bias(%[[B]] : tensor<96xf32>) : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
// CHECK-COUNT-2: tensor.extract_slice
func.func @qkv_bias(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %bq = llm.param "bq" : tensor<64xf32>
  %wk = llm.param "wk" : tensor<32x64xf32>
  %bk = llm.param "bk" : tensor<32xf32>
  %q = llm.linear %x, %wq bias(%bq : tensor<64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = llm.linear %x, %wk bias(%bk : tensor<32xf32>) : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %q, %k : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

// SwiGLU gate and up: one linear feeding the single-operand llm.swiglu
// (gate rows first). With gate-up=false they are still siblings: one linear
// and two slices feeding the two-operand form.
// CHECK-LABEL: func.func @gate_up
// CHECK: %[[W:.*]] = llm.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : tensor<172x64xf32>, tensor<172x64xf32> -> tensor<344x64xf32>
// CHECK-NEXT: %[[GU:.*]] = llm.linear %{{.*}}, %[[W]] : tensor<?x64xf32>, tensor<344x64xf32> -> tensor<?x344xf32>
// CHECK-NEXT: %[[S:.*]] = llm.swiglu %[[GU]] : tensor<?x344xf32> -> tensor<?x172xf32>
// CHECK-NEXT: return %[[S]]
// NOSIB-LABEL: func.func @gate_up
// NOSIB: llm.swiglu %{{.*}} : tensor<?x344xf32>
// NOGATEUP-LABEL: func.func @gate_up
// NOGATEUP: llm.linear {{.*}} -> tensor<?x344xf32>
// NOGATEUP: %[[G:.*]] = tensor.extract_slice %{{.*}}[0, 0]
// NOGATEUP: %[[U:.*]] = tensor.extract_slice %{{.*}}[0, 172]
// NOGATEUP: llm.swiglu %[[G]], %[[U]]
func.func @gate_up(%x: tensor<?x64xf32>) -> tensor<?x172xf32> {
  %wg = llm.param "wg" : tensor<172x64xf32>
  %wu = llm.param "wu" : tensor<172x64xf32>
  %g = llm.linear %x, %wg : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %u = llm.linear %x, %wu : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %s = llm.swiglu %g, %u : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
  return %s : tensor<?x172xf32>
}

// -----

// Negative: a gate used outside the swiglu cannot disappear into the
// single-operand form (siblings=false shows it untouched).
// NOSIB-LABEL: func.func @gate_used_twice
// NOSIB: %[[G:.*]] = llm.linear
// NOSIB: %[[U:.*]] = llm.linear
// NOSIB: llm.swiglu %[[G]], %[[U]] : tensor<?x172xf32>, tensor<?x172xf32>
// NOSIB-NOT: llm.concat
func.func @gate_used_twice(%x: tensor<?x64xf32>) -> (tensor<?x172xf32>, tensor<?x172xf32>) {
  %wg = llm.param "wg" : tensor<172x64xf32>
  %wu = llm.param "wu" : tensor<172x64xf32>
  %g = llm.linear %x, %wg : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %u = llm.linear %x, %wu : tensor<?x64xf32>, tensor<172x64xf32> -> tensor<?x172xf32>
  %s = llm.swiglu %g, %u : tensor<?x172xf32>, tensor<?x172xf32> -> tensor<?x172xf32>
  return %s, %g : tensor<?x172xf32>, tensor<?x172xf32>
}

// -----

// Negative: weights of different element types (f32 and bf16) stay apart.
// CHECK-LABEL: func.func @mixed_dtypes
// CHECK-NOT: llm.concat
// CHECK: llm.linear %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32>
// CHECK-NEXT: llm.linear %{{.*}} : tensor<?x64xf32>, tensor<32x64xbf16>
// CHECK-NEXT: return
func.func @mixed_dtypes(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>) {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %wk = llm.param "wk" : tensor<32x64xbf16>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xbf16> -> tensor<?x32xf32>
  return %q, %k : tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

// A bias on only some: the biased Q stays alone, K and V fuse.
// CHECK-LABEL: func.func @bias_on_some
// CHECK: %[[Q:.*]] = llm.linear %{{.*}}, %{{.*}} bias(%{{.*}} : tensor<64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[W:.*]] = llm.concat %{{.*}}, %{{.*}} {axis = 0 : i64} : tensor<32x64xf32>, tensor<32x64xf32> -> tensor<64x64xf32>
// CHECK-NEXT: llm.linear %{{.*}}, %[[W]] : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK: return %[[Q]]
func.func @bias_on_some(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>) {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %bq = llm.param "bq" : tensor<64xf32>
  %wk = llm.param "wk" : tensor<32x64xf32>
  %wv = llm.param "wv" : tensor<32x64xf32>
  %q = llm.linear %x, %wq bias(%bq : tensor<64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %v = llm.linear %x, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %q, %k, %v : tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>
}

// -----

// Negative: a linear that already has an epilogue, and one whose weight is
// a runtime value (not known at pack time), are not absorbed; the one
// plain linear left has no partner.
// CHECK-LABEL: func.func @epilogue_and_runtime_weight
// CHECK-NOT: llm.concat
// CHECK: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32>
// CHECK-NEXT: llm.linear %{{.*}}, %{{.*}} residual(%{{.*}} : tensor<?x64xf32>)
// CHECK-NEXT: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32>
// CHECK-NEXT: return
func.func @epilogue_and_runtime_weight(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>, %wd: tensor<64x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %wo = llm.param "wo" : tensor<64x64xf32>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %o = llm.linear %x, %wo residual(%r : tensor<?x64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %d = llm.linear %x, %wd : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %q, %o, %d : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// Negative: a weight defined after the first sibling is not available where
// the fused linear would go (run --llm-unify-params first to hoist it).
// CHECK-LABEL: func.func @weight_after_first
// CHECK-NOT: llm.concat
// CHECK-COUNT-2: llm.linear
func.func @weight_after_first(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %q = llm.linear %x, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %wk = llm.param "wk" : tensor<64x64xf32>
  %k = llm.linear %x, %wk : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %q, %k : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// A mistyped option is an error, not a silent default.
// RUN: not llmc-opt %s -llm-fuse-qkv=siblings=maybe 2>&1 | FileCheck %s --check-prefix=BADOPT
// BADOPT: for the --siblings option: 'maybe' is invalid
