// The -O2 pipeline on a whole Llama layer (test/dialect/llama-block.mlir):
// 15 llm compute ops become 10. The norm scales live in the concatenated
// Q/K/V and gate/up weights, both residual adds seed the projections'
// accumulators, and attention takes the flash kernel.
// RUN: llmc-opt %S/../dialect/llama-block.mlir --llm-optimize | FileCheck %s
// RUN: llmc-opt %S/../dialect/llama-block.mlir --llm-optimize="flash=false" | FileCheck %s --check-prefix=NOFLASH

// CHECK-LABEL: func.func @decoder_layer
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: index, %[[KV:.*]]: !llm.kv_cache<5x512x4x8, f32>)
// CHECK-DAG: %[[AN:.*]] = llm.param "layers.2.attention_norm.weight"
// CHECK-DAG: %[[WQ:.*]] = llm.param "layers.2.attention.wq.weight"
// CHECK-DAG: %[[WK:.*]] = llm.param "layers.2.attention.wk.weight"
// CHECK-DAG: %[[WV:.*]] = llm.param "layers.2.attention.wv.weight"
// CHECK-DAG: %[[WO:.*]] = llm.param "layers.2.attention.wo.weight"
// CHECK-DAG: %[[FN:.*]] = llm.param "layers.2.ffn_norm.weight"
// CHECK-DAG: %[[W1:.*]] = llm.param "layers.2.feed_forward.w1.weight"
// CHECK-DAG: %[[W2:.*]] = llm.param "layers.2.feed_forward.w2.weight"
// CHECK-DAG: %[[W3:.*]] = llm.param "layers.2.feed_forward.w3.weight"
// CHECK: %[[N1:.*]] = llm.rms_norm %[[X]] {eps = 1.000000e-05 : f64} : tensor<?x64xf32>
// CHECK-NEXT: %[[WQKV:.*]] = llm.concat %[[WQ]], %[[WK]], %[[WV]]
// CHECK-NEXT: %[[WQKVG:.*]] = llm.scale_columns %[[WQKV]], %[[AN]] : tensor<128x64xf32>, tensor<64xf32>
// CHECK-NEXT: %[[QKV:.*]] = llm.linear %[[N1]], %[[WQKVG]] : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
// CHECK: %[[Q:.*]] = tensor.extract_slice %[[QKV]][0, 0]
// CHECK-NEXT: %[[K:.*]] = tensor.extract_slice %[[QKV]][0, 64]
// CHECK-NEXT: %[[V:.*]] = tensor.extract_slice %[[QKV]][0, 96]
// CHECK-NEXT: %[[QR:.*]] = llm.rope %[[Q]], %[[POS]]
// CHECK-NEXT: %[[KR:.*]] = llm.rope %[[K]], %[[POS]]
// CHECK-NEXT: %[[O:.*]], %[[NEWKV:.*]] = llm.attention %[[QR]], %[[KR]], %[[V]], %[[KV]][%[[POS]]] {causal, layer = 2 : i64, llm.flash = {decode_splits = 2 : i64, softmax = "unified", unified_max = 0.000000e+00 : f64}
// CHECK-NEXT: %[[R1:.*]] = llm.linear %[[O]], %[[WO]] residual(%[[X]] : tensor<?x64xf32>)
// CHECK-NEXT: %[[N2:.*]] = llm.rms_norm %[[R1]] {eps = 1.000000e-05 : f64} : tensor<?x64xf32>
// CHECK-NEXT: %[[WGU:.*]] = llm.concat %[[W1]], %[[W3]]
// CHECK-NEXT: %[[WGUG:.*]] = llm.scale_columns %[[WGU]], %[[FN]] : tensor<344x64xf32>, tensor<64xf32>
// CHECK-NEXT: %[[GU:.*]] = llm.linear %[[N2]], %[[WGUG]] : tensor<?x64xf32>, tensor<344x64xf32> -> tensor<?x344xf32>
// CHECK-NEXT: %[[ACT:.*]] = llm.swiglu %[[GU]] : tensor<?x344xf32> -> tensor<?x172xf32>
// CHECK-NEXT: %[[OUT:.*]] = llm.linear %[[ACT]], %[[W2]] residual(%[[R1]] : tensor<?x64xf32>)
// CHECK-NEXT: return %[[OUT]], %[[NEWKV]]
// NOFLASH-LABEL: func.func @decoder_layer
// NOFLASH-NOT: llm.flash
// NOFLASH: llm.linear {{.*}} residual(
// NOFLASH-NOT: llm.flash
