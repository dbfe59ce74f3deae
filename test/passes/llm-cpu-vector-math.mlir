// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(llm-cpu-vector-math))' --split-input-file | FileCheck %s

// An exp over an f32 vector becomes inline arithmetic (range reduction by
// ln 2, a polynomial, the exponent put back by integer bits); a scalar exp
// and an f64 vector exp keep their math.exp (libm calls later).
// CHECK-LABEL: func.func @exps
// CHECK-NOT: math.exp %{{.*}} : vector<16xf32>
// CHECK: math.fma %{{.*}} : vector<16xf32>
// CHECK: arith.bitcast %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK-DAG: math.exp %{{.*}} : f32
// CHECK-DAG: math.exp %{{.*}} : vector<4xf64>
// CHECK: return
func.func @exps(%v: vector<16xf32>, %s: f32, %d: vector<4xf64>) -> (vector<16xf32>, f32, vector<4xf64>) {
  %a = math.exp %v : vector<16xf32>
  %b = math.exp %s : f32
  %c = math.exp %d : vector<4xf64>
  return %a, %b, %c : vector<16xf32>, f32, vector<4xf64>
}

// -----

// Nothing to do: the function is left as it is.
// CHECK-LABEL: func.func @none
// CHECK-NEXT: arith.addf
// CHECK-NEXT: return
func.func @none(%v: vector<16xf32>) -> vector<16xf32> {
  %a = arith.addf %v, %v : vector<16xf32>
  return %a : vector<16xf32>
}
