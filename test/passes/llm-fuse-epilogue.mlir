// RUN: llmc-opt %s -llm-fuse-epilogue -split-input-file | FileCheck %s
// RUN: llmc-opt %s -llm-fuse-epilogue=activation=false -split-input-file | FileCheck %s --check-prefix=NOACT
// RUN: llmc-opt %s -llm-fuse-epilogue=residual=false -split-input-file | FileCheck %s --check-prefix=NORES

// The activation of a biased linear, the residual add after the next one
// (either operand order), and a plain silu all fold into their linears.
// CHECK-LABEL: func.func @act_and_residual
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[R:.*]]: tensor<?x64xf32>)
// CHECK: %[[A:.*]] = llm.linear %[[X]], %{{.*}} bias(%{{.*}} : tensor<64xf32>) activation gelu : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[H:.*]] = llm.linear %[[A]], %{{.*}} residual(%[[R]] : tensor<?x64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[S:.*]] = llm.linear %[[X]], %{{.*}} activation silu
// CHECK-NEXT: return %[[H]], %[[S]]
// NOACT-LABEL: func.func @act_and_residual
// NOACT: llm.gelu
// NOACT: llm.linear {{.*}} residual(
// NOACT: llm.silu
// NORES-LABEL: func.func @act_and_residual
// NORES: llm.linear {{.*}} activation gelu
// NORES: llm.add
func.func @act_and_residual(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<64x64xf32>
  %b = llm.param "b" : tensor<64xf32>
  %w2 = llm.param "w2" : tensor<64x64xf32>
  %y = llm.linear %x, %w bias(%b : tensor<64xf32>) : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %a = llm.gelu %y : tensor<?x64xf32>
  %o = llm.linear %a, %w2 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %h = llm.add %r, %o : tensor<?x64xf32>
  %z = llm.linear %x, %w2 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %s = llm.silu %z : tensor<?x64xf32>
  return %h, %s : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// act(x W^T) + r: both into one linear (the activation applies before the
// residual, matching the epilogue's order).
// CHECK-LABEL: func.func @act_then_add
// CHECK: %[[Y:.*]] = llm.linear %{{.*}}, %{{.*}} residual(%{{.*}} : tensor<?x64xf32>) activation silu
// CHECK-NEXT: return %[[Y]]
func.func @act_then_add(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %a = llm.silu %y : tensor<?x64xf32>
  %h = llm.add %a, %r : tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// -----

// Negative: act(x W^T + r) is not the epilogue's order: the residual folds,
// the activation after it stays.
// CHECK-LABEL: func.func @add_then_act
// CHECK: %[[Y:.*]] = llm.linear %{{.*}}, %{{.*}} residual(%{{.*}} : tensor<?x64xf32>) : tensor<?x64xf32>
// CHECK-NEXT: %[[A:.*]] = llm.silu %[[Y]]
// CHECK-NEXT: return %[[A]]
func.func @add_then_act(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %h = llm.add %y, %r : tensor<?x64xf32>
  %a = llm.silu %h : tensor<?x64xf32>
  return %a : tensor<?x64xf32>
}

// -----

// Negative: the linear's raw result is also used elsewhere: untouched.
// CHECK-LABEL: func.func @used_twice
// CHECK: %[[Y:.*]] = llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[A:.*]] = llm.silu %[[Y]]
// CHECK-NEXT: return %[[A]], %[[Y]]
func.func @used_twice(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %a = llm.silu %y : tensor<?x64xf32>
  return %a, %y : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// The sum of two linears: one becomes the other's residual (the residual
// is computed first so it dominates the fused linear).
// CHECK-LABEL: func.func @two_linears
// CHECK: %[[Z:.*]] = llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[H:.*]] = llm.linear %{{.*}}, %{{.*}} residual(%[[Z]] : tensor<?x64xf32>)
// CHECK-NEXT: return %[[H]]
func.func @two_linears(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64x64xf32>
  %w2 = llm.param "w2" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %z = llm.linear %x, %w2 : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %h = llm.add %y, %z : tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}

// -----

// Quantized linears take epilogues alike.
// CHECK-LABEL: func.func @qlinear
// CHECK: llm.qlinear %{{.*}}, %{{.*}} scales(%{{.*}} : tensor<64x2xf32>) residual(%{{.*}} : tensor<?x64xf32>) activation silu
// CHECK-NOT: llm.silu
// CHECK-NOT: llm.add
func.func @qlinear(%x: tensor<?x64xf32>, %r: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %q = llm.param "q" : tensor<64x64xi4>
  %s = llm.param "s" : tensor<64x2xf32>
  %y = llm.qlinear %x, %q scales(%s : tensor<64x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>} : tensor<?x64xf32>, tensor<64x64xi4> -> tensor<?x64xf32>
  %a = llm.silu %y : tensor<?x64xf32>
  %h = llm.add %r, %a : tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}
