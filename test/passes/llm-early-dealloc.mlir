// RUN: llmc-opt %s --llm-early-dealloc --split-input-file | FileCheck %s

// A buffer yielded out of an scf.if is freed (through the base buffer of
// its strided metadata) right after its last reader, before the next large
// allocation; the plain temporary moves up after its last use inside a
// nested loop.
// CHECK-LABEL: func.func @region_result
// CHECK: %[[R:[a-z_0-9]+]] = scf.if
// CHECK: scf.yield
// CHECK: scf.yield
// CHECK-NEXT: }
// CHECK-NEXT: %[[T:[a-z_0-9]+]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: scf.for
// CHECK: memref.load %[[T]]
// CHECK: }
// CHECK-NEXT: memref.dealloc %[[T]] : memref<?xf32>
// CHECK-NEXT: linalg.copy ins(%[[R]]
// CHECK-NEXT: %[[BASE:[a-z_0-9]+]], %{{.*}} = memref.extract_strided_metadata %[[R]]
// CHECK-NEXT: memref.dealloc %[[BASE]] : memref<f32>
// CHECK-NEXT: %[[BIG:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK-NEXT: linalg.fill ins(%{{.*}}) outs(%[[BIG]]
// CHECK-NEXT: linalg.copy ins(%[[BIG]]
// CHECK-NEXT: memref.dealloc %[[BIG]]
// CHECK-NEXT: return
func.func @region_result(%c: i1, %n: index, %out: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  %r = scf.if %c -> (memref<?xf32, strided<[?], offset: ?>>) {
    %a = memref.alloc(%n) : memref<?xf32>
    %ca = memref.cast %a : memref<?xf32> to memref<?xf32, strided<[?], offset: ?>>
    scf.yield %ca : memref<?xf32, strided<[?], offset: ?>>
  } else {
    %b = memref.alloc(%n) : memref<?xf32>
    %sb = memref.subview %b[0] [%n] [1] : memref<?xf32> to memref<?xf32, strided<[1]>>
    %cb = memref.cast %sb : memref<?xf32, strided<[1]>> to memref<?xf32, strided<[?], offset: ?>>
    scf.yield %cb : memref<?xf32, strided<[?], offset: ?>>
  }
  %t = memref.alloc(%n) : memref<?xf32>
  scf.for %i = %c0 to %n step %c1 {
    %v = memref.load %t[%i] : memref<?xf32>
    memref.store %v, %out[%i] : memref<?xf32>
  }
  linalg.copy ins(%r : memref<?xf32, strided<[?], offset: ?>>) outs(%out : memref<?xf32>)
  %big = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%f : f32) outs(%big : memref<?xf32>)
  linalg.copy ins(%big : memref<?xf32>) outs(%out : memref<?xf32>)
  %base, %off, %size, %stride = memref.extract_strided_metadata %r : memref<?xf32, strided<[?], offset: ?>> -> memref<f32>, index, index, index
  memref.dealloc %t : memref<?xf32>
  memref.dealloc %big : memref<?xf32>
  memref.dealloc %base : memref<f32>
  return
}

// -----

// A view's later use keeps the dealloc after it; a guarded dealloc moves
// with its guard, but not above the guard's condition.
// CHECK-LABEL: func.func @views_and_guards
// CHECK: %[[A:.*]] = memref.alloc
// CHECK: %[[V:.*]] = memref.subview %[[A]]
// CHECK: linalg.fill ins(%{{.*}}) outs(%[[A]]
// CHECK-NEXT: linalg.copy ins(%[[V]]
// CHECK-NEXT: memref.dealloc %[[A]]
// CHECK-NEXT: %[[B:.*]] = memref.alloc
// CHECK-NEXT: linalg.fill ins(%{{.*}}) outs(%[[B]]
// CHECK-NEXT: %[[C:.*]] = arith.cmpi
// CHECK-NEXT: scf.if %[[C]] {
// CHECK-NEXT: memref.dealloc %[[B]] :
// CHECK-NEXT: }
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: return
func.func @views_and_guards(%n: index, %m: index, %out: memref<4xf32>) {
  %f = arith.constant 1.0 : f32
  %a = memref.alloc() : memref<8xf32>
  %v = memref.subview %a[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  linalg.fill ins(%f : f32) outs(%a : memref<8xf32>)
  linalg.copy ins(%v : memref<4xf32, strided<[1], offset: 4>>) outs(%out : memref<4xf32>)
  %b = memref.alloc() : memref<8xf32>
  linalg.fill ins(%f : f32) outs(%b : memref<8xf32>)
  %c = arith.cmpi eq, %n, %m : index
  linalg.fill ins(%f : f32) outs(%out : memref<4xf32>)
  memref.dealloc %a : memref<8xf32>
  scf.if %c {
    memref.dealloc %b : memref<8xf32>
  }
  return
}

// -----

// Negative cases stay put: a buffer that does not trace back to an
// allocation (a function argument), one whose address escapes as an
// integer, and one already freed right after its last use.
// CHECK-LABEL: func.func @unchanged
// CHECK: memref.extract_aligned_pointer_as_index %[[P:[a-z_0-9]+]]
// CHECK-NEXT: linalg.fill
// CHECK-NEXT: memref.dealloc %[[P]]
// CHECK-NEXT: memref.dealloc %arg0
// CHECK-NEXT: memref.alloc
// CHECK-NEXT: linalg.copy
// CHECK-NEXT: memref.dealloc
// CHECK-NEXT: return
func.func @unchanged(%arg: memref<4xf32>, %out: memref<4xf32>) -> index {
  %f = arith.constant 1.0 : f32
  %p = memref.alloc() : memref<4xf32>
  %i = memref.extract_aligned_pointer_as_index %p : memref<4xf32> -> index
  linalg.fill ins(%f : f32) outs(%out : memref<4xf32>)
  memref.dealloc %p : memref<4xf32>
  memref.dealloc %arg : memref<4xf32>
  %q = memref.alloc() : memref<4xf32>
  linalg.copy ins(%q : memref<4xf32>) outs(%out : memref<4xf32>)
  memref.dealloc %q : memref<4xf32>
  return %i : index
}
