// Folders and canonicalization patterns of the llm dialect.
// RUN: llmc-opt %s -canonicalize -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @add_zero
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NOT: llm.add
// CHECK: return %[[X]], %[[X]]
func.func @add_zero(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %zero = arith.constant dense<0.0> : tensor<4xf32>
  %0 = llm.add %x, %zero : tensor<4xf32>
  // Commutative: the constant moves to the right, then folds.
  %1 = llm.add %zero, %x : tensor<4xf32>
  return %0, %1 : tensor<4xf32>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @mul_one
// CHECK-SAME: (%[[X:.*]]: tensor<4xf32>)
// CHECK-NOT: llm.mul
// CHECK: return %[[X]]
func.func @mul_one(%x: tensor<4xf32>) -> tensor<4xf32> {
  %one = arith.constant dense<1.0> : tensor<4xf32>
  %0 = llm.mul %one, %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// x * 0 is not folded: NaN * 0 = NaN and Inf * 0 = NaN.
// CHECK-LABEL: func.func @mul_zero_kept
// CHECK: llm.mul
func.func @mul_zero_kept(%x: tensor<4xf32>) -> tensor<4xf32> {
  %zero = arith.constant dense<0.0> : tensor<4xf32>
  %0 = llm.mul %x, %zero : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @constant_fold
// CHECK-NOT: llm.add
// CHECK-NOT: llm.mul
// CHECK: %[[C:.*]] = arith.constant dense<[7.000000e+00, 1.000000e+01]> : tensor<2xf32>
// CHECK: return %[[C]]
func.func @constant_fold() -> tensor<2xf32> {
  %a = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %b = arith.constant dense<[3.0, 4.0]> : tensor<2xf32>
  %s = llm.add %a, %b : tensor<2xf32>        // [4, 6]
  %two = arith.constant dense<[1.75, 1.6666666]> : tensor<2xf32>
  %p = llm.mul %s, %two : tensor<2xf32>      // [7, 10]
  return %p : tensor<2xf32>
}

// -----

// CHECK-LABEL: func.func @concat_single
// CHECK-SAME: (%[[W:.*]]: tensor<4x4xf32>)
// CHECK-NOT: llm.concat
// CHECK: return %[[W]]
func.func @concat_single(%w: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %0 = llm.concat %w {axis = 0 : i64} : tensor<4x4xf32> -> tensor<4x4xf32>
  return %0 : tensor<4x4xf32>
}

// -----

// CHECK-LABEL: func.func @concat_flatten
// CHECK-SAME: (%[[A:.*]]: tensor<4x4xf32>, %[[B:.*]]: tensor<2x4xf32>, %[[C:.*]]: tensor<2x4xf32>)
// CHECK: %[[R:.*]] = llm.concat %[[A]], %[[B]], %[[C]], %[[A]] {axis = 0 : i64} : tensor<4x4xf32>, tensor<2x4xf32>, tensor<2x4xf32>, tensor<4x4xf32> -> tensor<12x4xf32>
// CHECK-NEXT: return %[[R]]
func.func @concat_flatten(%a: tensor<4x4xf32>, %b: tensor<2x4xf32>, %c: tensor<2x4xf32>) -> tensor<12x4xf32> {
  %bc = llm.concat %b, %c {axis = 0 : i64} : tensor<2x4xf32>, tensor<2x4xf32> -> tensor<4x4xf32>
  %0 = llm.concat %a, %bc, %a {axis = 0 : i64} : tensor<4x4xf32>, tensor<4x4xf32>, tensor<4x4xf32> -> tensor<12x4xf32>
  return %0 : tensor<12x4xf32>
}

// -----

// Nested concats on another axis stay nested.
// CHECK-LABEL: func.func @concat_other_axis
// CHECK: llm.concat %{{.*}}, %{{.*}} {axis = 1 : i64}
// CHECK: llm.concat %{{.*}}, %{{.*}} {axis = 0 : i64}
func.func @concat_other_axis(%a: tensor<4x4xf32>) -> tensor<8x8xf32> {
  %0 = llm.concat %a, %a {axis = 1 : i64} : tensor<4x4xf32>, tensor<4x4xf32> -> tensor<4x8xf32>
  %1 = llm.concat %0, %0 {axis = 0 : i64} : tensor<4x8xf32>, tensor<4x8xf32> -> tensor<8x8xf32>
  return %1 : tensor<8x8xf32>
}

// -----

// Unused weights and computations are Pure: canonicalization erases them,
// and equal params are merged by CSE.
// CHECK-LABEL: func.func @dead_code
// CHECK-NOT: llm.param "unused"
// CHECK-NOT: llm.silu
// CHECK: return
func.func @dead_code(%x: tensor<4xf32>) -> tensor<4xf32> {
  %w = llm.param "unused" : tensor<4x4xf32>
  %0 = llm.silu %x : tensor<4xf32>
  return %x : tensor<4xf32>
}
