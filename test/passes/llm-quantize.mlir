// RUN: llmc-opt %s --llm-quantize --split-input-file | FileCheck %s
// RUN: llmc-opt %s --llm-quantize="scheme=w4g32 asymmetric=true" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=W4A
// RUN: llmc-opt %s --llm-quantize="scheme=w4g32 keep=output,w2" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=KEEP
// RUN: not llmc-opt %s --llm-quantize="scheme=w3x" --split-input-file 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: llmc-opt %s --llm-quantize="scheme=q4_0" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=Q40
// RUN: llmc-opt %s --llm-quantize="scheme=q8_0" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=Q80
// RUN: llmc-opt %s --llm-quantize="scheme=gqsa-w4s50" --split-input-file 2>&1 | FileCheck %s --check-prefix=GQSA
// RUN: llmc-opt %s --llm-quantize="scheme=w4g32 clip=true" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=CLIP
// RUN: llmc-opt %s --llm-quantize="scheme=q4_0 clip=true" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=Q40
// RUN: not llmc-opt %s --llm-quantize="scheme=q4_0 asymmetric=true" --split-input-file 2>&1 | FileCheck %s --check-prefix=NOASYM
// RUN: llmc-opt %s --llm-quantize="scheme=dgq-a8w4g32" --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=DGQ
// RUN: llmc-opt %s --llm-quantize="scheme=dgq-a8w4" --split-input-file 2>&1 | FileCheck %s --check-prefix=G128
// RUN: not llmc-opt %s --llm-quantize="scheme=dgq-a8w4g48" --split-input-file 2>&1 | FileCheck %s --check-prefix=WRONGG

