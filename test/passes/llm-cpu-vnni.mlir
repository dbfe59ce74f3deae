// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(llm-cpu-vnni))' --split-input-file | FileCheck %s
// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(llm-cpu-vnni{isa=avx2}))' --split-input-file | FileCheck %s --check-prefix=AVX2
// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(llm-cpu-vnni{isa=neon-dot}))' --split-input-file | FileCheck %s --check-prefix=NEON
// RUN: llmc-opt %s --pass-pipeline='builtin.module(func.func(llm-cpu-vnni{isa=neon-i8mm}))' --split-input-file | FileCheck %s --check-prefix=I8MM

// 8 and 4 lanes of zext(u8) * sext(s8) summed in fours: one vpdpbusd each
// (operands in either order).
// CHECK-LABEL: func.func @dot
// With isa=avx2 the unsigned bytes here are arguments (any value up to 255):
// vpmaddubsw could saturate on them, so the 8-lane product takes their
// nibbles (two vpmaddubsw); the 4-lane one keeps the portable form.
// AVX2-LABEL: func.func @dot
// AVX2-COUNT-2: llvm.x86.avx2.pmadd.ub.sw
// AVX2: vector.multi_reduction <add>, %{{.*}} : vector<4x4xi32> to vector<4xi32>
// AVX2: return
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

// -----

// isa=avx2: unsigned bytes below 128 (nibbles: a mask of 15 and a shift by 4;
// Q6_K's 6-bit quants: an or of masks) become vpmaddubsw + vpmaddwd with
// ones, added to the accumulator; bytes that may reach 128 (xor 0x80) are
// split into their nibbles first: the low nibbles' product from acc, plus
// 16 times the high nibbles'. With VNNI all four are vpdpbusd.
// CHECK-LABEL: func.func @bounded
// CHECK-COUNT-4: llvm.x86.avx512.vpdpbusd.256
// AVX2-LABEL: func.func @bounded
// AVX2: %[[LO:.*]] = arith.andi
// AVX2: %[[P:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[LO]], %{{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// AVX2: %[[Q:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%[[P]], %{{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// AVX2: arith.addi %{{.*}}, %[[Q]] : vector<8xi32>
// AVX2-COUNT-2: llvm.x86.avx2.pmadd.ub.sw
// AVX2: %[[XL:.*]] = arith.andi %[[X:.*]], %{{.*}} : vector<32xi8>
// AVX2: %[[XH:.*]] = arith.shrui %[[X]], %{{.*}} : vector<32xi8>
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[XL]], %{{.*}})
// AVX2: %[[LOW:.*]] = arith.addi
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[XH]], %{{.*}})
// AVX2: %[[HIGH:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// AVX2: %[[SH:.*]] = arith.shli %[[HIGH]], %{{.*}} : vector<8xi32>
// AVX2: arith.addi %[[LOW]], %[[SH]] : vector<8xi32>
// AVX2-NOT: vector.multi_reduction
func.func @bounded(%acc: vector<8xi32>, %w: vector<32xi8>, %h: vector<32xi8>, %s: vector<32xi8>) -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>) {
  %c15 = arith.constant dense<15> : vector<32xi8>
  %c4 = arith.constant dense<4> : vector<32xi8>
  %c48 = arith.constant dense<48> : vector<32xi8>
  %flip = arith.constant dense<-128> : vector<32xi8>
  %lo = arith.andi %w, %c15 : vector<32xi8>
  %hi = arith.shrui %w, %c4 : vector<32xi8>
  %hb = arith.andi %h, %c48 : vector<32xi8>
  %six = arith.ori %lo, %hb : vector<32xi8>
  %x = arith.xori %w, %flip : vector<32xi8>
  %sx = arith.extsi %s : vector<32xi8> to vector<32xi32>
  %a0 = arith.extui %lo : vector<32xi8> to vector<32xi32>
  %p0 = arith.muli %a0, %sx : vector<32xi32>
  %q0 = vector.shape_cast %p0 : vector<32xi32> to vector<8x4xi32>
  %r0 = vector.multi_reduction <add>, %q0, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a1 = arith.extui %hi : vector<32xi8> to vector<32xi32>
  %p1 = arith.muli %a1, %sx : vector<32xi32>
  %q1 = vector.shape_cast %p1 : vector<32xi32> to vector<8x4xi32>
  %r1 = vector.multi_reduction <add>, %q1, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a2 = arith.extui %six : vector<32xi8> to vector<32xi32>
  %p2 = arith.muli %a2, %sx : vector<32xi32>
  %q2 = vector.shape_cast %p2 : vector<32xi32> to vector<8x4xi32>
  %r2 = vector.multi_reduction <add>, %q2, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a3 = arith.extui %x : vector<32xi8> to vector<32xi32>
  %p3 = arith.muli %a3, %sx : vector<32xi32>
  %q3 = vector.shape_cast %p3 : vector<32xi32> to vector<8x4xi32>
  %r3 = vector.multi_reduction <add>, %q3, %acc [1] : vector<8x4xi32> to vector<8xi32>
  return %r0, %r1, %r2, %r3 : vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>
}

