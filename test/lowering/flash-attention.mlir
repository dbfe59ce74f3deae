// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file | FileCheck %s
// RUN: llmc-opt %s --llm-flash-attention="softmax=online decode-splits=1" --convert-llm-to-linalg --split-input-file | FileCheck %s --check-prefix=ONLINE
// RUN: sed -e 's/, llm.flash = {[^}]*}//' %s | llmc-opt --convert-llm-to-linalg --split-input-file | FileCheck %s --check-prefix=REF

// Flash attention (llm.flash set): the new keys/values go into the cache,
// which the kernel then reads in place as one flat read-only buffer.
// Decode steps (T == 1) take the unified-max kernel over 2 chunks per head,
// checked afterwards: a maximum outside phi +- 60 recomputes with the
// synchronized kernel; prefill takes the synchronized kernel, one chunk
// per token.
// CHECK-LABEL: func.func @flash
// CHECK: %[[T:.*]] = tensor.dim %arg0, %c0 : tensor<?x64xf32>
// CHECK: %[[CACHE:.*]] = tensor.insert_slice {{.*}} into {{.*}} : tensor<4x?x8xf32> into tensor<2x2x4x64x8xf32>
// CHECK: %[[BUF:.*]] = bufferization.to_buffer %[[CACHE]] read_only : tensor<2x2x4x64x8xf32> to memref<2x2x4x64x8xf32>
// CHECK: %[[FLAT:.*]] = memref.collapse_shape %[[BUF]] {{\[}}[0, 1, 2, 3, 4]] : memref<2x2x4x64x8xf32> into memref<8192xf32>
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[T]], %c1
// CHECK: %[[S:.*]] = arith.select %[[ONE]], %c2, %c1
// CHECK: scf.if %[[ONE]] -> (tensor<?x64xf32>)
// Partial (acc, max, sum) per (KV head, group member, token, chunk): no
// [heads, tokens, positions] score tensor anywhere.
// CHECK: scf.forall (%[[KV:.*]], %[[G:.*]], %[[TOK:.*]], %[[SP:.*]]) in (4, 2, %[[T]], %[[S]]) shared_outs({{.*}}) -> (tensor<4x2x?x?x8xf32>, tensor<4x2x?x?xf32>, tensor<4x2x?x?xf32>)
// Blocks of 16 positions; the scores of a block accumulate over head_dim.
// CHECK: scf.for %{{.*}} = %{{.*}} to %{{.*}} step %c16{{.*}} iter_args({{.*}}) -> (f32, f32, vector<8xf32>)
// CHECK: scf.for {{.*}} -> (vector<16xf32>)
// CHECK: vector.load %[[FLAT]][%{{.*}}] : memref<8192xf32>, vector<16xf32>
// CHECK: vector.fma
// Causal mask on the block's positions.
// CHECK: vector.step : vector<16xindex>
// CHECK: arith.cmpi uge, %{{.*}} : vector<16xindex>
// Unified: exponents against the fixed maximum (0.0), no rescaling.
// CHECK: vector.reduction <maximumf>
// CHECK: %[[Z:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: %[[PHI:.*]] = vector.broadcast %[[Z]] : f32 to vector<16xf32>
// CHECK-NEXT: arith.subf %{{.*}}, %[[PHI]] : vector<16xf32>
// CHECK-NEXT: math.exp %{{.*}} : vector<16xf32>
// CHECK-NOT: math.exp %{{.*}} : f32
// The block's values in one load, then one FMA per position.
// CHECK: vector.load %[[FLAT]][%{{.*}}] : memref<8192xf32>, vector<128xf32>
// CHECK: vector.shape_cast %{{.*}} : vector<128xf32> to vector<16x8xf32>
// CHECK-COUNT-16: vector.fma
// CHECK: scf.forall.in_parallel
// CHECK: tensor.parallel_insert_slice %{{.*}} into %{{.*}}[%[[KV]], %[[G]], %[[TOK]], %[[SP]], 0] [1, 1, 1, 1, 8]
// The range check, then the synchronized fallback (online: exp of the
// running-max change).
// CHECK: arith.cmpf ugt, %{{.*}}, %cst{{.*}} : f32
// CHECK: scf.if
// CHECK: scf.forall
// CHECK: math.exp %{{.*}} : f32
// CHECK: return
// CHECK-NOT: llm.schedule = "heads"
// ONLINE-LABEL: func.func @flash
// ONLINE-NOT: scf.if
// ONLINE: scf.forall
// ONLINE: math.exp %{{.*}} : vector<16xf32>
// ONLINE: math.exp %{{.*}} : f32
// ONLINE-NOT: llm.schedule = "heads"
// The reference path (no llm.flash) materializes the scores in blocks.
// REF-LABEL: func.func @flash
// REF: tensor.empty(%{{.*}}) : tensor<4x2x?x?x16xf32>
// REF: llm.schedule = "heads"
func.func @flash(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %kv: !llm.kv_cache<2x64x4x8, f32>, %pos: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>) {
  %o, %kv1 = llm.attention %q, %k, %v, %kv[%pos] {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, llm.flash = {decode_splits = 2 : i64, softmax = "unified", unified_max = 0.0 : f64}} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, f32>
  return %o, %kv1 : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>
}

// -----

