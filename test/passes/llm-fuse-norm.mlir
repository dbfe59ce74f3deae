// RUN: llmc-opt %s -llm-fuse-norm -split-input-file | FileCheck %s
// RUN: llmc-opt %s -llm-fuse-norm=fold-scale=false -split-input-file | FileCheck %s --check-prefix=NOFOLD
// RUN: llmc-opt %s -llm-fuse-norm=residual=false -split-input-file | FileCheck %s --check-prefix=NORES

// Residual add + RMSNorm: one op yields the sum (next residual) and the
// normalized row; the scale moves into both consuming linears' weights as a
// pack-time llm.scale_columns, and the norm loses its weight operand.
// CHECK-LABEL: func.func @block
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[A:.*]]: tensor<?x64xf32>)
// CHECK-DAG: %[[G:.*]] = llm.param "g"
// CHECK-DAG: %[[WQ:.*]] = llm.param "wq"
// CHECK-DAG: %[[WK:.*]] = llm.param "wk"
// CHECK: %[[H:.*]], %[[N:.*]] = llm.add_rms_norm %[[X]], %[[A]] {eps = 1.000000e-05 : f64} : tensor<?x64xf32>
// CHECK-NEXT: %[[WQG:.*]] = llm.scale_columns %[[WQ]], %[[G]] : tensor<64x64xf32>, tensor<64xf32>
// CHECK-NEXT: %[[Q:.*]] = llm.linear %[[N]], %[[WQG]]
// CHECK-NEXT: %[[WKG:.*]] = llm.scale_columns %[[WK]], %[[G]] : tensor<32x64xf32>, tensor<64xf32>
// CHECK-NEXT: %[[K:.*]] = llm.linear %[[N]], %[[WKG]]
// CHECK-NEXT: return %[[H]], %[[Q]], %[[K]]
// NOFOLD-LABEL: func.func @block
// NOFOLD: llm.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
// NOFOLD-NOT: llm.scale_columns
// NORES-LABEL: func.func @block
// NORES: %[[H:.*]] = llm.add
// NORES-NEXT: %[[N:.*]] = llm.rms_norm %[[H]] {eps = 1.000000e-05 : f64} : tensor<?x64xf32>
// NORES-NEXT: llm.scale_columns
func.func @block(%x: tensor<?x64xf32>, %a: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x32xf32>) {
  %g = llm.param "g" : tensor<64xf32>
  %wq = llm.param "wq" : tensor<64x64xf32>
  %wk = llm.param "wk" : tensor<32x64xf32>
  %h = llm.add %x, %a : tensor<?x64xf32>
  %n = llm.rms_norm %h, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q = llm.linear %n, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = llm.linear %n, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %h, %q, %k : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x32xf32>
}

// -----

// Negative: the normalized value is used twice, by a linear and by
// something else (here the return), so the scale cannot move into the
// weight: untouched.
// CHECK-LABEL: func.func @norm_used_twice
// CHECK: %[[N:.*]] = llm.rms_norm %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
// CHECK-NEXT: %[[Q:.*]] = llm.linear %[[N]], %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32>
// CHECK-NEXT: return %[[N]], %[[Q]]
// CHECK-NOT: llm.scale_columns
func.func @norm_used_twice(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %g = llm.param "g" : tensor<64xf32>
  %wq = llm.param "wq" : tensor<64x64xf32>
  %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q = llm.linear %n, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %n, %q : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// Negative: a shared weight (tied embedding / lm_head) would need a second,
// scaled copy: the norm keeps its scale.
// CHECK-LABEL: func.func @tied
// CHECK: llm.rms_norm %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
// CHECK-NOT: llm.scale_columns
func.func @tied(%x: tensor<?x64xf32>, %t: tensor<?xi32>) -> (tensor<?x64xf32>, tensor<?x100xf32>) {
  %g = llm.param "g" : tensor<64xf32>
  %e = llm.param "emb" : tensor<100x64xf32>
  %h = llm.embedding %e[%t] : tensor<100x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %l = llm.linear %n, %e : tensor<?x64xf32>, tensor<100x64xf32> -> tensor<?x100xf32>
  return %h, %l : tensor<?x64xf32>, tensor<?x100xf32>
}

// -----

// Negative: scaling a bf16 weight would round it (not exact), and a scale
// only known at run time cannot be folded at pack time.
// CHECK-LABEL: func.func @bf16_weight
// CHECK: llm.rms_norm %{{.*}}, %{{.*}} {{.*}}tensor<64xf32>
// CHECK-NOT: llm.scale_columns
// CHECK-LABEL: func.func @runtime_scale
// CHECK: llm.rms_norm %{{.*}}, %{{.*}} {{.*}}tensor<64xf32>
// CHECK-NOT: llm.scale_columns
func.func @bf16_weight(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %g = llm.param "g" : tensor<64xf32>
  %w = llm.param "w" : tensor<64x64xbf16>
  %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q = llm.linear %n, %w : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  return %q : tensor<?x64xf32>
}
func.func @runtime_scale(%x: tensor<?x64xf32>, %g: tensor<64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %n = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q = llm.linear %n, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %q : tensor<?x64xf32>
}

// -----

// An add whose sum feeds only the norm still fuses (the sum result is
// simply unused); the scale stays when the consumer is not a linear.
// CHECK-LABEL: func.func @add_then_norm_only
// CHECK: %{{.*}}, %[[N:.*]] = llm.add_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
// CHECK-NEXT: llm.silu %[[N]]
// CHECK-NOT: llm.add
func.func @add_then_norm_only(%x: tensor<?x64xf32>, %a: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %g = llm.param "g" : tensor<64xf32>
  %h = llm.add %x, %a : tensor<?x64xf32>
  %n = llm.rms_norm %h, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %s = llm.silu %n : tensor<?x64xf32>
  return %s : tensor<?x64xf32>
}
