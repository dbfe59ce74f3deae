// RUN: llmc-opt %s --llm-insert-early-exits="layers=0,1 metric=entropy threshold=0.5" | FileCheck %s
// RUN: llmc-opt %s --llm-insert-early-exits="layers=1 head-norm=exit.{layer}.norm head-classifier=exit.{layer}.out" | FileCheck %s --check-prefix=HEADS
// RUN: not llmc-opt %s --llm-insert-early-exits="layers=2" 2>&1 | FileCheck %s --check-prefix=LAST
// RUN: llmc-opt %s --llm-insert-early-exits="layers=0,1 kv-policy=recompute" | FileCheck %s --check-prefix=RECOMPUTE
// RUN: not llmc-opt %s --llm-insert-early-exits="layers=0 kv-policy=lazy" 2>&1 | FileCheck %s --check-prefix=POLICY
// RUN: not llmc-opt %s --llm-insert-early-exits="layers=0 kv-policy=recompute" --llm-quantize-kv-cache 2>&1 | FileCheck %s --check-prefix=INT8
// RUN: not llmc-opt %s --llm-insert-early-exits="layers=0 threshold=1.5" 2>&1 | FileCheck %s --check-prefix=RANGE
// RUN: not llmc-opt %s --llm-insert-early-exits="layers=0" --llm-insert-early-exits="layers=0" 2>&1 | FileCheck %s --check-prefix=TWICE

// Three layers, heads after layers 0 and 1 (shared final norm and
// classifier). Prompts (more than one token) run every layer; one-token
// steps test the heads in order. A passing head propagates its hidden
// state into the skipped layers' K/V (their norm, projections, rope and
// attention, but not their output projection) and counts the exit.
// CHECK: func.func private @llmc_early_exit(i32)
// CHECK-LABEL: func.func @forward
// CHECK: %[[X1:.*]] = llm.add
// CHECK: %[[N:.*]] = tensor.dim %[[X1]], %c0
// CHECK: %[[DECODE:.*]] = arith.cmpi eq, %[[N]], %c1 : index
// CHECK: %[[R:.*]]:2 = scf.if %[[DECODE]]
// CHECK:   %[[L0:.*]], %[[E0:.*]] = llm.exit %[[X1]], %[[NORM:.*]], %[[CLS:.*]] metric entropy {{{.*}}llm.exit_layer = 0 : i64, threshold = 5.000000e-01 : f64}
// CHECK:   %[[D0:.*]] = tensor.extract %[[E0]]
// CHECK:   scf.if %[[D0]]
// CHECK:     llm.rms_norm %[[X1]]
// CHECK:     %{{.*}}, %[[P1:.*]] = llm.attention {{.*}} {causal, layer = 1 : i64
// CHECK-NOT: llm.add
// CHECK:     llm.rms_norm %[[X1]]
// CHECK:     %{{.*}}, %[[P2:.*]] = llm.attention {{.*}}, %[[P1]][%arg1] {causal, layer = 2 : i64
// CHECK:     func.call @llmc_early_exit(%c0_i32)
// CHECK:     scf.yield %[[L0]], %[[P2]]
// CHECK:   } else {
// CHECK:     llm.attention {{.*}} {causal, layer = 1 : i64
// CHECK:     %[[X2:.*]] = llm.add %[[X1]]
// CHECK:     llm.exit %[[X2]], %[[NORM]], %[[CLS]] metric entropy {{{.*}}llm.exit_layer = 1 : i64
// CHECK:     scf.if
// CHECK:       llm.attention {{.*}} {causal, layer = 2 : i64
// CHECK:       func.call @llmc_early_exit(%c1_i32)
// CHECK:     } else {
// CHECK:       llm.attention {{.*}} {causal, layer = 2 : i64
// CHECK:       llm.linear
// CHECK:       scf.yield
// CHECK: } else {
// CHECK-NOT: llm.exit
// CHECK:   llm.attention {{.*}} {causal, layer = 1 : i64
// CHECK:   llm.attention {{.*}} {causal, layer = 2 : i64
// CHECK: return %[[R]]#0, %[[R]]#1

