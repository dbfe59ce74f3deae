// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file --verify-diagnostics | FileCheck %s

// The KV cache becomes [layers, 2, kv_heads, capacity, head_dim] (capacity =
// max_seq rounded up to 16). Keys are stored transposed in their slot
// ([kv_heads, head_dim, capacity], written at column start_pos), values at
// row start_pos; then the first pos + T positions, rounded up to blocks of
// 16, are read back for GQA attention (8 query heads over 4 KV heads).
// CHECK-LABEL: func.func @attention
// CHECK-SAME: %[[CACHE:[a-z0-9]+]]: tensor<2x2x4x16x8xf32> {llm.kv_cache}
// CHECK-SAME: -> (tensor<?x64xf32>, tensor<2x2x4x16x8xf32> {llm.kv_cache})
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0
// CHECK: %[[LEN:.*]] = arith.addi %[[POS:[a-z0-9]+]], %[[T]]
// CHECK: %[[KSLOT:.*]] = tensor.extract_slice %[[CACHE]][1, 0, 0, 0, 0] [1, 1, 4, 16, 8]
// CHECK: %[[KT:.*]] = linalg.transpose {{.*}} permutation = [1, 2, 0]
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [4, 8, 16] : tensor<4x128xf32> into tensor<4x8x16xf32>
// CHECK: tensor.insert_slice %[[KT]] into %{{.*}}[0, 0, %[[POS]]] [4, 8, %[[T]]] [1, 1, 1] : tensor<4x8x?xf32> into tensor<4x8x16xf32>
// CHECK: %[[K1:.*]] = tensor.insert_slice %{{.*}} into %[[CACHE]][1, 0, 0, 0, 0] [1, 1, 4, 16, 8]
// CHECK: linalg.transpose {{.*}} permutation = [1, 0, 2]
// CHECK: %[[KV1:.*]] = tensor.insert_slice %{{.*}} into %[[K1]][1, 1, 0, %[[POS]], 0] [1, 1, 4, %[[T]], 8] [1, 1, 1, 1, 1] : tensor<4x?x8xf32> into tensor<2x2x4x16x8xf32>
// CHECK: tensor.extract_slice %[[KV1]][1, 0, 0, 0, 0] [1, 1, 4, 16, 8]
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [4, 8, %[[PAD:.*]]] [1, 1, 1] : tensor<4x8x16xf32> to tensor<4x8x?xf32>
// CHECK: tensor.extract_slice %[[KV1]][1, 1, 0, 0, 0] [1, 1, 4, %[[PAD]], 8]
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2, 3]] output_shape [%[[T]], 4, 2, 8] : tensor<?x64xf32> into tensor<?x4x2x8xf32>
// Scores: blocks of 16 positions, a reduction over head_dim.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]{{.*}}llm.schedule = "attn_qk"
// Mask: positions >= pos + T (block padding) and, causal, s > pos + t.
// CHECK: arith.cmpi uge, %{{.*}}, %[[LEN]]
// CHECK: arith.cmpi ugt
// CHECK: arith.select %{{.*}}, %cst{{.*}}, %{{.*}} : f32
// Softmax: max, exp, sum, divide.
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: llm.schedule = "attn_pv"
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2, 3]] : tensor<?x4x2x8xf32> into tensor<?x64xf32>
// CHECK: return %{{.*}}, %[[KV1]]
func.func @attention(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>,
                     %cache: !llm.kv_cache<2x16x4x8, f32>, %pos: index)
    -> (tensor<?x64xf32>, !llm.kv_cache<2x16x4x8, f32>) {
  %o, %c = llm.attention %q, %k, %v, %cache[%pos]
      {layer = 1 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal}
      : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x16x4x8, f32>
  return %o, %c : tensor<?x64xf32>, !llm.kv_cache<2x16x4x8, f32>
}

// -----

// Sliding window: also hides positions s with s + window <= pos + t.
// CHECK-LABEL: func.func @sliding
// CHECK: arith.cmpi ugt
// CHECK: arith.ori
// CHECK: %[[W:.*]] = arith.addi %{{.*}}, %c4
// CHECK: arith.cmpi ule, %[[W]]
// CHECK: arith.ori
func.func @sliding(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>,
                   %cache: !llm.kv_cache<2x16x4x8, f32>, %pos: index)
    -> (tensor<?x64xf32>, !llm.kv_cache<2x16x4x8, f32>) {
  %o, %c = llm.attention %q, %k, %v, %cache[%pos]
      {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal, sliding_window = 4 : i64}
      : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x16x4x8, f32>
  return %o, %c : tensor<?x64xf32>, !llm.kv_cache<2x16x4x8, f32>
}

// -----

