// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file | FileCheck %s
// RUN: llmc-opt %s --convert-llm-to-linalg --llm-buffer-abi --split-input-file | FileCheck %s --check-prefix=ABI
// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file | FileCheck %s --check-prefix=PREFETCH

// The one-token kernel's super-block loop is marked for llm-cpu-prefetch
// (2 KiB ahead); the 4-token kernel's is not.
// PREFETCH-LABEL: func.func @forward
// PREFETCH-COUNT-1: {llm.prefetch_bytes = 2048 : i64}
// PREFETCH-NOT: llm.prefetch_bytes
// PREFETCH-LABEL: func.func @forward

// A Q4_K linear runs on the super-blocks as stored, interleaved by 8 rows
// (16 rows: "rows8"): activations quantized per block of 32 with -8 times
// each block's sum (the mins' factor), then per super-block the 8 rows'
// f16 d / dmin (16-byte loads), 12 scale bytes (8-byte loads), and 32-byte
// loads of nibbles, each giving two byte dot products (low and high
// nibbles); no dequantized weight anywhere.
// CHECK-LABEL: func.func @forward
// CHECK: %[[B:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<16x256xi4> to tensor<2304xi8> {llm.block_layout = "rows8"}
// CHECK: math.roundeven
// CHECK: arith.constant -8 : i32
// CHECK: scf.forall
// CHECK: scf.for {{.*}} -> (vector<8xf32>) {
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<2304xi8>, vector<16xi8>
// CHECK: vector.bitcast %{{.*}} : vector<16xi8> to vector<8xf16>
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<2304xi8>, vector<8xi8>
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<2304xi8>, vector<32xi8>
// CHECK: arith.extui %{{.*}} : vector<32xi8> to vector<32xi32>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK-NOT: linalg.matmul
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 2304 : i64, dtype = "q4_k", layout = "rows8", name = "p", offset = 0 : i64, shape = [16, 256]}]
func.func @forward(%x: tensor<?x256xf32>) -> tensor<?x16xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<16x256xi4>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<?x256xf32>, tensor<16x256xi4> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// A tied Q6_K table of 64 rows (interleaved "rows8": each group of 8 rows
// has its super-blocks together): the classifier's kernel and the
// embedding gather read the same interleaved units (the gather decodes the
// rows it looks up). Q6_K's dot products start at -32 times the sum of
// each 16 activations; the two int8 scales of each block of 32 multiply
// its two integer sums.
// CHECK-LABEL: func.func @forward
// CHECK-COUNT-2: builtin.unrealized_conversion_cast %{{.*}} : tensor<64x256xi6> to tensor<13440xi8> {llm.block_layout = "rows8"}
// CHECK: arith.constant -32 : i32
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK: arith.muli %{{.*}}, %{{.*}} : vector<8xi32>
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 13440 : i64, dtype = "q6_k", layout = "rows8", name = "e", offset = 0 : i64, shape = [64, 256]}]
func.func @forward(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %e = llm.param "e" {quant = #llm.quant<bits = 6, group = 256, scheme = gguf_q6_k, granularity = block>} : tensor<64x256xi6>
  %w = llm.dequantize %e {quant = #llm.quant<bits = 6, group = 256, scheme = gguf_q6_k, granularity = block>} : tensor<64x256xi6> -> tensor<64x256xf32>
  %x = llm.embedding %w[%t] : tensor<64x256xf32>, tensor<?xi32> -> tensor<?x256xf32>
  %y = llm.qlinear %x, %e {quant = #llm.quant<bits = 6, group = 256, scheme = gguf_q6_k, granularity = block>} : tensor<?x256xf32>, tensor<64x256xi6> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Rows that are not a multiple of 8: no kernel; the weight is dequantized
// from the blocks as stored (no layout) and the f32 linear runs.
// CHECK-LABEL: func.func @forward
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<4x256xi4> to tensor<576xi8>
// CHECK-NOT: llm.block_layout
// CHECK-NOT: vector<8x4xi32>
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 576 : i64, dtype = "q4_k", name = "p", offset = 0 : i64, shape = [4, 256]}]
func.func @forward(%x: tensor<?x256xf32>) -> tensor<?x4xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<4x256xi4>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<?x256xf32>, tensor<4x256xi4> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
