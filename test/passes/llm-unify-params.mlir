// RUN: llmc-opt %s -llm-unify-params -split-input-file -verify-diagnostics | FileCheck %s
// RUN: llmc-opt %s -llm-unify-params=hoist=false -split-input-file -verify-diagnostics | FileCheck %s --check-prefix=NOHOIST

// Duplicates are merged and every param moves to the top in first-use order.
// CHECK-LABEL: func.func @merge_and_hoist
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>)
// CHECK-NEXT: %[[A:.*]] = llm.param "a" : tensor<4x4xf32>
// CHECK-NEXT: %[[B:.*]] = llm.param "b" : tensor<4xf32>
// CHECK-NEXT: %[[L1:.*]] = llm.linear %[[X]], %[[A]]
// CHECK-NEXT: %[[N:.*]] = llm.rms_norm %[[L1]], %[[B]]
// CHECK-NEXT: %[[L2:.*]] = llm.linear %[[N]], %[[A]]
// CHECK-NEXT: return %[[L2]]
// NOHOIST-LABEL: func.func @merge_and_hoist
// NOHOIST-NEXT: llm.param "a"
// NOHOIST-NEXT: llm.linear
// NOHOIST-NEXT: llm.param "b"
// NOHOIST-NEXT: llm.rms_norm
// NOHOIST-NEXT: llm.linear
// NOHOIST-NEXT: return
func.func @merge_and_hoist(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %a = llm.param "a" : tensor<4x4xf32>
  %0 = llm.linear %x, %a : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>
  %b = llm.param "b" : tensor<4xf32>
  %1 = llm.rms_norm %0, %b {eps = 1.0e-05 : f64} : tensor<?x4xf32>, tensor<4xf32>
  %a2 = llm.param "a" : tensor<4x4xf32>
  %2 = llm.linear %1, %a2 : tensor<?x4xf32>, tensor<4x4xf32> -> tensor<?x4xf32>
  return %2 : tensor<?x4xf32>
}

// -----

// Params inside nested regions (e.g. an early-exit branch) are hoisted to the
// function's entry block and merged. Without hoisting, the two "w" in sibling
// regions stay apart: neither dominates the other.
// CHECK-LABEL: func.func @nested_region
// CHECK-NEXT: %[[W:.*]] = llm.param "w" : tensor<4xf32>
// CHECK-NEXT: %[[V:.*]] = llm.param "v" : tensor<4xf32>
// CHECK-NEXT: scf.if
// CHECK-NEXT: llm.add %[[W]], %[[V]]
// CHECK-NOT: llm.param
// NOHOIST-LABEL: func.func @nested_region
// NOHOIST: llm.param "w"
// NOHOIST: llm.param "v"
// NOHOIST: else
// NOHOIST-NEXT: llm.param "w"
func.func @nested_region(%c: i1) -> tensor<4xf32> {
  %r = scf.if %c -> tensor<4xf32> {
    %w = llm.param "w" : tensor<4xf32>
    %v = llm.param "v" : tensor<4xf32>
    %s = llm.add %w, %v : tensor<4xf32>
    scf.yield %s : tensor<4xf32>
  } else {
    %w = llm.param "w" : tensor<4xf32>
    scf.yield %w : tensor<4xf32>
  }
  return %r : tensor<4xf32>
}

// -----

// Each function keeps its own params; the same declaration in two functions
// is fine.
// CHECK-LABEL: func.func @f1
// CHECK-NEXT: llm.param "shared"
// CHECK-LABEL: func.func @f2
// CHECK-NEXT: llm.param "shared"
func.func @f1() -> tensor<4xf32> {
  %w = llm.param "shared" : tensor<4xf32>
  return %w : tensor<4xf32>
}
func.func @f2() -> tensor<4xf32> {
  %w = llm.param "shared" : tensor<4xf32>
  return %w : tensor<4xf32>
}

// -----

// Conflicting declarations of one weight are an error, within a function or
// across functions.
func.func @conflict_type() -> (tensor<4xf32>, tensor<8xf32>) {
  // expected-note @+1 {{first declaration}}
  %a = llm.param "w" : tensor<4xf32>
  // expected-error @+1 {{weight 'w' is declared as 'tensor<8xf32>' here and as 'tensor<4xf32>' elsewhere}}
  %b = llm.param "w" : tensor<8xf32>
  return %a, %b : tensor<4xf32>, tensor<8xf32>
}

// -----

func.func @conflict_quant_a() -> tensor<4x32xi4> {
  // expected-note @+1 {{first declaration}}
  %a = llm.param "q" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x32xi4>
  return %a : tensor<4x32xi4>
}
func.func @conflict_quant_b() -> tensor<4x32xi4> {
  // expected-error @+1 {{weight 'q' is declared as 'tensor<4x32xi4>' with #llm.quant<bits = 4, group = 32, scheme = gguf_q4_1, granularity = block> here and as 'tensor<4x32xi4>' with #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block> elsewhere}}
  %a = llm.param "q" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_1, granularity = block>} : tensor<4x32xi4>
  return %a : tensor<4x32xi4>
}