// -----

// isa=avx2: bytes looked up in a constant table (IQ4_NL's magnitudes: a
// byte shuffle once LLVM sees the extracts) are bounded by its largest
// entry: below 128 they take vpmaddubsw as they are, a table reaching 200
// is split into nibbles first (two more).
// AVX2-LABEL: func.func @lookup
// AVX2: %[[U:.*]] = vector.from_elements
// AVX2: %[[V:.*]] = vector.from_elements
// AVX2: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"(%[[U]], %{{.*}})
// AVX2: arith.andi %[[V]]
// AVX2: arith.shrui %[[V]]
// AVX2-COUNT-2: llvm.x86.avx2.pmadd.ub.sw
// AVX2-NOT: vector.multi_reduction
func.func @lookup(%acc: vector<8xi32>, %i: index, %s: vector<32xi8>) -> (vector<8xi32>, vector<8xi32>) {
  %small = arith.constant dense<[127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, 113]> : vector<16xi8>
  %big = arith.constant dense<[127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, -56]> : vector<16xi8>
  %e = vector.extract %small[%i] : i8 from vector<16xi8>
  %f = vector.extract %big[%i] : i8 from vector<16xi8>
  %u = vector.from_elements %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e, %e : vector<32xi8>
  %v = vector.from_elements %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f, %f : vector<32xi8>
  %sx = arith.extsi %s : vector<32xi8> to vector<32xi32>
  %a0 = arith.extui %u : vector<32xi8> to vector<32xi32>
  %p0 = arith.muli %a0, %sx : vector<32xi32>
  %q0 = vector.shape_cast %p0 : vector<32xi32> to vector<8x4xi32>
  %r0 = vector.multi_reduction <add>, %q0, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a1 = arith.extui %v : vector<32xi8> to vector<32xi32>
  %p1 = arith.muli %a1, %sx : vector<32xi32>
  %q1 = vector.shape_cast %p1 : vector<32xi32> to vector<8x4xi32>
  %r1 = vector.multi_reduction <add>, %q1, %acc [1] : vector<8x4xi32> to vector<8xi32>
  return %r0, %r1 : vector<8xi32>, vector<8xi32>
}

// -----

// isa=neon-dot: each 128-bit half of a bounded dot product is one sdot
// (the unsigned bytes below 128 read as signed), the halves put back
// together; bytes that may reach 128 stay (sdot would read them as
// negative). isa=neon-i8mm: those become usdot.
// NEON-LABEL: func.func @arm
// NEON-COUNT-2: llvm.call_intrinsic "llvm.aarch64.neon.sdot.v4i32.v16i8"
// NEON: vector.shuffle
// NEON-NOT: llvm.aarch64.neon.usdot
// NEON: vector.multi_reduction <add>
// I8MM-LABEL: func.func @arm
// I8MM-COUNT-2: llvm.aarch64.neon.sdot.v4i32.v16i8
// I8MM-COUNT-2: llvm.aarch64.neon.usdot.v4i32.v16i8
// I8MM-NOT: vector.multi_reduction
func.func @arm(%acc: vector<8xi32>, %w: vector<32xi8>, %s: vector<32xi8>) -> (vector<8xi32>, vector<8xi32>) {
  %c15 = arith.constant dense<15> : vector<32xi8>
  %flip = arith.constant dense<-128> : vector<32xi8>
  %lo = arith.andi %w, %c15 : vector<32xi8>
  %x = arith.xori %w, %flip : vector<32xi8>
  %sx = arith.extsi %s : vector<32xi8> to vector<32xi32>
  %a0 = arith.extui %lo : vector<32xi8> to vector<32xi32>
  %p0 = arith.muli %a0, %sx : vector<32xi32>
  %q0 = vector.shape_cast %p0 : vector<32xi32> to vector<8x4xi32>
  %r0 = vector.multi_reduction <add>, %q0, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a1 = arith.extui %x : vector<32xi8> to vector<32xi32>
  %p1 = arith.muli %a1, %sx : vector<32xi32>
  %q1 = vector.shape_cast %p1 : vector<32xi32> to vector<8x4xi32>
  %r1 = vector.multi_reduction <add>, %q1, %acc [1] : vector<8x4xi32> to vector<8xi32>
  return %r0, %r1 : vector<8xi32>, vector<8xi32>
}

