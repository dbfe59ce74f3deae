// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-cpu-openmp-loops))' | FileCheck %s
// RUN: llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-cpu-openmp-loops{schedule=dynamic}))' | FileCheck %s --check-prefix=DYN
// RUN: not llmc-opt %s --split-input-file --pass-pipeline='builtin.module(func.func(llm-cpu-openmp-loops{schedule=nonsense}))' 2>&1 | FileCheck %s --check-prefix=BAD

// A parallel region around one loop forks only when the loop has more than
// one iteration (ub - lb > step); otherwise the calling thread runs the
// region's code with the loop as an scf.for, without any OpenMP call. The
// loop gets the schedule option's kind.
// CHECK-LABEL: func.func @one_loop
// CHECK-SAME: (%[[N:.*]]: index, %[[BUF:.*]]: memref<?xf32>)
// CHECK: %[[SPAN:.*]] = arith.subi %[[N]], %[[C0:.*]] : index
// CHECK: %[[MANY:.*]] = arith.cmpi sgt, %[[SPAN]], %[[C1:.*]] : index
// CHECK: scf.if %[[MANY]] {
// CHECK-NEXT: omp.parallel {
// CHECK: omp.wsloop schedule(static)
// CHECK: omp.loop_nest (%[[I:.*]]) : index = (%[[C0]]) to (%[[N]]) step (%[[C1]])
// CHECK-NEXT: memref.store %{{.*}}, %[[BUF]][%[[I]]]
// CHECK: } else {
// CHECK-NEXT: %[[V:.*]] = arith.addf
// CHECK-NEXT: scf.for %[[J:.*]] = %[[C0]] to %[[N]] step %[[C1]] {
// CHECK-NEXT: memref.store %[[V]], %[[BUF]][%[[J]]]
// CHECK-NEXT: }
// CHECK-NEXT: }
// CHECK-NOT: omp.
// CHECK: return
// DYN-LABEL: func.func @one_loop
// DYN: omp.wsloop schedule(dynamic)
// BAD: unknown schedule 'nonsense' (static, dynamic or guided)
func.func @one_loop(%n: index, %buf: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  omp.parallel {
    %v = arith.addf %f, %f : f32
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %v, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// A loop known to have several iterations forks unconditionally; a region
// whose code holds other OpenMP ops (a barrier here), and a kernel (bytes
// widened for a dot product), have no sequential form and get an `if`
// clause instead.
// CHECK-LABEL: func.func @no_sequential_form
// CHECK-NOT: scf.if
// CHECK: omp.parallel {
// CHECK: omp.wsloop schedule(static)
// CHECK: omp.parallel if(%{{.*}}) {
// CHECK: omp.barrier
// CHECK: omp.parallel if(%{{.*}}) {
// CHECK: arith.extsi
// CHECK-NOT: scf.if
// CHECK: return
func.func @no_sequential_form(%n: index, %buf: memref<?xf32>,
                              %bytes: memref<?xi8>, %out: memref<?xi32>) {
  %z = arith.constant 0 : i8
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %f = arith.constant 1.0 : f32
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%c8) step (%c1) {
        memref.store %f, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    omp.barrier
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %f, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        %b = vector.transfer_read %bytes[%i], %z : memref<?xi8>, vector<32xi8>
        %w = arith.extsi %b : vector<32xi8> to vector<32xi32>
        vector.transfer_write %w, %out[%i] : vector<32xi32>, memref<?xi32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}

// -----

// Two loops in one region, a region with an `if` already, and a loop whose
// bound is computed inside the region keep their parallel regions as they
// are; a loop's own schedule stays.
// CHECK-LABEL: func.func @left_alone
// CHECK: omp.parallel {
// CHECK: omp.wsloop schedule(guided)
// CHECK: omp.wsloop schedule(static)
// CHECK: omp.parallel if(%{{.*}}) {
// CHECK-NOT: arith.cmpi
// CHECK: omp.parallel {
// CHECK: arith.addi
func.func @left_alone(%n: index, %c: i1, %buf: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  omp.parallel {
    omp.wsloop schedule(guided) {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %f, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %f, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel if(%c) {
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) {
        memref.store %f, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  omp.parallel {
    %m = arith.addi %n, %c1 : index
    omp.wsloop {
      omp.loop_nest (%i) : index = (%c0) to (%m) step (%c1) {
        memref.store %f, %buf[%i] : memref<?xf32>
        omp.yield
      }
    }
    omp.terminator
  }
  return
}
