// RUN: llmc-opt %s --convert-llm-to-linalg --canonicalize --split-input-file --verify-diagnostics | FileCheck %s

// llm.moe becomes routing, grouping by expert and per-expert linear kernels
// (no dense all-experts compute). Router logits [T, 4] by the linear
// kernels; each expert's rank among a token's scores (ties: lower index
// first); ids [T, 2] = the experts ranked 0 and 1; softmax_topk: a softmax
// over all 4 experts, then the chosen experts' probabilities.
// CHECK-LABEL: func.func @moe
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[R:.*]]: tensor<4x64xf32>, %[[G:.*]]: tensor<4x96x64xf32>, %[[U:.*]]: tensor<4x96x64xf32>, %[[D:.*]]: tensor<4x64x96xf32>)
// CHECK: %[[LOGITS:.*]] = tensor.extract_slice %{{[0-9]+}}[0, 0] [%{{.*}}, 4] [1, 1] : tensor<?x4xf32> to tensor<?x4xf32>
// CHECK: %[[RANK:.*]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[LOGITS]], %[[LOGITS]] : tensor<?x4xf32>, tensor<?x4xf32>) outs(%{{.*}} : tensor<?x4xindex>)
// CHECK: arith.cmpi ult
// CHECK: arith.cmpf oeq
// CHECK: arith.cmpf ogt
// CHECK: %[[IDS:.*]] = linalg.generic {{.*}} ins(%[[RANK]] : tensor<?x4xindex>) outs(%{{.*}} : tensor<?x2xindex>)
// CHECK: math.exp
// CHECK: arith.divf
// CHECK: %[[W:.*]] = linalg.generic {{.*}} ins(%[[IDS]] : tensor<?x2xindex>) outs(%{{.*}} : tensor<?x2xf32>)
// CHECK: tensor.extract %{{.*}}[%{{.*}}, %{{.*}}] : tensor<?x4xf32>
// Per-expert row counts and their exclusive prefix sums.
// CHECK: %[[FLAT:.*]] = tensor.collapse_shape %[[IDS]] {{\[\[}}0, 1]] : tensor<?x2xindex> into tensor<?xindex>
// CHECK: %[[COUNTS:.*]] = linalg.generic {{.*}} ins(%[[FLAT]] : tensor<?xindex>) outs(%{{.*}} : tensor<4xindex>)
// CHECK: %[[OFFSETS:.*]] = linalg.generic {{.*}} ins(%[[COUNTS]] : tensor<4xindex>) outs(%{{.*}} : tensor<4xindex>)
// One pass over the T * 2 slots in token order: each takes its expert's
// next row (order: row -> slot; pos: slot -> row).
// CHECK: %[[ASSIGN:.*]]:3 = scf.for %[[S:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%[[CUR:.*]] = %{{.*}}, %[[ORD:.*]] = %{{.*}}, %[[POS:.*]] = %{{.*}})
// CHECK: %[[E:.*]] = tensor.extract %[[FLAT]][%[[S]]]
// CHECK: %[[ROW:.*]] = tensor.extract %[[CUR]][%[[E]]]
// CHECK: tensor.insert %{{.*}} into %[[CUR]][%[[E]]]
// CHECK: tensor.insert %[[S]] into %[[ORD]][%[[ROW]]]
// CHECK: tensor.insert %[[ROW]] into %[[POS]][%[[S]]]
// The grouped rows: xs[r] = x[order[r] / 2].
// CHECK: %[[XS:.*]] = linalg.generic {{.*}} ins(%[[ASSIGN]]#1 : tensor<?xindex>) outs(%{{.*}} : tensor<?x64xf32>)
// CHECK: arith.divui %{{.*}}, %c2
// CHECK: tensor.extract %[[X]]
// Each expert with rows runs on its slice of the grouped rows and of the
// stacked weights, with the linear kernels (matvec for one row).
// CHECK: scf.for %[[EX:.*]] = %c0 to %c4 step %c1 iter_args(%[[YS:.*]] = %{{.*}}) -> (tensor<?x64xf32>)
// CHECK: %[[N:.*]] = tensor.extract %[[COUNTS]][%[[EX]]]
// CHECK: %[[FIRST:.*]] = tensor.extract %[[OFFSETS]][%[[EX]]]
// CHECK: arith.cmpi ugt, %[[N]], %c0
// CHECK: scf.if
// CHECK: tensor.extract_slice %[[XS]][%[[FIRST]], 0] [%[[N]], 64] [1, 1]
// CHECK: tensor.extract_slice %[[G]][%[[EX]], 0, 0] [1, 96, 64] [1, 1, 1] : tensor<4x96x64xf32> to tensor<96x64xf32>
// CHECK: llm.schedule = "matvec"
// CHECK: llm.schedule = "linear"
// CHECK: tensor.extract_slice %[[U]][%[[EX]], 0, 0] [1, 96, 64] [1, 1, 1] : tensor<4x96x64xf32> to tensor<96x64xf32>
// CHECK: tensor.extract_slice %[[D]][%[[EX]], 0, 0] [1, 64, 96] [1, 1, 1] : tensor<4x64x96xf32> to tensor<64x96xf32>
// Rows times their routing weights, written in place into the grouped
// output.
// CHECK: %[[DEST:.*]] = tensor.extract_slice %[[YS]][%[[FIRST]], 0] [%[[N]], 64] [1, 1]
// CHECK: %[[SLOTS:.*]] = tensor.extract_slice %[[ASSIGN]]#1[%[[FIRST]]] [%[[N]]] [1]
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SLOTS]] : tensor<?x64xf32>, tensor<?xindex>) outs(%[[DEST]] : tensor<?x64xf32>)
// CHECK: arith.mulf
// CHECK: tensor.insert_slice %{{.*}} into %[[YS]][%[[FIRST]], 0] [%[[N]], 64] [1, 1]
// Combine: y[t] = sum over k of the grouped row of slot (t, k).
// CHECK: %[[POS2:.*]] = tensor.expand_shape %[[ASSIGN]]#2 {{\[\[}}0, 1]] output_shape [%{{.*}}, 2]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[POS2]] : tensor<?x2xindex>) outs(%{{.*}} : tensor<?x64xf32>)
// CHECK: tensor.extract
// CHECK: arith.addf
func.func @moe(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>, %g: tensor<4x96x64xf32>,
               %u: tensor<4x96x64xf32>, %d: tensor<4x64x96xf32>) -> tensor<?x64xf32> {
  %y = llm.moe %x, %r, %g, %u, %d routing softmax_topk {top_k = 2 : i64} : tensor<?x64xf32>, tensor<4x64xf32>, tensor<4x96x64xf32>, tensor<4x64x96xf32>
  return %y : tensor<?x64xf32>
}