// Linear: tokens padded to a multiple of 4 (zero rows), a contraction over
// [T/4, 4, out, in] with the weight in its stored [out, in] layout, tagged
// for the CPU schedule (task rows, register rows, vector width); a bf16
// weight is extended in the body; the bias (epilogue) seeds the accumulator,
// so no pass over the output follows the contraction.
// One token takes the matrix-vector path (tagged matvec), more the blocked
// one.
// CHECK-LABEL: func.func @linear
// CHECK: %[[T:.*]] = tensor.dim %{{.*}}, %c0 : tensor<?x64xf32>
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[T]], %c1
// CHECK: scf.if %[[ONE]] -> (tensor<?x172xf32>)
// CHECK: tensor.cast %{{.*}} : tensor<?x64xf32> to tensor<1x64xf32>
// CHECK: %[[B1:.*]] = linalg.generic {{.*}}outs(%{{.*}} : tensor<1x172xf32>) attrs = {llm.schedule = "rows"}
// CHECK: tensor.extract %{{.*}} : tensor<172xf32>
// CHECK: linalg.generic {{.*}}ins(%{{.*}}, %{{.*}} : tensor<1x64xf32>, tensor<172x64xbf16>) outs(%[[B1]] : tensor<1x172xf32>) attrs = {llm.schedule = "matvec", llm.tiles = array<i64: 4, 4, 32>}
// CHECK: } else {
// CHECK: arith.cmpi ult
// CHECK: %[[X3:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [%{{.*}}, 4, 64] : tensor<?x64xf32> into tensor<?x4x64xf32>
// CHECK: %[[B:.*]] = linalg.generic {{.*}}outs(%{{.*}} : tensor<?x4x172xf32>) attrs = {llm.schedule = "rows"}
// CHECK: tensor.extract %{{.*}} : tensor<172xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[X3]], %{{.*}} : tensor<?x4x64xf32>, tensor<172x64xbf16>) outs(%[[B]] : tensor<?x4x172xf32>) attrs = {llm.schedule = "linear", llm.tiles = array<i64: 4, 4, 16>}
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: tensor.collapse_shape
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [%{{.*}}, 172] [1, 1] : tensor<?x172xf32> to tensor<?x172xf32>
// CHECK-NEXT: scf.yield
// CHECK-NEXT: }
// The row count re-stated after the branches (keeps shape reasoning linear).
// CHECK-NEXT: %[[Y:.*]] = tensor.extract_slice %{{.*}}[0, 0] [%[[T]], 172] [1, 1]
// CHECK-NEXT: return %[[Y]]
func.func @linear(%x: tensor<?x64xf32>, %w: tensor<172x64xbf16>, %b: tensor<172xf32>) -> tensor<?x172xf32> {
  %y = llm.linear %x, %w bias(%b : tensor<172xf32>) : tensor<?x64xf32>, tensor<172x64xbf16> -> tensor<?x172xf32>
  return %y : tensor<?x172xf32>
}

// -----

