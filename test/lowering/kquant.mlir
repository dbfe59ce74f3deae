// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file | FileCheck %s
// RUN: llmc-opt %s --convert-llm-to-linalg --llm-buffer-abi --split-input-file | FileCheck %s --check-prefix=ABI
// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file | FileCheck %s --check-prefix=PREFETCH
// RUN: llmc-opt %s --convert-llm-to-linalg="dot-isa=vnni" --split-input-file | FileCheck %s --check-prefix=VNNI

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

// -----

// Q5_K: Q4_K's kernel with a fifth bit per weight from qh (32 bytes per row
// at unit byte 128, read as 8 chunks of 32 bytes), or-ed into each nibble
// as bit 4 (a mask of 16) before the byte dot products.
// CHECK-LABEL: func.func @forward
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<16x256xi5> to tensor<2816xi8> {llm.block_layout = "rows8"}
// CHECK: arith.constant -8 : i32
// CHECK: scf.for {{.*}} -> (vector<8xf32>) {
// CHECK: arith.constant dense<16> : vector<32xi8>
// CHECK: arith.ori %{{.*}}, %{{.*}} : vector<32xi8>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK-NOT: linalg.matmul
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 2816 : i64, dtype = "q5_k", layout = "rows8", name = "p", offset = 0 : i64, shape = [16, 256]}]
func.func @forward(%x: tensor<?x256xf32>) -> tensor<?x16xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 5, group = 256, scheme = gguf_q5_k, granularity = block>} : tensor<16x256xi5>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 5, group = 256, scheme = gguf_q5_k, granularity = block>} : tensor<?x256xf32>, tensor<16x256xi5> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// Q3_K: 2-bit quants with a high bit from hmask (a mask of 4); the -4 offset
// folds into where each 16's dot product starts (-4 times its activation
// sum), and the 6-bit scales (minus 32) multiply the integer sums as Q6_K's.
// CHECK-LABEL: func.func @forward
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<8x256xi3> to tensor<880xi8> {llm.block_layout = "rows8"}
// CHECK: arith.constant -4 : i32
// CHECK: scf.for {{.*}} -> (vector<8xf32>) {
// CHECK: arith.constant dense<3> : vector<32xi8>
// CHECK: arith.constant dense<4> : vector<32xi8>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK: arith.muli %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK-NOT: linalg.matmul
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 880 : i64, dtype = "q3_k", layout = "rows8", name = "p", offset = 0 : i64, shape = [8, 256]}]
func.func @forward(%x: tensor<?x256xf32>) -> tensor<?x8xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 3, group = 256, scheme = gguf_q3_k, granularity = block>} : tensor<8x256xi3>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 3, group = 256, scheme = gguf_q3_k, granularity = block>} : tensor<?x256xf32>, tensor<8x256xi3> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Q2_K: 2-bit quants; the low nibble of each 16's scale byte multiplies its
// integer sum, the high nibble (the min) multiplies dmin and the negated,
// scaled activation sum of the 16 (computed once per token, before the
// super-block loop).
// CHECK-LABEL: func.func @forward
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<8x256xi2> to tensor<672xi8> {llm.block_layout = "rows8"}
// CHECK: arith.negf %{{.*}} : f32
// CHECK: scf.for {{.*}} -> (vector<8xf32>) {
// CHECK: arith.constant dense<3> : vector<32xi8>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK: arith.muli %{{.*}}, %{{.*}} : vector<8xi32>
// CHECK: arith.uitofp %{{.*}} : vector<8xi8> to vector<8xf32>
// CHECK-NOT: linalg.matmul
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 672 : i64, dtype = "q2_k", layout = "rows8", name = "p", offset = 0 : i64, shape = [8, 256]}]
func.func @forward(%x: tensor<?x256xf32>) -> tensor<?x8xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 2, group = 256, scheme = gguf_q2_k, granularity = block>} : tensor<8x256xi2>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 2, group = 256, scheme = gguf_q2_k, granularity = block>} : tensor<?x256xf32>, tensor<8x256xi2> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// IQ4_NL (8 blocks of 32 as one super-block): the nibbles are looked up in a
// 16-byte table (32 extracts, one byte shuffle for LLVM): its magnitudes,
// the signs moved to the activations (arith.select), so that vpmaddubsw's /
// sdot's unsigned side stays below 128; with dot-isa=vnni (vpdpbusd takes
// bytes up to 255) the values + 128, each block's chain starting at -128
// times its activation sum, no selects.
// CHECK-LABEL: func.func @forward
// CHECK: {llm.block_layout = "rows8"}
// CHECK: arith.constant dense<[127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, 113]> : vector<16xi8>
// CHECK: vector.from_elements
// CHECK: arith.select {{.*}} : vector<32xi1>, vector<32xi8>
// VNNI: module attributes {llm.dot_isa = "vnni"}
// VNNI: arith.constant -128 : i32
// VNNI: arith.constant dense<[1, 24, 45, 63, 79, 93, 106, 118, -127, -115, -103, -90, -75, -59, -39, -15]> : vector<16xi8>
// VNNI-NOT: arith.select {{.*}} : vector<32xi1>, vector<32xi8>
// VNNI: return
func.func @forward(%x: tensor<?x256xf32>) -> tensor<?x8xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_iq4_nl, granularity = block>} : tensor<8x256xi4>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_iq4_nl, granularity = block>} : tensor<?x256xf32>, tensor<8x256xi4> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