// -----

// topk_softmax (Mixtral): the softmax runs over the chosen experts' logits
// ([T, 2]), not over all experts.
// CHECK-LABEL: func.func @mixtral
// CHECK: %[[IDS:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<?x2xindex>)
// CHECK: %[[SEL:.*]] = linalg.generic {{.*}} ins(%[[IDS]] : tensor<?x2xindex>) outs(%{{.*}} : tensor<?x2xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[SEL]] : tensor<?x2xf32>) outs(%{{.*}} : tensor<?xf32>)
// CHECK: arith.maximumf
func.func @mixtral(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>, %g: tensor<4x96x64xf32>,
               %u: tensor<4x96x64xf32>, %d: tensor<4x64x96xf32>) -> tensor<?x64xf32> {
  %y = llm.moe %x, %r, %g, %u, %d routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf32>, tensor<4x64xf32>, tensor<4x96x64xf32>, tensor<4x64x96xf32>
  return %y : tensor<?x64xf32>
}

// -----

// A shared expert (every token) scaled by sigmoid(w · x) seeds the combine.
// CHECK-LABEL: func.func @shared
// CHECK-SAME: %[[SG:[a-z0-9]+]]: tensor<32x64xf32>, %[[SU:[a-z0-9]+]]: tensor<32x64xf32>, %[[SD:[a-z0-9]+]]: tensor<64x32xf32>, %[[SS:[a-z0-9]+]]: tensor<1x64xf32>
// CHECK: ins(%{{.*}}, %[[SG]] : tensor<1x64xf32>, tensor<32x64xf32>)
// CHECK: ins(%{{.*}}, %[[SU]] : tensor<1x64xf32>, tensor<32x64xf32>)
// CHECK: ins(%{{.*}}, %[[SD]] : tensor<1x32xf32>, tensor<64x32xf32>)
// CHECK: ins(%{{.*}}, %[[SS]] : tensor<1x64xf32>, tensor<1x64xf32>)
// CHECK: %[[SCALED:[0-9]+]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x64xf32>, tensor<?x1xf32>) outs(%{{.*}} : tensor<?x64xf32>)
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: arith.mulf
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x2xindex>) outs(%[[SCALED]] : tensor<?x64xf32>)
func.func @shared(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>, %g: tensor<4x96x64xf32>,
                  %u: tensor<4x96x64xf32>, %d: tensor<4x64x96xf32>,
                  %sg: tensor<32x64xf32>, %su: tensor<32x64xf32>, %sd: tensor<64x32xf32>,
                  %ss: tensor<1x64xf32>) -> tensor<?x64xf32> {
  %y = llm.moe %x, %r, %g, %u, %d routing softmax_topk
      shared(%sg, %su, %sd : tensor<32x64xf32>, tensor<32x64xf32>, tensor<64x32xf32>)
      shared_scale(%ss : tensor<1x64xf32>) {top_k = 2 : i64}
      : tensor<?x64xf32>, tensor<4x64xf32>, tensor<4x96x64xf32>, tensor<4x64x96xf32>
  return %y : tensor<?x64xf32>
}

