// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-cpu-prefetch))' | FileCheck %s

// A marked loop: one prefetch per cache line each base's reads touch, placed
// before the first read of that line, `llm.prefetch_bytes` further on; reads
// 32 bytes apart share a line. The attribute is gone afterwards.
// CHECK-LABEL: func.func @stream
// CHECK: scf.for %[[S:[a-z0-9]+]] =
// CHECK: %[[U:[0-9]+]] = arith.muli %[[S]]
// CHECK: %[[P0:[0-9]+]] = arith.addi %[[U]], %c2048 : index
// CHECK: memref.prefetch %{{.*}}[%[[P0]]], read, locality<3>, data : memref<?xi8>
// CHECK: vector.transfer_read
// CHECK-NOT: memref.prefetch
// CHECK: vector.transfer_read
// CHECK: %[[P1:[0-9]+]] = arith.addi %[[U]], %c2112 : index
// CHECK: memref.prefetch %{{.*}}[%[[P1]]]
// CHECK: vector.transfer_read
// CHECK-NOT: memref.prefetch
// CHECK: scf.yield
// CHECK-NOT: llm.prefetch_bytes
func.func @stream(%w: memref<?xi8>, %n: index) -> vector<32xi8> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %c144 = arith.constant 144 : index
  %pad = arith.constant 0 : i8
  %init = arith.constant dense<0> : vector<32xi8>
  %r = scf.for %s = %c0 to %n step %c1 iter_args(%acc = %init) -> vector<32xi8> {
    %u = arith.muli %s, %c144 : index
    %v0 = vector.transfer_read %w[%u], %pad {in_bounds = [true]} : memref<?xi8>, vector<32xi8>
    %a1 = arith.addi %u, %c32 : index
    %v1 = vector.transfer_read %w[%a1], %pad {in_bounds = [true]} : memref<?xi8>, vector<32xi8>
    %a2 = arith.addi %u, %c64 : index
    %v2 = vector.transfer_read %w[%a2], %pad {in_bounds = [true]} : memref<?xi8>, vector<32xi8>
    %x = arith.addi %v0, %v1 : vector<32xi8>
    %y = arith.addi %x, %v2 : vector<32xi8>
    %z = arith.addi %acc, %y : vector<32xi8>
    scf.yield %z : vector<32xi8>
  } {llm.prefetch_bytes = 2048 : i64}
  return %r : vector<32xi8>
}

// -----

// Unmarked loops get no prefetch.
// CHECK-LABEL: func.func @unmarked
// CHECK-NOT: memref.prefetch
func.func @unmarked(%w: memref<?xi8>, %n: index) -> vector<32xi8> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %pad = arith.constant 0 : i8
  %init = arith.constant dense<0> : vector<32xi8>
  %r = scf.for %s = %c0 to %n step %c1 iter_args(%acc = %init) -> vector<32xi8> {
    %v = vector.transfer_read %w[%s], %pad {in_bounds = [true]} : memref<?xi8>, vector<32xi8>
    %z = arith.addi %acc, %v : vector<32xi8>
    scf.yield %z : vector<32xi8>
  }
  return %r : vector<32xi8>
}