// Separately trained heads, by name.
// HEADS-DAG: %[[HN:.*]] = llm.param "exit.1.norm" : tensor<8xf32>
// HEADS-DAG: %[[HC:.*]] = llm.param "exit.1.out" : tensor<32x8xf32>
// HEADS: llm.exit %{{.*}}, %[[HN]], %[[HC]] metric max_prob {{{.*}}llm.exit_layer = 1 : i64, threshold = 9.000000e-01 : f64}

// LAST: error: llm-insert-early-exits: layer 2 has no later layer to skip (the model has 3 layers: 0..1 can exit)
// POLICY: error: llm-insert-early-exits: unknown kv-policy 'lazy' (propagate, recompute)
// INT8: error: llm-quantize-kv-cache: the KV cache holds early exit's pending hidden states (kv-policy=recompute), which need an f32 cache

// kv-policy=recompute: the cache carries the pending state (hidden width
// 8). A passing head stores the rows of its batch for the skipped layers
// and marks layers up to its own filled; otherwise each later layer first
// runs the positions pending at it (from cache_filled to where the batch
// so far starts), from the first of them. The head and the classifier read
// only the step's own rows. Prompts run the same batched layers.
// RECOMPUTE-LABEL: func.func @forward(%arg0: tensor<?xi32>, %arg1: index, %arg2: !llm.kv_cache<3x16x1x8, f32, pending = 8>)
// RECOMPUTE-SAME: -> (tensor<?x32xf32>, !llm.kv_cache<3x16x1x8, f32, pending = 8>)
// RECOMPUTE: %[[X1:.*]] = llm.add
// RECOMPUTE: %[[N:.*]] = tensor.dim %[[X1]], %c0
// RECOMPUTE: %[[END:.*]] = arith.addi %arg1, %[[N]] : index
// RECOMPUTE: scf.if
// RECOMPUTE:   %[[H0:.*]] = tensor.extract_slice %[[X1]]
// RECOMPUTE:   llm.exit %[[H0]]
// RECOMPUTE:   scf.if
// RECOMPUTE:     %[[S0:.*]] = llm.cache_stash %[[X1]], %[[KV0:.*]][%arg1]
// RECOMPUTE:     %[[M0:.*]] = llm.cache_mark %[[S0]][%arg1, %[[END]]] {layer = 0 : i64}
// RECOMPUTE:     func.call @llmc_early_exit(%c0_i32)
// RECOMPUTE:     scf.yield %{{.*}}, %[[M0]]
// RECOMPUTE:   } else {
// RECOMPUTE:     %[[F1:.*]] = llm.cache_filled %[[KV0]][%arg1] {layer = 1 : i64}
// RECOMPUTE:     %[[B1:.*]] = llm.cache_pending %[[X1]], %[[KV0]][%[[F1]], %arg1]
// RECOMPUTE:     llm.rms_norm %[[B1]]
// RECOMPUTE:     llm.rope %{{.*}}, %[[F1]]
// RECOMPUTE:     %{{.*}}, %[[KV1:.*]] = llm.attention {{.*}}, %[[KV0]][%[[F1]]] {causal, layer = 1 : i64
// RECOMPUTE:     %[[X2:.*]] = llm.add %[[B1]]
// RECOMPUTE:     llm.exit
// RECOMPUTE:     scf.if
// RECOMPUTE:       llm.cache_stash %[[X2]], %[[KV1]][%[[F1]]]
// RECOMPUTE:       llm.cache_mark {{.*}} {layer = 1 : i64}
// RECOMPUTE:     } else {
// RECOMPUTE:       %[[F2:.*]] = llm.cache_filled %[[KV1]][%arg1] {layer = 2 : i64}
// RECOMPUTE:       llm.cache_pending %[[X2]], %[[KV1]][%[[F2]], %[[F1]]]
// RECOMPUTE:       llm.attention {{.*}}[%[[F2]]] {causal, layer = 2 : i64
// RECOMPUTE:       %[[X3:.*]] = llm.add
// RECOMPUTE:       %[[ROWS:.*]] = tensor.extract_slice %[[X3]][{{.*}}] [%[[N]], 8]
// RECOMPUTE:       llm.rms_norm %[[ROWS]]
// RECOMPUTE:       llm.linear
// RECOMPUTE:       llm.cache_mark {{.*}}[%arg1, %[[END]]] {layer = 2 : i64}
// RECOMPUTE: } else {
// RECOMPUTE-NOT: llm.exit
// RECOMPUTE:   llm.cache_filled {{.*}} {layer = 1 : i64}
// RECOMPUTE:   llm.cache_pending
// RECOMPUTE:   llm.cache_filled {{.*}} {layer = 2 : i64}
// RECOMPUTE:   llm.cache_pending
// RECOMPUTE:   llm.cache_mark {{.*}} {layer = 2 : i64}
// RANGE: error: llm-insert-early-exits: threshold {{.*}} is out of range for max-prob ([0, 1])
// TWICE: error: llm-insert-early-exits: the function already has control flow (early exits inserted twice?)
func.func @forward(%tokens: tensor<?xi32>, %pos: index, %kv: !llm.kv_cache<3x16x1x8, f32>)
    -> (tensor<?x32xf32>, !llm.kv_cache<3x16x1x8, f32>) {
  %emb = llm.param "emb" : tensor<32x8xf32>
  %x0 = llm.embedding %emb[%tokens] : tensor<32x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
  %an0 = llm.param "l0.an" : tensor<8xf32>
  %h0 = llm.rms_norm %x0, %an0 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq0 = llm.param "l0.wq" : tensor<8x8xf32>
  %q0 = llm.linear %h0, %wq0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk0 = llm.param "l0.wk" : tensor<8x8xf32>
  %k0 = llm.linear %h0, %wk0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv0 = llm.param "l0.wv" : tensor<8x8xf32>
  %v0 = llm.linear %h0, %wv0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr0 = llm.rope %q0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr0 = llm.rope %k0, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a0, %c0 = llm.attention %qr0, %kr0, %v0, %kv[%pos] {layer = 0 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<3x16x1x8, f32>
  %wo0 = llm.param "l0.wo" : tensor<8x8xf32>
  %o0 = llm.linear %a0, %wo0 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x1 = llm.add %x0, %o0 : tensor<?x8xf32>
  %an1 = llm.param "l1.an" : tensor<8xf32>
  %h1 = llm.rms_norm %x1, %an1 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq1 = llm.param "l1.wq" : tensor<8x8xf32>
  %q1 = llm.linear %h1, %wq1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk1 = llm.param "l1.wk" : tensor<8x8xf32>
  %k1 = llm.linear %h1, %wk1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv1 = llm.param "l1.wv" : tensor<8x8xf32>
  %v1 = llm.linear %h1, %wv1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr1 = llm.rope %q1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr1 = llm.rope %k1, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a1, %c1 = llm.attention %qr1, %kr1, %v1, %c0[%pos] {layer = 1 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<3x16x1x8, f32>
  %wo1 = llm.param "l1.wo" : tensor<8x8xf32>
  %o1 = llm.linear %a1, %wo1 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x2 = llm.add %x1, %o1 : tensor<?x8xf32>
  %an2 = llm.param "l2.an" : tensor<8xf32>
  %h2 = llm.rms_norm %x2, %an2 {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %wq2 = llm.param "l2.wq" : tensor<8x8xf32>
  %q2 = llm.linear %h2, %wq2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wk2 = llm.param "l2.wk" : tensor<8x8xf32>
  %k2 = llm.linear %h2, %wk2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %wv2 = llm.param "l2.wv" : tensor<8x8xf32>
  %v2 = llm.linear %h2, %wv2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %qr2 = llm.rope %q2, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %kr2 = llm.rope %k2, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x8xf32>
  %a2, %c2 = llm.attention %qr2, %kr2, %v2, %c1[%pos] {layer = 2 : i64, num_heads = 1 : i64, num_kv_heads = 1 : i64, causal}
      : tensor<?x8xf32>, tensor<?x8xf32>, !llm.kv_cache<3x16x1x8, f32>
  %wo2 = llm.param "l2.wo" : tensor<8x8xf32>
  %o2 = llm.linear %a2, %wo2 : tensor<?x8xf32>, tensor<8x8xf32> -> tensor<?x8xf32>
  %x3 = llm.add %x2, %o2 : tensor<?x8xf32>
  %norm = llm.param "norm" : tensor<8xf32>
  %hn = llm.rms_norm %x3, %norm {eps = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<8xf32>
  %logits = llm.linear %hn, %emb : tensor<?x8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>
  return %logits, %c2 : tensor<?x32xf32>, !llm.kv_cache<3x16x1x8, f32>
}
