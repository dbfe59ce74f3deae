// RUN: llmc-opt %s --llm-buffer-abi --split-input-file --verify-diagnostics --allow-unregistered-dialect | FileCheck %s
// RUN: llmc-opt %s --llm-buffer-abi="alignment=128" --split-input-file --verify-diagnostics --allow-unregistered-dialect | FileCheck %s --check-prefix=ALIGN

// Tensor arguments become memrefs read with to_tensor restrict; the cache is
// writable and written back in place; other results become out-parameters;
// weights are views at 64-byte aligned offsets of one i8 buffer, recorded in
// llm.weights in first-use order.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: (%[[TOK:[a-z0-9]+]]: memref<?xi32>, %[[POS:[a-z0-9]+]]: index, %[[KV:[a-z0-9]+]]: memref<2x2x1x8x4xf32>, %[[W:[a-z0-9]+]]: memref<?xi8>, %[[OUT:[a-z0-9]+]]: memref<?x4xf32>)
// CHECK-SAME: attributes {llm.weights = [{bytes = 64 : i64, dtype = "f32", name = "a", offset = 0 : i64, shape = [4, 4]}, {bytes = 12 : i64, dtype = "f32", name = "b", offset = 64 : i64, shape = [3]}, {bytes = 4 : i64, dtype = "bf16", name = "c", offset = 128 : i64, shape = [2]}], llm.weights_bytes = 132 : i64, llvm.emit_c_interface}
// CHECK-DAG: bufferization.to_tensor %[[TOK]] restrict : memref<?xi32>
// CHECK-DAG: %[[CT:.*]] = bufferization.to_tensor %[[KV]] restrict writable : memref<2x2x1x8x4xf32>
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: memref.view %[[W]][%[[C0]]][] : memref<?xi8> to memref<4x4xf32>
// CHECK-DAG: %[[C64:.*]] = arith.constant 64 : index
// CHECK-DAG: memref.view %[[W]][%[[C64]]][] : memref<?xi8> to memref<3xf32>
// CHECK: bufferization.materialize_in_destination %{{.*}} in restrict writable %[[OUT]]
// CHECK: bufferization.materialize_in_destination %[[CT]] in restrict writable %[[KV]]
// CHECK: return{{$}}
// ALIGN-LABEL: func.func @forward
// ALIGN-SAME: name = "b", offset = 128 : i64
// ALIGN-SAME: name = "c", offset = 256 : i64
func.func @forward(%tokens: tensor<?xi32>, %pos: index,
                   %kv: tensor<2x2x1x8x4xf32> {llm.kv_cache})
    -> (tensor<?x4xf32>, tensor<2x2x1x8x4xf32> {llm.kv_cache}) {
  %a = llm.param "a" : tensor<4x4xf32>
  %b = llm.param "b" : tensor<3xf32>
  %c = llm.param "c" : tensor<2xbf16>
  %a2 = llm.param "a" : tensor<4x4xf32>
  %x = "test.use"(%tokens, %a, %b, %c, %a2) : (tensor<?xi32>, tensor<4x4xf32>, tensor<3xf32>, tensor<2xbf16>, tensor<4x4xf32>) -> tensor<?x4xf32>
  return %x, %kv : tensor<?x4xf32>, tensor<2x2x1x8x4xf32>
}

// -----

// expected-error @+1 {{no entry function 'forward' with a body}}
module {
  func.func private @forward(tensor<?xi32>) -> tensor<?x4xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{quantized weights have no buffer ABI yet}}
  %a = llm.param "a" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<4x32xi8>
  %z = "test.use"(%a) : (tensor<4x32xi8>) -> tensor<4x4xf32>
  return %z : tensor<4x4xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>) -> tensor<4x4xf32> {
  %a = llm.param "a" : tensor<4x4xf32>
  // expected-error @+1 {{weight 'a' is used with types 'tensor<4x4xf32>' and 'tensor<16xf32>'}}
  %b = llm.param "a" : tensor<16xf32>
  %z = "test.use"(%a, %b) : (tensor<4x4xf32>, tensor<16xf32>) -> tensor<4x4xf32>
  return %z : tensor<4x4xf32>
}

// -----

// Blocks the kernel reads interleaved by 8 rows: the weight table says so
// (layout "rows8") and `llmc compile` packs them that way; the view is the
// same flat bytes.
// CHECK-LABEL: func.func @forward
// CHECK-SAME: llm.weights = [{bytes = 288 : i64, dtype = "q4_0", layout = "rows8", name = "w", offset = 0 : i64, shape = [16, 32]}]
// CHECK: memref.view %{{.*}}[%{{.*}}][] : memref<?xi8> to memref<288xi8>
func.func @forward(%tokens: tensor<?xi32>) -> tensor<4x4xf32> {
  %w = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<16x32xi4>
  %b = builtin.unrealized_conversion_cast %w : tensor<16x32xi4> to tensor<288xi8> {llm.block_layout = "rows8"}
  %z = "test.use"(%b) : (tensor<288xi8>) -> tensor<4x4xf32>
  return %z : tensor<4x4xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{weight is read in two block layouts}}
  %w = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<16x32xi4>
  %b = builtin.unrealized_conversion_cast %w : tensor<16x32xi4> to tensor<288xi8> {llm.block_layout = "rows8"}
  %c = builtin.unrealized_conversion_cast %w : tensor<16x32xi4> to tensor<288xi8>
  %z = "test.use"(%b, %c) : (tensor<288xi8>, tensor<288xi8>) -> tensor<4x4xf32>
  return %z : tensor<4x4xf32>
}

// -----

func.func @forward(%tokens: tensor<?xi32>) -> tensor<4x4xf32> {
  // expected-error @+1 {{block layout "rows64" needs q8_0 / q4_0 / q2_k .. q6_k / q5_0 / q5_1 / iq4_nl rows in groups of 8 (rows8) or 64 (rows64)}}
  %w = llm.param "w" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<16x32xi4>
  %b = builtin.unrealized_conversion_cast %w : tensor<16x32xi4> to tensor<288xi8> {llm.block_layout = "rows64"}
  %z = "test.use"(%b) : (tensor<288xi8>) -> tensor<4x4xf32>
  return %z : tensor<4x4xf32>
}
