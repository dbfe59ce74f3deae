// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(llm-cpu-vnni))' --split-input-file | FileCheck %s

// 8 and 4 lanes of zext(u8) * sext(s8) summed in fours: one vpdpbusd each
// (operands in either order).
// CHECK-LABEL: func.func @dot
// CHECK-SAME: (%[[ACC:.*]]: vector<8xi32>, %[[U:.*]]: vector<32xi8>, %[[S:.*]]: vector<32xi8>, %[[ACC4:.*]]: vector<4xi32>, %[[U4:.*]]: vector<16xi8>, %[[S4:.*]]: vector<16xi8>)
// CHECK: %[[R:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%[[ACC]], %[[U]], %[[S]]) : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
// CHECK: %[[R4:.*]] = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.128"(%[[ACC4]], %[[U4]], %[[S4]]) : (vector<4xi32>, vector<16xi8>, vector<16xi8>) -> vector<4xi32>
// CHECK: return %[[R]], %[[R4]]
func.func @dot(%acc: vector<8xi32>, %u: vector<32xi8>, %s: vector<32xi8>,
               %acc4: vector<4xi32>, %u4: vector<16xi8>, %s4: vector<16xi8>) -> (vector<8xi32>, vector<4xi32>) {
  %a = arith.extui %u : vector<32xi8> to vector<32xi32>
  %b = arith.extsi %s : vector<32xi8> to vector<32xi32>
  %p = arith.muli %a, %b : vector<32xi32>
  %q = vector.shape_cast %p : vector<32xi32> to vector<8x4xi32>
  %r = vector.multi_reduction <add>, %q, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a4 = arith.extui %u4 : vector<16xi8> to vector<16xi32>
  %b4 = arith.extsi %s4 : vector<16xi8> to vector<16xi32>
  %p4 = arith.muli %b4, %a4 : vector<16xi32>
  %q4 = vector.shape_cast %p4 : vector<16xi32> to vector<4x4xi32>
  %r4 = vector.multi_reduction <add>, %q4, %acc4 [1] : vector<4x4xi32> to vector<4xi32>
  return %r, %r4 : vector<8xi32>, vector<4xi32>
}

// -----

// Left alone: both operands sign-extended (vpdpbusd is unsigned x signed),
// sums of 2, and a max reduction.
// CHECK-LABEL: func.func @not_dot
// CHECK-NOT: llvm.call_intrinsic
// CHECK-COUNT-3: vector.multi_reduction
func.func @not_dot(%acc: vector<8xi32>, %u: vector<32xi8>, %s: vector<32xi8>, %acc2: vector<16xi32>) -> (vector<8xi32>, vector<16xi32>, vector<8xi32>) {
  %a = arith.extsi %u : vector<32xi8> to vector<32xi32>
  %b = arith.extsi %s : vector<32xi8> to vector<32xi32>
  %p = arith.muli %a, %b : vector<32xi32>
  %q = vector.shape_cast %p : vector<32xi32> to vector<8x4xi32>
  %r = vector.multi_reduction <add>, %q, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %c = arith.extui %u : vector<32xi8> to vector<32xi32>
  %p2 = arith.muli %c, %b : vector<32xi32>
  %q2 = vector.shape_cast %p2 : vector<32xi32> to vector<16x2xi32>
  %r2 = vector.multi_reduction <add>, %q2, %acc2 [1] : vector<16x2xi32> to vector<16xi32>
  %q3 = vector.shape_cast %p2 : vector<32xi32> to vector<8x4xi32>
  %r3 = vector.multi_reduction <maxsi>, %q3, %acc [1] : vector<8x4xi32> to vector<8xi32>
  return %r, %r2, %r3 : vector<8xi32>, vector<16xi32>, vector<8xi32>
}