// w8: one scale per output channel; the residual epilogue carries over; the
// fused (concatenated) weight is quantized as one.
// CHECK-LABEL: func.func @layer
// CHECK: %[[W:.*]] = llm.param "w2" : tensor<64x96xf32>
// CHECK: %[[C:.*]] = llm.concat
// CHECK: %[[Q:.*]]:2 = llm.quantize %[[C]] {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<96x64xf32> -> tensor<96x64xi8>, tensor<96x1xf32>
// CHECK: llm.qlinear %arg0, %[[Q]]#0 scales(%[[Q]]#1 : tensor<96x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<?x64xf32>, tensor<96x64xi8> -> tensor<?x96xf32>
// CHECK: %[[Q2:.*]]:2 = llm.quantize %[[W]] {{.*}} : tensor<64x96xf32> -> tensor<64x96xi8>, tensor<64x1xf32>
// CHECK: llm.qlinear %{{.*}}, %[[Q2]]#0 scales(%[[Q2]]#1 : tensor<64x1xf32>) residual(%arg0 : tensor<?x64xf32>) activation silu
// CHECK-NOT: llm.linear
// w4g32 asymmetric: scales and zero points per 32 input features.
// W4A-LABEL: func.func @layer
// W4A: %[[Q:.*]]:3 = llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<96x64xf32> -> tensor<96x64xi4>, tensor<96x2xf32>, tensor<96x2xf32>
// W4A: llm.qlinear %arg0, %[[Q]]#0 scales(%[[Q]]#1 : tensor<96x2xf32>) zeros(%[[Q]]#2 : tensor<96x2xf32>)
// W4A: llm.quantize %{{.*}} : tensor<64x96xf32> -> tensor<64x96xi4>, tensor<64x3xf32>, tensor<64x3xf32>
// `keep` leaves w2 in float, matched by name inside any transform.
// KEEP-LABEL: func.func @layer
// KEEP: llm.quantize %{{.*}} : tensor<96x64xf32> -> tensor<96x64xi4>, tensor<96x2xf32>
// KEEP: llm.linear %{{.*}}, %{{.*}} residual(%arg0 : tensor<?x64xf32>) activation silu
// BAD: error: llm-quantize: unknown scheme 'w3x'
// GGUF blocks: one result (the scales are inside the blocks), no scales
// operand; `clip` does not apply to them (ggml's quantizer).
// Q40-LABEL: func.func @layer
// Q40: %[[Q:.*]] = llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<96x64xf32> -> tensor<96x64xi4>
// Q40: llm.qlinear %arg0, %[[Q]] {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x64xf32>, tensor<96x64xi4> -> tensor<?x96xf32>
// Q40: llm.quantize %{{.*}} : tensor<64x96xf32> -> tensor<64x96xi4>
// Q80-LABEL: func.func @layer
// Q80: llm.quantize %{{.*}} {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<96x64xf32> -> tensor<96x64xi8>
// Q80: %[[Q:.*]] = llm.quantize %{{.*}} : tensor<64x96xf32> -> tensor<64x96xi8>
// Q80: llm.qlinear %{{.*}}, %[[Q]] residual(%arg0 : tensor<?x64xf32>) activation silu
// The GQSA scheme keeps half of each row's blocks: rows must be an even number of
// blocks (96 features are 3), so w2 stays in float with a remark.
// GQSA: remark: not quantized: the group size 64 does not divide the 96 input features
// GQSA-LABEL: func.func @layer
// GQSA: llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = gqsa_q4_0_s50, granularity = block>} : tensor<96x64xf32> -> tensor<96x64xi4>
// GQSA: llm.linear %{{.*}}, %{{.*}} residual(%arg0 : tensor<?x64xf32>) activation silu
// `clip` marks each quantize for the packer's clipping search.
// CLIP-LABEL: func.func @layer
// CLIP: llm.quantize %{{.*}} {llm.clip_search, quant = #llm.quant<bits = 4, group = 32, scheme = symmetric, granularity = group>}
// NOASYM: error: llm-quantize: unknown scheme 'q4_0'
// Dual grained A8W4: the packed rows (scales inside) and the activations'
// multipliers, one per input feature, as the qlinear's scales.
// DGQ-LABEL: func.func @layer
// DGQ: %[[Q:.*]]:2 = llm.quantize %{{.*}} {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<96x64xf32> -> tensor<96x64xi4>, tensor<64xf32>
// DGQ: llm.qlinear %arg0, %[[Q]]#0 scales(%[[Q]]#1 : tensor<64xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<?x64xf32>, tensor<96x64xi4> -> tensor<?x96xf32>
// DGQ: %[[Q2:.*]]:2 = llm.quantize %{{.*}} : tensor<64x96xf32> -> tensor<64x96xi4>, tensor<96xf32>
// DGQ: llm.qlinear %{{.*}}, %[[Q2]]#0 scales(%[[Q2]]#1 : tensor<96xf32>) residual(%arg0 : tensor<?x64xf32>) activation silu
// The default group is 128, which 64 and 96 input features are not.
// G128: remark: not quantized: the group size 128 does not divide the 64 input features
// G128: remark: not quantized: the group size 128 does not divide the 96 input features
// WRONGG: error: llm-quantize: unknown scheme 'dgq-a8w4g48'
func.func @layer(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %wq = llm.param "wq" : tensor<64x64xf32>
  %wk = llm.param "wk" : tensor<32x64xf32>
  %w2 = llm.param "w2" : tensor<64x96xf32>
  %qkv = llm.concat %wq, %wk {axis = 0 : i64} : tensor<64x64xf32>, tensor<32x64xf32> -> tensor<96x64xf32>
  %h = llm.linear %x, %qkv : tensor<?x64xf32>, tensor<96x64xf32> -> tensor<?x96xf32>
  %y = llm.linear %h, %w2 residual(%x : tensor<?x64xf32>) activation silu : tensor<?x96xf32>, tensor<64x96xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Untouched: a weight computed at run time (not a pack-time value), and a
// group size that does not divide the input features (with a remark).
// CHECK-LABEL: func.func @unchanged
// CHECK-NOT: llm.quantize
// CHECK: llm.linear %arg0, %arg1
// W4A-LABEL: func.func @unchanged
// W4A: llm.linear %arg0, %arg1
// W4A: llm.linear %arg0, %{{.*}} : tensor<?x48xf32>, tensor<16x48xf32>
func.func @unchanged(%x: tensor<?x48xf32>, %w: tensor<16x48xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %y = llm.linear %x, %w : tensor<?x48xf32>, tensor<16x48xf32> -> tensor<?x16xf32>
  %p = llm.param "odd" : tensor<16x48xf32>
  // expected-remark @below {{not quantized: the group size 32 does not divide the 48 input features}}
  %z = llm.linear %x, %p : tensor<?x48xf32>, tensor<16x48xf32> -> tensor<?x16xf32>
  return %y, %z : tensor<?x16xf32>, tensor<?x16xf32>
}