// int8 cache (--kv-cache=int8): the kernel reads a block of 16 rows of
// head_dim + 4 bytes at once; the int8 values become f32, the last 4 bytes
// of each row its f32 scale. Scores: the query row times each key row,
// reduced along head_dim, times the key scales; values: each row weighted
// by its probability times its scale.
// CHECK-LABEL: func.func @flash_int8
// REF-LABEL: func.func @flash_int8
// ONLINE-LABEL: func.func @flash_int8
// ONLINE: bufferization.to_buffer %{{.*}} read_only : tensor<2x2x4x64x12xi8> to memref<2x2x4x64x12xi8>
// ONLINE: memref.collapse_shape %{{.*}} {{\[\[}}0, 1, 2, 3, 4]] : memref<2x2x4x64x12xi8> into memref<12288xi8>
// ONLINE: vector.transfer_read %{{.*}} : tensor<?x8x8xf32>, vector<8xf32>
// ONLINE: vector.load %{{.*}} : memref<12288xi8>, vector<192xi8>
// ONLINE: vector.extract_strided_slice %{{.*}} {offsets = [0, 0], sizes = [16, 8], strides = [1, 1]} : vector<16x12xi8> to vector<16x8xi8>
// ONLINE: vector.extract_strided_slice %{{.*}} {offsets = [0, 8], sizes = [16, 4], strides = [1, 1]} : vector<16x12xi8> to vector<16x4xi8>
// ONLINE: vector.bitcast %{{.*}} : vector<64xi8> to vector<16xf32>
// ONLINE: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<16x8xf32> to vector<16xf32>
// ONLINE: vector.load %{{.*}} : memref<12288xi8>, vector<192xi8>
// ONLINE: vector.bitcast %{{.*}} : vector<64xi8> to vector<16xf32>
// ONLINE: vector.fma
func.func @flash_int8(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %kv: !llm.kv_cache<2x64x4x8, i8>, %pos: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, i8>) {
  %o, %kv1 = llm.attention %q, %k, %v, %kv[%pos] {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, i8>
  return %o, %kv1 : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, i8>
}

// -----

// Soft-capped scores (Gemma 2's attn_logit_softcapping): both kernels apply
// cap * tanh(s / cap) to the scaled scores before the mask; the flash kernel
// on a block's 16 scores at once.
// CHECK-LABEL: func.func @flash_softcap
// CHECK: %[[CAP:.*]] = arith.constant 5.000000e+01 : f32
// CHECK-NEXT: %[[CAPV:.*]] = vector.broadcast %[[CAP]] : f32 to vector<16xf32>
// CHECK-NEXT: %[[DIV:.*]] = arith.divf %{{.*}}, %[[CAPV]] : vector<16xf32>
// CHECK-NEXT: math.tanh %[[DIV]] : vector<16xf32>
// CHECK: vector.step : vector<16xindex>
// REF-LABEL: func.func @flash_softcap
// REF: arith.constant 5.000000e+01 : f32
// REF: math.tanh %{{.*}} : f32
// REF: arith.select
func.func @flash_softcap(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %kv: !llm.kv_cache<2x64x4x8, f32>, %pos: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>) {
  %o, %kv1 = llm.attention %q, %k, %v, %kv[%pos] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, logit_softcap = 50.0 : f64, llm.flash = {decode_splits = 1 : i64, softmax = "online"}} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, f32>
  return %o, %kv1 : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>
}

// -----

// A shared (latent) cache: keys only, as rows; each block of 16 positions
// is loaded once ([16, 40] f32 at layer 1's offset 1 * 64 * 40) and serves
// the scores (a reduction against the query row) and the values (16 FMAs).
// ONLINE-LABEL: func.func @flash_shared
// ONLINE: bufferization.to_buffer %{{.*}} read_only : tensor<2x1x1x64x40xf32> to memref<2x1x1x64x40xf32>
// ONLINE: arith.constant 2560 : index
// ONLINE: vector.transfer_read %{{.*}} : tensor<?x4x40xf32>, vector<40xf32>
// ONLINE: vector.load %{{.*}} : memref<5120xf32>, vector<640xf32>
// ONLINE: vector.shape_cast %{{.*}} : vector<640xf32> to vector<16x40xf32>
// ONLINE: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<16x40xf32> to vector<16xf32>
// ONLINE-NOT: vector.load
// ONLINE-COUNT-16: vector.fma {{.*}} : vector<40xf32>
// REF-LABEL: func.func @flash_shared
// REF-NOT: tensor.extract_slice %{{.*}}[1, 1, 0, 0, 0]
// REF: linalg.transpose ins(%{{.*}} : tensor<1x?x40xf32>) outs(%{{.*}} : tensor<1x40x?xf32>) permutation = [0, 2, 1]
func.func @flash_shared(%q: tensor<?x160xf32>, %k: tensor<?x40xf32>, %kv: !llm.kv_cache<2x64x1x40, f32, shared>, %pos: index) -> (tensor<?x160xf32>, !llm.kv_cache<2x64x1x40, f32, shared>) {
  %o, %kv1 = llm.attention %q, %k, %k, %kv[%pos] {layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, causal} : tensor<?x160xf32>, tensor<?x40xf32>, !llm.kv_cache<2x64x1x40, f32, shared>
  return %o, %kv1 : tensor<?x160xf32>, !llm.kv_cache<2x64x1x40, f32, shared>
}