// -----

// GGUF q4_0 experts run on their blocks: one flat byte view of all experts
// (bound by --llm-buffer-abi), interleaved by 8 rows as the linears' blocks
// are ("rows8": expert e's rows are whole units), expert e's 96 * 64 / 32 *
// 18 = 3456 bytes sliced at e * 3456, then the block kernel on 8-bit
// activations.
// CHECK-LABEL: func.func @q4_0
// CHECK: %[[BYTES:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<4x96x64xi4> to tensor<13824xi8> {llm.block_layout = "rows8"}
// CHECK: scf.for %[[EX:.*]] = %c0 to %c4
// CHECK: %[[AT:.*]] = arith.muli %[[EX]], %c3456
// CHECK: %[[MINE:.*]] = tensor.extract_slice %[[BYTES]][%[[AT]]] [3456] [1] : tensor<13824xi8> to tensor<3456xi8>
// CHECK: vector.transfer_read %[[MINE]][%{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<3456xi8>, vector<16xi8>
func.func @q4_0(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>) -> tensor<?x64xf32> {
  %g = llm.param "g" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x96x64xi4>
  %u = llm.param "u" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x96x64xi4>
  %d = llm.param "d" {quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<4x64x96xi4>
  %y = llm.moe %x, %r, %g, %u, %d routing topk_softmax {top_k = 2 : i64, expert_quant = #llm.quant<bits = 4, group = 32, scheme = gguf_q4_0, granularity = block>} : tensor<?x64xf32>, tensor<4x64xf32>, tensor<4x96x64xi4>, tensor<4x64x96xi4>
  return %y : tensor<?x64xf32>
}

// -----

// K-quant experts (Q4_K gate/up, Q6_K down: down_quant) run on their
// super-blocks interleaved by 8 rows ("rows8", as the K-quant linears'):
// gate's 4 x 256 rows of one 144-byte super-block, expert e's 32 units of
// 8 x 144 bytes at e * 36864; down's Q6_K super-blocks of 210 bytes.
// CHECK-LABEL: func.func @q4_k
// CHECK: %[[GATE:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<4x256x256xi4> to tensor<147456xi8> {llm.block_layout = "rows8"}
// CHECK: builtin.unrealized_conversion_cast %{{.*}} : tensor<4x256x256xi6> to tensor<215040xi8> {llm.block_layout = "rows8"}
// CHECK: scf.for %[[EX:.*]] = %c0 to %c4
// CHECK: %[[AT:.*]] = arith.muli %[[EX]], %c36864
// CHECK: tensor.extract_slice %[[GATE]][%[[AT]]] [36864] [1] : tensor<147456xi8> to tensor<36864xi8>
func.func @q4_k(%x: tensor<?x256xf32>, %r: tensor<4x256xf32>) -> tensor<?x256xf32> {
  %g = llm.param "g" {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<4x256x256xi4>
  %u = llm.param "u" {quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>} : tensor<4x256x256xi4>
  %d = llm.param "d" {quant = #llm.quant<bits = 6, group = 256, scheme = gguf_q6_k, granularity = block>} : tensor<4x256x256xi6>
  %y = llm.moe %x, %r, %g, %u, %d routing topk_softmax {top_k = 2 : i64, expert_quant = #llm.quant<bits = 4, group = 256, scheme = gguf_q4_k, granularity = block>, down_quant = #llm.quant<bits = 6, group = 256, scheme = gguf_q6_k, granularity = block>} : tensor<?x256xf32>, tensor<4x256xf32>, tensor<4x256x256xi4>, tensor<4x256x256xi6>
  return %y : tensor<?x256xf32>
}

// -----

// f16 activations have no lowering yet: one diagnostic, no crash.
func.func @f16(%x: tensor<?x64xf16>, %r: tensor<4x64xf16>, %g: tensor<4x96x64xf16>,
               %u: tensor<4x96x64xf16>, %d: tensor<4x64x96xf16>) -> tensor<?x64xf16> {
  // expected-error @+1 {{'llm.moe' has no linalg lowering yet}}
  %y = llm.moe %x, %r, %g, %u, %d routing topk_softmax {top_k = 2 : i64} : tensor<?x64xf16>, tensor<4x64xf16>, tensor<4x96x64xf16>, tensor<4x64x96xf16>
  return %y : tensor<?x64xf16>
}

// -----

// With a placement the runtime pages the experts: the op is numbered
// (`llm.moe_sites` lists its weight slots and tiers for the manifest), the
// runtime learns the per-expert row counts once routed, and each expert is
// announced before its weights are read.
// CHECK-LABEL: module attributes {llm.moe_sites = [{experts = 4 : i64, layer = -1 : i64, placement = ["host", "storage", "storage", "host"], site = 0 : i64, weights = ["g", "u", "d"]}]}
// CHECK-DAG: func.func private @llmc_expert_use(i32, i64)
// CHECK-DAG: func.func private @llmc_moe_routed(i32, i64, i64)
// CHECK: func.func @paged
// CHECK: %[[COUNTS:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<4xindex>)
// CHECK: %[[BUF:.*]] = bufferization.to_buffer %[[COUNTS]] read_only : tensor<4xindex> to memref<4xindex>
// CHECK: %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[BUF]]
// CHECK: %[[ADDR:.*]] = arith.index_cast %[[PTR]] : index to i64
// CHECK: call @llmc_moe_routed(%c0_i32, %[[ADDR]], %c4_i64) : (i32, i64, i64) -> ()
// CHECK: scf.for %[[EX:.*]] = %c0 to %c4
// CHECK: scf.if
// CHECK-NEXT: %[[E64:.*]] = arith.index_cast %[[EX]] : index to i64
// CHECK-NEXT: call @llmc_expert_use(%c0_i32, %[[E64]]) : (i32, i64) -> ()
func.func @paged(%x: tensor<?x64xf32>, %r: tensor<4x64xf32>) -> tensor<?x64xf32> {
  %g = llm.param "g" : tensor<4x96x64xf32>
  %u = llm.param "u" : tensor<4x96x64xf32>
  %d = llm.param "d" : tensor<4x64x96xf32>
  %y = llm.moe %x, %r, %g, %u, %d routing topk_softmax {top_k = 2 : i64, placement = #llm.placement<[host, storage, storage, host]>} : tensor<?x64xf32>, tensor<4x64xf32>, tensor<4x96x64xf32>, tensor<4x64x96xf32>
  return %y : tensor<?x64xf32>
}

// -----

// Group-limited routing (DeepSeek-V2): 8 experts in 4 groups of 2; each
// group's best logit, the groups ranked, experts outside the 2 best groups
// set to -inf before the experts are ranked; routed weights times 1.5.
// CHECK-LABEL: func.func @grouped
// CHECK: %[[SCALE:.*]] = arith.constant 1.500000e+00 : f32
// CHECK: tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2]] output_shape [%{{.*}}, 4, 2] : tensor<?x8xf32> into tensor<?x4x2xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%{{.*}} : tensor<?x4x2xf32>) outs(%{{.*}} : tensor<?x4xf32>)
// CHECK: arith.maximumf
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x4xf32>, tensor<?x4xf32>) outs(%{{.*}} : tensor<?x4xindex>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<?x4x2xf32>, tensor<?x4xindex>) outs(%{{.*}} : tensor<?x4x2xf32>)
// CHECK: arith.cmpi ult, %{{.*}}, %c2
// CHECK: arith.select %{{.*}}, %{{.*}}, %cst{{.*}} : f32
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0], [1, 2]] : tensor<?x4x2xf32> into tensor<?x8xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x8xindex>)
// CHECK: arith.mulf %{{.*}}, %[[SCALE]] : f32
func.func @grouped(%x: tensor<?x64xf32>, %router: tensor<8x64xf32>, %wg: tensor<8x16x64xf32>, %wd: tensor<8x64x16xf32>) -> tensor<?x64xf32> {
  %0 = llm.moe %x, %router, %wg, %wg, %wd routing softmax_topk {top_k = 3 : i64, expert_groups = 4 : i64, top_groups = 2 : i64, routed_scale = 1.5 : f64} : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x16x64xf32>, tensor<8x64x16xf32>
  return %0 : tensor<?x64xf32>
}
