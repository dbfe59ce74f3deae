// RUN: llmc-opt %s --convert-llm-to-linalg --split-input-file | FileCheck %s
// RUN: llmc-opt %s --convert-llm-to-linalg --llm-buffer-abi --split-input-file | FileCheck %s --check-prefix=ABI

// int8 per output channel: the integers and the scales are inputs of the
// contraction (no dequantized copy of the weight), dequantized in the body;
// the kernel keeps the float linear's schedule.
// CHECK-LABEL: func.func @forward
// CHECK: %[[S:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1]] : tensor<96x1xf32> into tensor<96xf32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[S]] : tensor<1x64xf32>, tensor<96x64xi8>, tensor<96xf32>) {{.*}}llm.schedule = "matvec"
// CHECK: %[[F:.*]] = arith.sitofp %{{.*}} : i8 to f32
// CHECK: arith.mulf %[[F]], %{{.*}} : f32
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[S]] : tensor<?x4x64xf32>, tensor<96x64xi8>, tensor<96xf32>) {{.*}}llm.schedule = "linear"
// The buffer ABI binds the integers and the scales as two slots computed
// at pack time from the f32 weight, which is not packed itself.
// ABI-LABEL: func.func @forward
// ABI-SAME: llm.weights = [{bytes = 6144 : i64, dtype = "i8", name = "quantize(w)#0", offset = 0 : i64, shape = [96, 64], transform = {asymmetric = false, bits = 8 : i64, cols = 64 : i64, group = 0 : i64, inputs = [{param = "w"}], op = "quantize", result = 0 : i64, rows = 96 : i64}}, {bytes = 384 : i64, dtype = "f32", name = "quantize(w)#1", offset = 6144 : i64, shape = [96, 1], transform = {{{.*}}result = 1 : i64{{.*}}}}]
// ABI-SAME: llm.weights_bytes = 6528
// ABI-NOT: llm.quantize
func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x96xf32> {
  %w = llm.param "w" : tensor<96x64xf32>
  %q, %s = llm.quantize %w {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<96x64xf32> -> tensor<96x64xi8>, tensor<96x1xf32>
  %y = llm.qlinear %x, %q scales(%s : tensor<96x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<?x64xf32>, tensor<96x64xi8> -> tensor<?x96xf32>
  return %y : tensor<?x96xf32>
}

// -----

// int4 in groups of 32 with zero points: the packed bytes are viewed as
// [out, groups, 16] and the reduction runs over (group, half, byte), so the
// bytes, scales and zero points are generic inputs (contiguous loads, one
// scale per group) and only the half index is read in the body.
// CHECK-LABEL: func.func @forward
// CHECK: %[[B:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<96x64xi4> to tensor<3072xi8>
// CHECK: %[[G:.*]] = tensor.expand_shape %[[B]] {{\[\[}}0, 1, 2]] output_shape [96, 2, 16] : tensor<3072xi8> into tensor<96x2x16xi8>
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1, 2, 3]] output_shape [1, 2, 2, 16] : tensor<1x64xf32> into tensor<1x2x2x16xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[X]], %[[G]], %{{.*}}, %{{.*}} : tensor<1x2x2x16xf32>, tensor<96x2x16xi8>, tensor<96x2xf32>, tensor<96x2xf32>) {{.*}}llm.schedule = "q4matvec", llm.tiles = array<i64: 48, 4, 32>
// CHECK: linalg.index 3 : index
// CHECK: arith.shrui
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: arith.subf
// CHECK-NOT: tensor.extract %[[B]]
// CHECK: linalg.generic {{.*}}ins(%{{.*}}, %[[G]], %{{.*}}, %{{.*}} : tensor<?x4x2x2x16xf32>, tensor<96x2x16xi8>, tensor<96x2xf32>, tensor<96x2xf32>) {{.*}}llm.schedule = "q4linear"
// ABI-LABEL: func.func @forward
// ABI-SAME: {bytes = 3072 : i64, dtype = "u4", name = "quantize(w)#0", offset = 0 : i64, shape = [96, 64]
// ABI-SAME: name = "quantize(w)#2"
// ABI: memref.view %{{.*}} : memref<?xi8> to memref<3072xi8>
func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x96xf32> {
  %w = llm.param "w" : tensor<96x64xf32>
  %q, %s, %z = llm.quantize %w {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<96x64xf32> -> tensor<96x64xi4>, tensor<96x2xf32>, tensor<96x2xf32>
  %y = llm.qlinear %x, %q scales(%s : tensor<96x2xf32>) zeros(%z : tensor<96x2xf32>) {quant = #llm.quant<bits = 4, group = 32, scheme = asymmetric, granularity = group>} : tensor<?x64xf32>, tensor<96x64xi4> -> tensor<?x96xf32>
  return %y : tensor<?x96xf32>
}

// -----

// int4 per output channel (the row is one block of nibbles): the packed
// bytes are read by index in the body, and the contraction takes the
// schedule that vectorizes those reads.
// CHECK-LABEL: func.func @forward
// CHECK: %[[B:.*]] = builtin.unrealized_conversion_cast %{{.*}} : tensor<96x64xi4> to tensor<3072xi8>
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}} : tensor<1x64xf32>, tensor<96xf32>) {{.*}}llm.schedule = "qmatvec"
// CHECK: tensor.extract %[[B]]
// CHECK: arith.shrui
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: linalg.generic {{.*}}llm.schedule = "qlinear"
func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x96xf32> {
  %w = llm.param "w" : tensor<96x64xf32>
  %q, %s = llm.quantize %w {quant = #llm.quant<bits = 4, group = 0, scheme = symmetric, granularity = channel>} : tensor<96x64xf32> -> tensor<96x64xi4>, tensor<96x1xf32>
  %y = llm.qlinear %x, %q scales(%s : tensor<96x1xf32>) {quant = #llm.quant<bits = 4, group = 0, scheme = symmetric, granularity = channel>} : tensor<?x64xf32>, tensor<96x64xi4> -> tensor<?x96xf32>
  return %y : tensor<?x96xf32>
}