// RMSNorm: sum of squares, then w * (x * 1/sqrt(ss/n + eps)).
// CHECK-LABEL: func.func @norms
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: math.sqrt
// Embedding: a gather by token id.
// CHECK: arith.index_cast
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<100x64xf32>
func.func @norms(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %t: tensor<?xi32>, %e: tensor<100x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %n = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %g = llm.embedding %e[%t] : tensor<100x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return %n, %g : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// Gemma's forms: (1 + w) norms add the offset to the weight before scaling;
// the embedding multiplies by its scale; per-head norms of a [t, heads,
// head_dim] view reduce over head_dim only; soft caps are cap * tanh(x /
// cap); a run-time transpose is linalg.transpose.
// CHECK-LABEL: func.func @gemma_forms
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]
// CHECK: math.sqrt
// CHECK: arith.mulf
// CHECK-NEXT: %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK-NEXT: %[[G:.*]] = arith.addf %[[ONE]], %{{.*}} : f32
// CHECK-NEXT: arith.mulf %[[G]]
// CHECK: arith.constant 8.000000e+00 : f32
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: %[[CAP:.*]] = arith.constant 3.000000e+01 : f32
// CHECK: %[[D:.*]] = arith.divf %{{.*}}, %[[CAP]] : f32
// CHECK: %[[TH:.*]] = math.tanh %[[D]] : f32
// CHECK: arith.constant 3.000000e+01 : f32
// CHECK-NEXT: arith.mulf %[[TH]], %{{.*}} : f32
// CHECK: linalg.transpose ins(%{{.*}} : tensor<4x6xf32>) outs(%{{.*}} : tensor<6x4xf32>) permutation = [1, 0]
func.func @gemma_forms(%x: tensor<?x64xf32>, %w: tensor<64xf32>, %t: tensor<?xi32>, %e: tensor<100x64xf32>, %q: tensor<?x4x16xf32>, %hw: tensor<16xf32>, %m: tensor<4x6xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x4x16xf32>, tensor<?x64xf32>, tensor<6x4xf32>) {
  %n = llm.rms_norm %x, %w {eps = 1.0e-06 : f64, weight_offset = 1.0 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %g = llm.embedding %e[%t] {scale = 8.0 : f64} : tensor<100x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %qn = llm.rms_norm %q, %hw {eps = 1.0e-06 : f64} : tensor<?x4x16xf32>, tensor<16xf32>
  %c = llm.softcap %x {cap = 30.0 : f64} : tensor<?x64xf32>
  %tr = llm.transpose %m : tensor<4x6xf32> -> tensor<6x4xf32>
  return %n, %g, %qn, %c, %tr : tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x4x16xf32>, tensor<?x64xf32>, tensor<6x4xf32>
}

// -----

// LongRoPE: both inverse-frequency tables are constants (1 / (factor[i] *
// theta^(2i/d))); the long one is chosen when start_pos + tokens exceeds
// original_max_positions (16); cos and sin are scaled by attention_factor.
// CHECK-LABEL: func.func @rope_longrope
// CHECK: %[[END:.*]] = arith.addi %{{.*}}, %{{.*}} : index
// CHECK: %[[LONG:.*]] = arith.cmpi ugt, %[[END]], %c16
// CHECK-DAG: %[[SHORT_T:.*]] = arith.constant dense<[1.000000e+00, 0.0666666701, 5.000000e-03, 3.3333333E-4]> : tensor<4xf32>
// CHECK-DAG: %[[LONG_T:.*]] = arith.constant dense<[1.000000e+00, 5.000000e-02, 1.250000e-03, 6.250000e-05]> : tensor<4xf32>
// CHECK: %[[S:.*]] = tensor.extract %[[SHORT_T]]
// CHECK: %[[L:.*]] = tensor.extract %[[LONG_T]]
// CHECK: arith.select %[[LONG]], %[[L]], %[[S]] : f32
// CHECK: %[[AF:.*]] = arith.constant 1.250000e+00 : f32
// CHECK: arith.mulf %{{.*}}, %[[AF]] : f32
// CHECK: arith.mulf %{{.*}}, %[[AF]] : f32
func.func @rope_longrope(%x: tensor<?x64xf32>, %pos: index) -> tensor<?x64xf32> {
  %y = llm.rope %x, %pos style half {head_dim = 8 : i64, theta = 1.0e+04 : f64, scaling = #llm.rope_scaling<longrope, factor = 4.0, original_max_positions = 16, attention_factor = 1.25, short_factor = [1.0, 1.5, 2.0, 3.0], long_factor = [1.0, 2.0, 8.0, 16.0]>} : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Partial rotary (rotary_dim 4 of head_dim 8): frequencies over the rotated
// part only (1 / 10000^(2i/4)); elements 4..7 of each head pass through.
// CHECK-LABEL: func.func @rope_partial
// CHECK: arith.constant dense<[1.000000e+00, 0.00999999977]> : tensor<2xf32>
// CHECK: %[[J:.*]] = arith.remui %{{.*}}, %c8
// CHECK: %[[ROT:.*]] = arith.cmpi ult, %[[J]], %c4
// CHECK: %[[R:.*]] = arith.select %{{.*}}, %{{.*}}, %{{.*}} : f32
// CHECK-NEXT: arith.select %[[ROT]], %[[R]], %{{.*}} : f32
func.func @rope_partial(%x: tensor<?x64xf32>, %pos: index) -> tensor<?x64xf32> {
  %y = llm.rope %x, %pos style half {head_dim = 8 : i64, theta = 1.0e+04 : f64, rotary_dim = 4 : i64} : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// RoPE: inverse frequencies are a compile-time constant (here theta 10000,
// head_dim 8: 1, 0.1, 0.01, 0.001); the partner element is read from the
// input; cos/sin of (start_pos + t) * freq.
// CHECK-LABEL: func.func @rope
// CHECK: arith.constant dense<[1.000000e+00, 1.000000e-01, 0.00999999977, 1.000000e-03]> : tensor<4xf32>
// CHECK: math.cos
// CHECK: math.sin
// CHECK-LABEL: func.func @rope_half
// CHECK: arith.cmpi uge
func.func @rope(%x: tensor<?x64xf32>, %pos: index) -> tensor<?x64xf32> {
  %y = llm.rope %x, %pos style interleaved {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
func.func @rope_half(%x: tensor<?x64xf32>, %pos: index) -> tensor<?x64xf32> {
  %y = llm.rope %x, %pos style half {head_dim = 8 : i64, theta = 1.0e+04 : f64} : tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// SwiGLU of a fused [.., 2H] operand splits it; elementwise ops stay
// elementwise.
// CHECK-LABEL: func.func @activations
// CHECK: tensor.extract_slice %{{.*}}[0, 0] [%{{.*}}, 172] [1, 1]
// CHECK: tensor.extract_slice %{{.*}}[0, 172] [%{{.*}}, 172] [1, 1]
// CHECK: math.exp
// CHECK: math.erf
// CHECK: math.tanh
func.func @activations(%gu: tensor<?x344xf32>, %x: tensor<?x172xf32>) -> (tensor<?x172xf32>, tensor<?x172xf32>, tensor<?x172xf32>) {
  %a = llm.swiglu %gu : tensor<?x344xf32> -> tensor<?x172xf32>
  %b = llm.gelu %x : tensor<?x172xf32>
  %c = llm.gelu %x approximate tanh : tensor<?x172xf32>
  return %a, %b, %c : tensor<?x172xf32>, tensor<?x172xf32>, tensor<?x172xf32>
}

// -----

// GGUF blocks are read as packed bytes (bound by --llm-buffer-abi): the f16
// scale from two bytes, the int8 value after it. A dequantized table that
// only feeds an embedding is never materialized: the gather decodes the
// rows it reads.
// CHECK-LABEL: func.func @gguf_dequantize
// CHECK: %[[BYTES:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<4x64xi8> to tensor<272xi8>
// CHECK: tensor.extract %[[BYTES]]
// CHECK: arith.bitcast %{{.*}} : i16 to f16
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK-LABEL: func.func @gguf_embedding
// CHECK-NOT: linalg.generic
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<8x64xi4> to tensor<288xi8>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?xi32>) outs(%{{.*}} : tensor<?x64xf32>)
// CHECK: arith.index_cast
// CHECK: tensor.extract %{{.*}} : tensor<288xi8>
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @gguf_dequantize() -> tensor<4x64xf32> {
  %q = llm.param "q" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<4x64xi8>
  %w = llm.dequantize %q {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<4x64xi8> -> tensor<4x64xf32>
  return %w : tensor<4x64xf32>
}
func.func @gguf_embedding(%t: tensor<?xi32>) -> tensor<?x64xf32> {
  %q = llm.param "e" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<8x64xi4>
  %w = llm.dequantize %q {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<8x64xi4> -> tensor<8x64xf32>
  %x = llm.embedding %w[%t] : tensor<8x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// A q4_0 linear runs on the blocks as stored: the activations are
// quantized per block of 32 (max |x|, x * 127 / max rounded to even) and
// each block's -8 offset becomes the dot product's starting value; the
// kernel (one token here; four per tile in the else branch) reads the f16
// scale and the 16 nibble bytes of each block and accumulates
// zext(nibbles) * sext(x) in 8 i32 lanes, then scales into f32 lanes.
// CHECK-LABEL: func.func @gguf_q4_0
// CHECK: %[[B:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<4x64xi4> to tensor<144xi8>
// CHECK: scf.if
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i8
// CHECK: arith.constant -8 : i32
// CHECK: scf.forall (%{{.*}}) in (1) shared_outs
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<144xi8>, vector<2xi8>
// CHECK: vector.bitcast %{{.*}} : vector<2xi8> to vector<1xf16>
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<144xi8>, vector<16xi8>
// CHECK: arith.shrui %{{.*}} : vector<16xi8>
// CHECK: vector.shuffle
// CHECK: arith.extui %{{.*}} : vector<32xi8> to vector<32xi32>
// CHECK: vector.shape_cast %{{.*}} : vector<32xi32> to vector<8x4xi32>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK: vector.fma %{{.*}} : vector<8xf32>
// CHECK: vector.reduction <add>
// CHECK: tensor.parallel_insert_slice
// CHECK: } else {
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
func.func @gguf_q4_0(%x: tensor<?x64xf32>) -> tensor<?x4xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x64xi4>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x64xf32>, tensor<4x64xi4> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// q8_0: |x| is the unsigned side of the dot product and the weight bytes
// take x's sign; the bias is added after.
// CHECK-LABEL: func.func @gguf_q8_0
// CHECK: math.absf
// CHECK: scf.forall
// CHECK: vector.transfer_read %{{.*}} : tensor<272xi8>, vector<32xi8>
// CHECK: arith.cmpi slt, %{{.*}}, %{{.*}} : vector<32xi8>
// CHECK: arith.subi
// CHECK: arith.select
// CHECK: arith.extsi %{{.*}} : vector<32xi8> to vector<32xi32>
// CHECK: vector.multi_reduction <add>
// CHECK: linalg.generic
// CHECK: arith.addf
func.func @gguf_q8_0(%x: tensor<?x64xf32>, %b: tensor<4xf32>) -> tensor<?x4xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<4x64xi8>
  %y = llm.qlinear %x, %p bias(%b : tensor<4xf32>) {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<?x64xf32>, tensor<4x64xi8> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// 16 rows: the q4_0 blocks are read interleaved by 8 rows (layout "rows8",
// recorded on the byte cast for the packer). Per group of 8 rows and block:
// one 16-byte load of the 8 f16 scales, four 32-byte loads whose low and
// high nibbles are the unsigned sides of 8 dot products, each with one
// activation word broadcast to all 8 lanes, starting at -8 * the block's
// activation sum; each lane is one row's sum (no horizontal reduction), and
// 8 results are written as one vector. One token: 2 groups per tile. The
// activation sums of the blocks are one vector reduction each.
// CHECK-LABEL: func.func @gguf_q4_0_rows8
// CHECK: %[[B:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<16x64xi4> to tensor<576xi8> {llm.block_layout = "rows8"}
// CHECK: scf.if
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel"]{{.*}} outs(%{{.*}} : tensor<?x2xi32>)
// CHECK: vector.reduction <add>, %{{.*}} : vector<32xi32> into i32
// CHECK: arith.constant -8 : i32
// CHECK: scf.forall (%{{.*}}) in (1) shared_outs
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.bitcast %{{.*}} : vector<4xi8> to vector<1xi32>
// CHECK: vector.broadcast %{{.*}} : i32 to vector<8xi32>
// CHECK: vector.bitcast %{{.*}} : vector<8xi32> to vector<32xi8>
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<576xi8>, vector<16xi8>
// CHECK: vector.bitcast %{{.*}} : vector<16xi8> to vector<8xf16>
// CHECK: arith.extf %{{.*}} : vector<8xf16> to vector<8xf32>
// CHECK: vector.transfer_read %[[B]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<576xi8>, vector<32xi8>
// CHECK: arith.andi %{{.*}} : vector<32xi8>
// CHECK: arith.shrui %{{.*}} : vector<32xi8>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK: arith.sitofp %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK: vector.fma %{{.*}} : vector<8xf32>
// CHECK-NOT: vector.reduction
// CHECK: vector.transfer_write %{{.*}} {in_bounds = [true]} : vector<8xf32>, tensor<?x16xf32>
// CHECK: } else {
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
func.func @gguf_q4_0_rows8(%x: tensor<?x64xf32>) -> tensor<?x16xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<16x64xi4>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x64xf32>, tensor<16x64xi4> -> tensor<?x16xf32>
  return %y : tensor<?x16xf32>
}

// -----

// q8_0 with 64 rows: layout "rows64" (the units of 8 groups per block
// column together, so the one-token tile of 8 groups reads one contiguous
// stream). The weight bytes are made unsigned (xor 0x80, w + 128) and the
// dot products start at -128 * the block's activation sum; eight 32-byte
// loads per group and block.
// CHECK-LABEL: func.func @gguf_q8_0_rows64
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<64x64xi8> to tensor<4352xi8> {llm.block_layout = "rows64"}
// CHECK: arith.constant -128 : i32
// CHECK: scf.forall
// CHECK: scf.for {{.*}} -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK: arith.remui
// CHECK-COUNT-8: arith.xori %{{.*}} : vector<32xi8>
// CHECK: vector.multi_reduction <add>
// CHECK: vector.transfer_write
func.func @gguf_q8_0_rows64(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<64x64xi8>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<?x64xf32>, tensor<64x64xi8> -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A table both gathered (tied embedding) and multiplied stays row-major:
// the gather reads the rows as stored, so the linear does too.
// CHECK-LABEL: func.func @tied_q8_0
// CHECK-NOT: llm.block_layout
// CHECK: vector.reduction <add>
func.func @tied_q8_0(%t: tensor<?xi32>, %x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x8xf32>) {
  %p = llm.param "e" {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<8x64xi8>
  %w = llm.dequantize %p {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<8x64xi8> -> tensor<8x64xf32>
  %e = llm.embedding %w[%t] : tensor<8x64xf32>, tensor<?xi32> -> tensor<?x64xf32>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 8, group = 32, scheme = gguf_q8_0, granularity = block>} : tensor<?x64xf32>, tensor<8x64xi8> -> tensor<?x8xf32>
  return %e, %y : tensor<?x64xf32>, tensor<?x8xf32>
}

// -----

// GQSA (q4_0, half of each row's blocks kept): 20-byte entries (u16 block
// index, then the q4_0 block); the kernel loops over a row's 64 / 64 = 1
// stored block, reads its index and then the activations of that block.
// CHECK-LABEL: func.func @gqsa
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<4x64xi4> to tensor<80xi8>
// CHECK: scf.forall
// CHECK: scf.for {{.*}} -> (vector<8xf32>)
// CHECK: vector.transfer_read %{{.*}} : tensor<80xi8>, vector<2xi8>
// CHECK: vector.bitcast %{{.*}} : vector<2xi8> to vector<1xi16>
// CHECK: arith.index_castui
// CHECK: vector.transfer_read %{{.*}} : tensor<?x64xi8>, vector<32xi8>
// CHECK: vector.multi_reduction <add>
func.func @gqsa(%x: tensor<?x64xf32>) -> tensor<?x4xf32> {
  %p = llm.param "p" : tensor<4x64xf32>
  %q = llm.quantize %p {quant = #llm.quant<bits = 4, group = 32, scheme = gqsa_q4_0_s50, granularity = block>} : tensor<4x64xf32> -> tensor<4x64xi4>
  %y = llm.qlinear %x, %q {quant = #llm.quant<bits = 4, group = 32, scheme = gqsa_q4_0_s50, granularity = block>} : tensor<?x64xf32>, tensor<4x64xi4> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// q4_1 (no block kernel yet) is dequantized, then the f32 linear runs.
// CHECK-LABEL: func.func @gguf_q4_1
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<4x64xi4> to tensor<160xi8>
// CHECK: arith.shrui
// CHECK: llm.schedule = "matvec"
func.func @gguf_q4_1(%x: tensor<?x64xf32>) -> tensor<?x4xf32> {
  %p = llm.param "p" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_1, granularity = block>} : tensor<4x64xi4>
  %y = llm.qlinear %x, %p {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_1, granularity = block>} : tensor<?x64xf32>, tensor<4x64xi4> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// DGQ A8W4 (group 32 here): rows of 4 + 64 / 32 + 64 / 2 = 38 bytes. The
// activations times the input scales are quantized per token (one amax per
// row, not per block), the group starts are -8 * the activation sums in the
// dot products' 8-lane layout, and the kernel accumulates in i32: each
// group's byte dot products times the row's u8 group scale. One float
// conversion per output, scaled by the f32 row scale at byte 0.
// CHECK-LABEL: func.func @dgq
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<4x64xi4> to tensor<152xi8>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%{{.*}}, %[[Q:.*]]#1 : tensor<?x64xf32>, tensor<64xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: arith.mulf
// CHECK: math.absf
// CHECK: arith.maximumf
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i8
// CHECK: tensor.expand_shape %{{.*}} output_shape [%{{.*}}, 2, 1, 8, 4] : tensor<?x64xi8> into tensor<?x2x1x8x4xi8>
// CHECK: iterator_types = ["parallel", "parallel", "reduction", "parallel", "reduction"]
// CHECK: scf.forall
// CHECK: scf.for {{.*}} -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>)
// CHECK: tensor.extract %{{.*}} : tensor<152xi8>
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: vector.transfer_read %{{.*}} : tensor<152xi8>, vector<16xi8>
// CHECK: vector.multi_reduction <add>, %{{.*}}, %{{.*}} [1] : vector<8x4xi32> to vector<8xi32>
// CHECK: arith.muli %{{.*}} : vector<8xi32>
// CHECK: arith.addi %{{.*}} : vector<8xi32>
// CHECK: vector.transfer_read %{{.*}} : tensor<152xi8>, vector<4xi8>
// CHECK: vector.bitcast %{{.*}} : vector<4xi8> to vector<1xf32>
// CHECK: vector.reduction <add>, %{{.*}} : vector<8xi32> into i32
// CHECK: arith.sitofp %{{.*}} : i32 to f32
// CHECK: } else {
// CHECK: scf.for {{.*}} -> (vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>, vector<8xi32>)
func.func @dgq(%x: tensor<?x64xf32>) -> tensor<?x4xf32> {
  %p = llm.param "p" : tensor<4x64xf32>
  %q:2 = llm.quantize %p {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<4x64xf32> -> tensor<4x64xi4>, tensor<64xf32>
  %y = llm.qlinear %x, %q#0 scales(%q#1 : tensor<64xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = dgq_a8w4, granularity = block>} : tensor<?x64xf32>, tensor<4x64xi4> -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// llm.observe hands the tensor's buffer to the runtime: the address of
// element [0, 0] in bytes, rows, columns and the row stride.
// CHECK-LABEL: func.func private @llmc_observe(i32, i64, i64, i64, i64)
// CHECK-LABEL: func.func @observe
// CHECK: %[[M:.*]] = bufferization.to_buffer %arg0 read_only : tensor<?x64xf32> to memref<?x64xf32, strided<[?, ?], offset: ?>>
// CHECK: %{{.*}}, %[[OFF:.*]], %[[SIZES:.*]]:2, %[[STRIDES:.*]]:2 = memref.extract_strided_metadata %[[M]]
// CHECK: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[M]]
// CHECK: %[[BYTES:.*]] = arith.muli %[[OFF]], %{{.*}} : index
// CHECK: %[[A:.*]] = arith.addi %[[P]], %[[BYTES]] : index
// CHECK: %[[A64:.*]] = arith.index_cast %[[A]] : index to i64
// CHECK: %[[R:.*]] = arith.index_cast %[[SIZES]]#0 : index to i64
// CHECK: %[[C:.*]] = arith.index_cast %[[SIZES]]#1 : index to i64
// CHECK: %[[S:.*]] = arith.index_cast %[[STRIDES]]#0 : index to i64
// CHECK: call @llmc_observe(%{{.*}}, %[[A64]], %[[R]], %[[C]], %[[S]])
func.func @observe(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  llm.observe %x {site = 3 : i64, keys = ["w"]} : tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// int8 KV cache: [layers, 2, kv_heads, capacity, head_dim + 4] i8, a row
// per position of head_dim int8 values then the f32 scale's 4 bytes. Keys
// and values are quantized per (token, head) straight into their slices of
// the cache (in place), the scales' bytes next to them; the reference
// (non-flash) path reads them back dequantized.
// CHECK-LABEL: func.func @kv_int8
// CHECK-SAME: %[[KV:arg[0-9]+]]: tensor<2x2x4x64x12xi8> {llm.kv_cache}
// CHECK: %[[K:.*]] = tensor.extract_slice %[[KV]][0, 0, 0, %{{.*}}, 0] [1, 1, 4, %{{.*}}, 8] [1, 1, 1, 1, 1] : tensor<2x2x4x64x12xi8> to tensor<4x?x8xi8>
// CHECK: math.roundeven
// CHECK: arith.fptosi %{{.*}} : f32 to i8
// CHECK: } -> tensor<4x?x8xi8>
// CHECK: %[[KV1:.*]] = tensor.insert_slice %{{.*}} into %[[KV]][0, 0, 0, %{{.*}}, 0] [1, 1, 4, %{{.*}}, 8]
// CHECK: tensor.extract_slice %[[KV1]][0, 0, 0, %{{.*}}, 8] [1, 1, 4, %{{.*}}, 4]
// CHECK: arith.bitcast %{{.*}} : f32 to i32
// CHECK: arith.shrui
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: tensor.insert_slice %{{.*}}[0, 0, 0, %{{.*}}, 8] [1, 1, 4, %{{.*}}, 4]
// CHECK: tensor.extract_slice %{{.*}}[0, 1, 0, %{{.*}}, 0] [1, 1, 4, %{{.*}}, 8]
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0, 0, 8] [1, 1, 4, %{{.*}}, 4] [1, 1, 1, 1, 1] : tensor<2x2x4x64x12xi8> to tensor<4x?x4xi8>
// CHECK: arith.shli
// CHECK: arith.ori
// CHECK: arith.bitcast %{{.*}} : i32 to f32
// CHECK: arith.sitofp %{{.*}} : i8 to f32
func.func @kv_int8(%q: tensor<?x64xf32>, %k: tensor<?x32xf32>, %v: tensor<?x32xf32>, %kv: !llm.kv_cache<2x64x4x8, i8>, %pos: index) -> (tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, i8>) {
  %o, %kv1 = llm.attention %q, %k, %v, %kv[%pos] {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, causal} : tensor<?x64xf32>, tensor<?x32xf32>, !llm.kv_cache<2x64x4x8, i8>
  return %o, %kv1 : tensor<?x64xf32>, !llm.kv_cache<2x64x4x8, i8>
}

// -----

// An early-exit head: the final norm and classifier lower like the model's
// own, then per row m = max, s = sum exp(x - m); for margin the count of
// maxima and the largest logit below m (a tie makes m2 = m, margin 0); the
// flag is (1 - exp(m2 - m)) / s >= threshold.
// CHECK-LABEL: func.func @exit_margin
// CHECK: %[[M:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[LOGITS:.*]] : tensor<?x32xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: arith.maximumf
// CHECK: %[[S:.*]] = linalg.generic {{.*}} ins(%[[LOGITS]], %[[M]] : tensor<?x32xf32>, tensor<?xf32>)
// CHECK: math.exp
// CHECK: %[[CNT:.*]] = linalg.generic {{.*}} ins(%[[LOGITS]], %[[M]] : tensor<?x32xf32>, tensor<?xf32>)
// CHECK: arith.cmpf oeq
// CHECK: %[[BELOW:.*]] = linalg.generic {{.*}} ins(%[[LOGITS]], %[[M]] : tensor<?x32xf32>, tensor<?xf32>)
// CHECK: arith.cmpf olt
// CHECK: %[[M2:.*]] = linalg.generic {{.*}} ins(%[[CNT]], %[[BELOW]], %[[M]] :
// CHECK: %[[FLAGS:.*]] = linalg.generic {{.*}} ins(%[[M]], %[[S]], %[[M2]] : tensor<?xf32>, tensor<?xf32>, tensor<?xf32>) outs(%{{.*}} : tensor<?xi1>)
// CHECK: arith.divf
// CHECK: math.exp
// CHECK: %[[T:.*]] = arith.mulf
// CHECK: arith.cmpf oge, %[[T]], %cst
// CHECK: return %[[LOGITS]], %[[FLAGS]]
func.func @exit_margin(%h: tensor<?x8xf32>, %g: tensor<8xf32>, %cls: tensor<32x8xf32>) -> (tensor<?x32xf32>, tensor<?xi1>) {
  %l, %e = llm.exit %h, %g, %cls metric margin {threshold = 2.5e-01 : f64, eps = 1.0e-05 : f64}
      : tensor<?x8xf32>, tensor<8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>, tensor<?xi1>
  return %l, %e : tensor<?x32xf32>, tensor<?xi1>
}

// -----

// Entropy: log s - sum exp(x - m) (x - m) / s <= threshold.
// CHECK-LABEL: func.func @exit_entropy
// CHECK: %[[T:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x32xf32>, tensor<?xf32>)
// CHECK: %[[D:.*]] = arith.subf
// CHECK: %[[E:.*]] = math.exp %[[D]]
// CHECK: arith.mulf %[[E]], %[[D]]
// CHECK: linalg.generic {{.*}}outs(%{{.*}} : tensor<?xi1>)
// CHECK: math.log
// CHECK: arith.cmpf ole
func.func @exit_entropy(%h: tensor<?x8xf32>, %g: tensor<8xf32>, %cls: tensor<32x8xf32>) -> (tensor<?x32xf32>, tensor<?xi1>) {
  %l, %e = llm.exit %h, %g, %cls metric entropy {threshold = 1.0 : f64, eps = 1.0e-05 : f64}
      : tensor<?x8xf32>, tensor<8xf32>, tensor<32x8xf32> -> tensor<?x32xf32>, tensor<?xi1>
  return %l, %e : tensor<?x32xf32>, tensor<?xi1>
}

// -----

// Early exit's pending state (kv-policy=recompute): a cache with
// `pending = 20` gets 3 more layer slots (20 hidden columns over 2 slots of
// [2, 1, 16, 8], then one of per-layer counters at [5, 0, 0, layer, 0]).
// cache_filled reads layer 2's counter clamped to [0, pos]; cache_pending
// gathers the stored rows of [filled, pos) and then the input's rows;
// cache_stash writes rows into the slots' block of their positions in
// place (columns past 20 keep their value); cache_mark sets layers 0..1 to
// `end` and lowers layer 2's to at most `pos`.
// CHECK-LABEL: func.func @pending_state
// CHECK-SAME: %[[X:.*]]: tensor<?x20xf32>, %[[KV:.*]]: tensor<6x2x1x16x8xf32> {llm.kv_cache}, %[[POS:.*]]: index, %[[END:.*]]: index
// CHECK: %[[C:.*]] = tensor.extract %[[KV]][%c5, %c0, %c0, %c2, %c0]
// CHECK: %[[I:.*]] = arith.fptosi %[[C]] : f32 to i64
// CHECK: %[[M:.*]] = arith.maxsi
// CHECK: %[[F:.*]] = arith.minsi %[[M]], %[[POS]] : index
// CHECK: %[[K:.*]] = arith.subi %[[POS]], %[[F]] : index
// CHECK: %[[B:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x20xf32>)
// CHECK:   %[[STORED:.*]] = arith.cmpi ult, %{{.*}}, %[[K]] : index
// CHECK:   %[[FROMKV:.*]] = tensor.extract %[[KV]]
// CHECK:   %[[FROMX:.*]] = tensor.extract %[[X]]
// CHECK:   arith.select %[[STORED]], %[[FROMKV]], %[[FROMX]] : f32
// CHECK: %[[BLOCK:.*]] = tensor.extract_slice %[[KV]][3, 0, 0, %[[F]], 0] [2, 2, 1, %{{.*}}, 8]
// CHECK: %[[W:.*]] = linalg.generic {{.*}} outs(%[[BLOCK]] : tensor<2x2x1x?x8xf32>)
// CHECK:   %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c20 : index
// CHECK:   %[[V:.*]] = tensor.extract %[[B]]
// CHECK:   arith.select %[[IN]], %[[V]], %{{.*}} : f32
// CHECK: %[[S:.*]] = tensor.insert_slice %[[W]] into %[[KV]][3, 0, 0, %[[F]], 0]
// CHECK: %[[E:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: %[[P:.*]] = arith.sitofp %{{.*}} : i64 to f32
// CHECK: %[[M0:.*]] = tensor.insert %[[E]] into %[[S]][%{{.*}}, %{{.*}}, %{{.*}}, %c0{{.*}}, %{{.*}}]
// CHECK: %[[M1:.*]] = tensor.insert %[[E]] into %[[M0]][%{{.*}}, %{{.*}}, %{{.*}}, %c1{{.*}}, %{{.*}}]
// CHECK: %[[OLD:.*]] = tensor.extract %[[M1]]
// CHECK: %[[LOW:.*]] = arith.minimumf %[[OLD]], %[[P]] : f32
// CHECK: %[[M2:.*]] = tensor.insert %[[LOW]] into %[[M1]]
// CHECK: return %[[B]], %[[F]], %[[M2]]
func.func @pending_state(%x: tensor<?x20xf32>, %kv: !llm.kv_cache<3x16x1x8, f32, pending = 20>, %pos: index, %end: index) -> (tensor<?x20xf32>, index, !llm.kv_cache<3x16x1x8, f32, pending = 20>) {
  %f = llm.cache_filled %kv[%pos] {layer = 2 : i64} : !llm.kv_cache<3x16x1x8, f32, pending = 20>
  %b = llm.cache_pending %x, %kv[%f, %pos] : tensor<?x20xf32>, !llm.kv_cache<3x16x1x8, f32, pending = 20> -> tensor<?x20xf32>
  %kv1 = llm.cache_stash %b, %kv[%f] : tensor<?x20xf32>, !llm.kv_cache<3x16x1x8, f32, pending = 20>
  %kv2 = llm.cache_mark %kv1[%pos, %end] {layer = 1 : i64} : !llm.kv_cache<3x16x1x8, f32, pending = 20>
  return %b, %f, %kv2 : tensor<?x20xf32>, index, !llm.kv_cache<3x16x1x8, f32, pending = 20>
}

// -----

// Multi-head latent attention: a shared cache has one kind ([layers, 1,
// kv_heads, capacity, head_dim]); keys are written once, as rows at
// start_pos, and read back both as the values and (transposed) as keys.
// Per-head linears are one generic over (token, head, out, in), the
// transposed form reading the weight as [head, in, out].
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
// CHECK-DAG: #[[WT:.*]] = affine_map<(d0, d1, d2, d3) -> (d1, d3, d2)>
// CHECK-DAG: #[[Y:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @latent_attention
// CHECK-SAME: tensor<2x1x1x16x40xf32> {llm.kv_cache}
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[WT]], #[[Y]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<?x4x16xf32>, tensor<4x16x32xf32>) outs(%{{.*}} : tensor<?x4x32xf32>)
// The query: each head's latent then its rotated key (a run-time concat).
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x4x40xf32>)
// CHECK: tensor.extract {{.*}} : tensor<?x4x32xf32>
// CHECK: tensor.extract {{.*}} : tensor<?x4x8xf32>
// CHECK: %[[ROWS:.*]] = linalg.transpose ins(%{{.*}} : tensor<?x1x40xf32>) outs(%{{.*}} : tensor<1x?x40xf32>) permutation = [1, 0, 2]
// CHECK: %[[C1:.*]] = tensor.insert_slice %[[ROWS]] into %{{.*}}[1, 0, 0, %{{.*}}, 0] [1, 1, 1, %{{.*}}, 40] [1, 1, 1, 1, 1] : tensor<1x?x40xf32> into tensor<2x1x1x16x40xf32>
// CHECK-NOT: tensor.insert_slice {{.*}} into tensor<2x1x1x16x40xf32>
// CHECK: %[[V:.*]] = tensor.extract_slice %[[C1]][1, 0, 0, 0, 0] [1, 1, 1, %{{.*}}, 40] [1, 1, 1, 1, 1] : tensor<2x1x1x16x40xf32> to tensor<1x?x40xf32>
// CHECK: linalg.transpose ins(%[[V]] : tensor<1x?x40xf32>) outs(%{{.*}} : tensor<1x40x?xf32>) permutation = [0, 2, 1]
// The attended latent of each head (a strided slice) is copied before its
// collapse, then expanded by W_UV.
// CHECK: tensor.extract_slice %{{.*}}[0, 0, 0] [%{{.*}}, 4, 32] [1, 1, 1] : tensor<?x4x40xf32> to tensor<?x4x32xf32>
// CHECK: linalg.copy ins(%{{.*}} : tensor<?x4x32xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<?x4x32xf32> into tensor<?x128xf32>
// CHECK: linalg.generic {indexing_maps = [#[[X]], #{{.*}}, #[[Y]]]
// CHECK-SAME: ins(%{{.*}}, %{{.*}} : tensor<?x4x32xf32>, tensor<4x12x32xf32>) outs(%{{.*}} : tensor<?x4x12xf32>)
func.func @latent_attention(%qn: tensor<?x64xf32>, %qpe: tensor<?x32xf32>, %key: tensor<?x40xf32>,
                            %wk: tensor<4x16x32xf32>, %wv: tensor<4x12x32xf32>, %pos: index,
                            %kv: !llm.kv_cache<2x16x1x40, f32, shared> {llm.kv_cache})
    -> (tensor<?x48xf32>, !llm.kv_cache<2x16x1x40, f32, shared> {llm.kv_cache}) {
  %c0 = arith.constant 0 : index
  %t = tensor.dim %qn, %c0 : tensor<?x64xf32>
  %qa = llm.head_linear %qn, %wk transposed : tensor<?x64xf32>, tensor<4x16x32xf32> -> tensor<?x128xf32>
  %qa3 = tensor.expand_shape %qa [[0], [1, 2]] output_shape [%t, 4, 32] : tensor<?x128xf32> into tensor<?x4x32xf32>
  %qp3 = tensor.expand_shape %qpe [[0], [1, 2]] output_shape [%t, 4, 8] : tensor<?x32xf32> into tensor<?x4x8xf32>
  %q3 = llm.concat %qa3, %qp3 {axis = 2 : i64} : tensor<?x4x32xf32>, tensor<?x4x8xf32> -> tensor<?x4x40xf32>
  %q = tensor.collapse_shape %q3 [[0], [1, 2]] : tensor<?x4x40xf32> into tensor<?x160xf32>
  %o, %kv1 = llm.attention %q, %key, %key, %kv[%pos] {layer = 1 : i64, num_heads = 4 : i64, num_kv_heads = 1 : i64, causal} : tensor<?x160xf32>, tensor<?x40xf32>, !llm.kv_cache<2x16x1x40, f32, shared>
  %o3 = tensor.expand_shape %o [[0], [1, 2]] output_shape [%t, 4, 40] : tensor<?x160xf32> into tensor<?x4x40xf32>
  %ol = tensor.extract_slice %o3[0, 0, 0] [%t, 4, 32] [1, 1, 1] : tensor<?x4x40xf32> to tensor<?x4x32xf32>
  %o2 = tensor.collapse_shape %ol [[0], [1, 2]] : tensor<?x4x32xf32> into tensor<?x128xf32>
  %v = llm.head_linear %o2, %wv : tensor<?x128xf32>, tensor<4x12x32xf32> -> tensor<?x48xf32>
  return %v, %kv1 : tensor<?x48xf32>, !llm.kv_cache<2x16x1x40, f32, shared>
}
