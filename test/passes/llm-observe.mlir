// RUN: llmc-opt %s --llm-observe --split-input-file --verify-diagnostics | FileCheck %s

// One site per distinct linear input: q/k/v read the same normalized input
// (one site, three keys); the fused weight's key spells its transform; the
// module lists the sites with their feature counts.
// CHECK: module attributes {llm.observe = [{features = 64 : i64, keys = ["wq", "wk", "wv"], site = 0 : i64}, {features = 96 : i64, keys = ["concat(w1,w3)"], site = 1 : i64}, {features = 64 : i64, keys = ["w2"], site = 2 : i64}]}
// CHECK-LABEL: func.func @layer
// An argument is observed at the top of the function. The quantized
// linear's key is its weight before quantization.
// CHECK-NEXT: llm.observe %arg0 {keys = ["w2"], site = 2 : i64} : tensor<?x64xf32>
// CHECK: %[[H:.*]] = llm.rms_norm
// CHECK-NEXT: llm.observe %[[H]] {keys = ["wq", "wk", "wv"], site = 0 : i64} : tensor<?x64xf32>
// CHECK: %[[G:.*]] = llm.silu %{{.*}} : tensor<?x96xf32>
// CHECK-NEXT: llm.observe %[[G]] {keys = ["concat(w1,w3)"], site = 1 : i64} : tensor<?x96xf32>
// CHECK: llm.qlinear %arg0
// Activations (not pack-time weights) as the "weight" are not observed.
// CHECK-NOT: llm.observe
// CHECK: return
func.func @layer(%x: tensor<?x64xf32>, %a: tensor<32x64xf32>) -> tensor<?x32xf32> {
  %g = llm.param "g" : tensor<64xf32>
  %wq = llm.param "wq" : tensor<64x64xf32>
  %wk = llm.param "wk" : tensor<32x64xf32>
  %wv = llm.param "wv" : tensor<32x64xf32>
  %w1 = llm.param "w1" : tensor<64x96xf32>
  %w3 = llm.param "w3" : tensor<64x96xf32>
  %w2 = llm.param "w2" : tensor<64x64xf32>
  %h = llm.rms_norm %x, %g {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %q = llm.linear %h, %wq : tensor<?x64xf32>, tensor<64x64xf32> -> tensor<?x64xf32>
  %k = llm.linear %h, %wk : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %v = llm.linear %h, %wv : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  %s = llm.silu %q : tensor<?x64xf32>
  %w13 = llm.concat %w1, %w3 {axis = 0 : i64} : tensor<64x96xf32>, tensor<64x96xf32> -> tensor<128x96xf32>
  %gs = llm.silu %k : tensor<?x32xf32>
  %u = llm.concat %gs, %gs, %gs {axis = 1 : i64} : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x32xf32> -> tensor<?x96xf32>
  %gu = llm.silu %u : tensor<?x96xf32>
  %f = llm.linear %gu, %w13 : tensor<?x96xf32>, tensor<128x96xf32> -> tensor<?x128xf32>
  %qw:2 = llm.quantize %w2 {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<64x64xf32> -> tensor<64x64xi8>, tensor<64x1xf32>
  %y = llm.qlinear %x, %qw#0 scales(%qw#1 : tensor<64x1xf32>) {quant = #llm.quant<bits = 8, group = 0, scheme = symmetric, granularity = channel>} : tensor<?x64xf32>, tensor<64x64xi8> -> tensor<?x64xf32>
  %z = llm.linear %y, %a : tensor<?x64xf32>, tensor<32x64xf32> -> tensor<?x32xf32>
  return %z : tensor<?x32xf32>
}

// -----

// Malformed input gets a diagnostic from the verifier, not a crash.
func.func @bad(%x: tensor<4xf32>) {
  // expected-error @+1 {{'llm.observe' op observes [tokens, features] f32 tensors, not 'tensor<4xf32>'}}
  llm.observe %x {site = 0 : i64, keys = []} : tensor<4xf32>
  return
}