// -----

// isa=avx2: a chain of dot products (each the next one's accumulator) keeps
// its vpmaddubsw pair sums in i16 while they provably fit, one vpmaddwd per
// run: three nibble dot products (|pair| <= 2 x 15 x 128 each) are one run;
// three of 6-bit quants (2 x 63 x 128 each) are a run of two and one of one.
// A dot product whose result has another use ends its chain there.
// AVX2-LABEL: func.func @chain
// AVX2-SAME: (%[[ACC:[^:]*]]: vector<8xi32>
// AVX2: %[[P0:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: %[[P1:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: %[[S1:.*]] = arith.addi %[[P0]], %[[P1]] : vector<16xi16>
// AVX2: %[[P2:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: %[[S2:.*]] = arith.addi %[[S1]], %[[P2]] : vector<16xi16>
// AVX2: %[[Q:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%[[S2]], %{{.*}})
// AVX2: %[[A:.*]] = arith.addi %[[ACC]], %[[Q]] : vector<8xi32>
// AVX2: %[[B0:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: %[[B1:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: %[[BS:.*]] = arith.addi %[[B0]], %[[B1]] : vector<16xi16>
// AVX2: %[[BQ:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%[[BS]], %{{.*}})
// AVX2: %[[BA:.*]] = arith.addi %[[ACC]], %[[BQ]] : vector<8xi32>
// AVX2: %[[B2:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// AVX2: %[[BQ2:.*]] = llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"(%[[B2]], %{{.*}})
// AVX2: %[[B:.*]] = arith.addi %[[BA]], %[[BQ2]] : vector<8xi32>
// AVX2-NOT: vector.multi_reduction
// AVX2: return %[[A]], %[[B]], %[[C0:.*]], %[[C1:.*]] :
// With VNNI: one vpdpbusd per dot product, as before.
// CHECK-LABEL: func.func @chain
// CHECK-COUNT-8: llvm.x86.avx512.vpdpbusd.256
// CHECK-NOT: vector.multi_reduction
func.func @chain(%acc: vector<8xi32>, %w: vector<32xi8>, %h: vector<32xi8>, %s: vector<32xi8>) -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>) {
  %c15 = arith.constant dense<15> : vector<32xi8>
  %c4 = arith.constant dense<4> : vector<32xi8>
  %c48 = arith.constant dense<48> : vector<32xi8>
  %lo = arith.andi %w, %c15 : vector<32xi8>
  %hi = arith.shrui %w, %c4 : vector<32xi8>
  %hb = arith.andi %h, %c48 : vector<32xi8>
  %six = arith.ori %lo, %hb : vector<32xi8>
  %sx = arith.extsi %s : vector<32xi8> to vector<32xi32>
  %alo = arith.extui %lo : vector<32xi8> to vector<32xi32>
  %ahi = arith.extui %hi : vector<32xi8> to vector<32xi32>
  %asix = arith.extui %six : vector<32xi8> to vector<32xi32>
  %plo = arith.muli %alo, %sx : vector<32xi32>
  %phi = arith.muli %ahi, %sx : vector<32xi32>
  %psix = arith.muli %asix, %sx : vector<32xi32>
  %qlo = vector.shape_cast %plo : vector<32xi32> to vector<8x4xi32>
  %qhi = vector.shape_cast %phi : vector<32xi32> to vector<8x4xi32>
  %qsix = vector.shape_cast %psix : vector<32xi32> to vector<8x4xi32>
  %a0 = vector.multi_reduction <add>, %qlo, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %a1 = vector.multi_reduction <add>, %qhi, %a0 [1] : vector<8x4xi32> to vector<8xi32>
  %a2 = vector.multi_reduction <add>, %qlo, %a1 [1] : vector<8x4xi32> to vector<8xi32>
  %b0 = vector.multi_reduction <add>, %qsix, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %b1 = vector.multi_reduction <add>, %qsix, %b0 [1] : vector<8x4xi32> to vector<8xi32>
  %b2 = vector.multi_reduction <add>, %qsix, %b1 [1] : vector<8x4xi32> to vector<8xi32>
  %c0 = vector.multi_reduction <add>, %qlo, %acc [1] : vector<8x4xi32> to vector<8xi32>
  %c1 = vector.multi_reduction <add>, %qhi, %c0 [1] : vector<8x4xi32> to vector<8xi32>
  return %a2, %b2, %c0, %c1 : vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>
}
