// RUN: llmc-opt %s -llm-flash-attention | FileCheck %s
// RUN: llmc-opt %s -llm-flash-attention="decode-splits=4 softmax=online" | FileCheck %s --check-prefix=ONLINE
// RUN: not llmc-opt %s -llm-flash-attention=decode-splits=0 2>&1 | FileCheck %s --check-prefix=BADSPLITS
// RUN: not llmc-opt %s -llm-flash-attention=softmax=fast 2>&1 | FileCheck %s --check-prefix=BADSOFTMAX

// Every attention gets the kernel choice; nothing else changes.
// CHECK-LABEL: func.func @two_layers
// CHECK: llm.attention {{.*}} {causal, layer = 0 : i64, llm.flash = {decode_splits = 2 : i64, softmax = "unified", unified_max = 0.000000e+00 : f64}, num_heads = 8 : i64, num_kv_heads = 4 : i64}
// CHECK: llm.attention {{.*}} {causal, layer = 1 : i64, llm.flash = {decode_splits = 2 : i64, softmax = "unified", unified_max = 0.000000e+00 : f64}, num_heads = 8 : i64, num_kv_heads = 4 : i64, sliding_window = 16 : i64}
// ONLINE: llm.flash = {decode_splits = 4 : i64, softmax = "online", unified_max = 0.000000e+00 : f64}
// ONLINE: llm.flash = {decode_splits = 4 : i64, softmax = "online", unified_max = 0.000000e+00 : f64}
// BADSPLITS: error: decode-splits must be 1..64, got 0
// BADSOFTMAX: error: softmax must be 'unified' or 'online', got 'fast'
func.func @two_layers(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %kv: !llm.kv_cache<2x64x4x8, f32>, %pos: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>) {
  %o, %kv1 = llm.attention %q, %k, %v, %kv[%pos] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, f32>
  %o2, %kv2 = llm.attention %o, %k, %v, %kv1[%pos] {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, sliding_window = 16 : i64} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, f32>
  return %o2, %kv2 : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, f32>
}
