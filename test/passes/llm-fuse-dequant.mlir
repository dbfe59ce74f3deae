// RUN: llmc-opt %s -llm-fuse-dequant -split-input-file | FileCheck %s

// dequantize -> linear: the linear reads the quantized weight directly
// (dequantized in registers by the backend); scales, zeros, bias and the
// epilogue carry over, and the dequantize disappears.
// CHECK-LABEL: func.func @q4_group
// CHECK-DAG: %[[Q:.*]] = llm.param "q"
// CHECK-DAG: %[[S:.*]] = llm.param "s"
// CHECK-DAG: %[[Z:.*]] = llm.param "z"
// CHECK-DAG: %[[B:.*]] = llm.param "b"
// CHECK: %[[Y:.*]] = llm.qlinear %{{.*}}, %[[Q]] scales(%[[S]] : tensor<64x2xf32>) zeros(%[[Z]] : tensor<64x2xi4>) bias(%[[B]] : tensor<64xf32>) activation silu {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<?x64xf32>, tensor<64x64xi4> -> tensor<?x64xf32>
// CHECK-NEXT: return %[[Y]]
// CHECK-NOT: llm.dequantize
func.func @q4_group(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %q = llm.param "q" : tensor<64x64xi4>
  %s = llm.param "s" : tensor<64x2xf32>
  %z = llm.param "z" : tensor<64x2xi4>
  %b = llm.param "b" : tensor<64xf32>
  %w = llm.dequantize %q scales(%s : tensor<64x2xf32>) zeros(%z : tensor<64x2xi4>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<64x64xi4> -> tensor<64x64xf32>
  %y = llm.linear %x, %w bias(%b : tensor<64xf32>) activation silu : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// GGUF blocks carry their scales inline: no scales operand.
// CHECK-LABEL: func.func @gguf_q8_0
// CHECK: llm.qlinear %{{.*}}, %{{.*}} {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<?x64xf32>, tensor<64x64xi8> -> tensor<?x64xf32>
// CHECK-NOT: llm.dequantize
func.func @gguf_q8_0(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %q = llm.param "q" : tensor<64x64xi8>
  %w = llm.dequantize %q {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<64x64xi8> -> tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A dequantize with another user (here returned) stays for that user; the
// linear still reads the quantized weight.
// CHECK-LABEL: func.func @shared_dequantize
// CHECK: %[[W:.*]] = llm.dequantize
// CHECK: %[[Y:.*]] = llm.qlinear
// CHECK-NEXT: return %[[Y]], %[[W]]
func.func @shared_dequantize(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<64x64xf32>) {
  %q = llm.param "q" : tensor<64x64xi8>
  %s = llm.param "s" : tensor<64x1xf32>
  %w = llm.dequantize %q scales(%s : tensor<64x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xi8> -> tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  return %y, %w : tensor<?x64xf32>, tensor<64x64xf32>
}

// -----

// Negative: a plain float weight and a dequantize to a type other than the
// activations' (bf16 weights for f32 activations) stay as they are.
// CHECK-LABEL: func.func @not_fusable
// CHECK: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xf32>
// CHECK: llm.dequantize {{.*}} -> tensor<64x64xbf16>
// CHECK-NEXT: llm.linear %{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<64x64xbf16>
// CHECK-NOT: llm.qlinear
func.func @not_fusable(%x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %w = llm.param "w" : tensor<64x64xf32>
  %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %q = llm.param "q" : tensor<64x64xi8>
  %s = llm.param "s" : tensor<64x1xf32>
  %d = llm.dequantize %q scales(%s : tensor<64x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xi8> -> tensor<64x64xbf16>
  %z = llm.linear %x, %d : tensor<?x64xf32>, tensor<64x64xbf16> -> tensor<?x64xf32>
  return %y, %z : tensor<?x64xf32>, tensor<?x64xf32>
}
