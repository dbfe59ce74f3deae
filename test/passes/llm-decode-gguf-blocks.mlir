// RUN: llmc-opt %s --llm-decode-gguf-blocks --split-input-file | FileCheck %s

// A K-quant linear becomes a linear over the weight decoded to f16 at pack
// time (bias and epilogue kept); a q4_0 one (no pack-time decoder) and a
// symmetric int8 one stay.
// CHECK-LABEL: func.func @forward
// CHECK: %[[W:.*]] = llm.dequantize %{{.*}} {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<16x256xi4> -> tensor<16x256xf16>
// CHECK: llm.linear %{{.*}}, %[[W]] bias(%{{.*}} : tensor<16xf32>) activation silu : tensor<?x256xf32>, tensor<16x256xf16> -> tensor<?x16xf32>
// CHECK: llm.qlinear {{.*}}scheme = gguf_q4_0
// CHECK-NOT: llm.dequantize
func.func @forward(%x: tensor<?x256xf32>, %b: tensor<16xf32>) -> (tensor<?x16xf32>, tensor<?x16xf32>) {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<16x256xi4>
  %y = llm.qlinear %x, %p bias(%b : tensor<16xf32>) activation silu {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<?x256xf32>, tensor<16x256xi4> -> tensor<?x16xf32>
  %q = llm.param "q" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<16x256xi4>
  %z = llm.qlinear %x, %q {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x256xf32>, tensor<16x256xi4> -> tensor<?x16xf32>
  return %y, %z : tensor<?x16xf32>, tensor<?x16xf32>
}
