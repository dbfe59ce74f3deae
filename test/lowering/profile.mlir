// RUN: llmc-opt %s --convert-llm-to-linalg=profile=true | FileCheck %s

// Every op but weights is bracketed by the runtime's per-op timers, with ids
// in program order, and listed in llm.profile.
// CHECK: module attributes {llm.profile = [{op = "llm.rms_norm", weight = "w"}, {op = "llm.silu", weight = ""}]}
// CHECK: func.func private @llmc_profile_enter(i32)
// CHECK: func.func private @llmc_profile_exit(i32)
// CHECK-LABEL: func.func @f
// CHECK: %[[C0:.*]] = arith.constant 0 : i32
// CHECK: call @llmc_profile_enter(%[[C0]])
// CHECK: math.sqrt
// CHECK: call @llmc_profile_exit(%[[C0]])
// CHECK: %[[C1:.*]] = arith.constant 1 : i32
// CHECK: call @llmc_profile_enter(%[[C1]])
// CHECK: math.exp
// CHECK: call @llmc_profile_exit(%[[C1]])
func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = llm.param "w" : tensor<64xf32>
  %n = llm.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x64xf32>, tensor<64xf32>
  %s = llm.silu %n : tensor<?x64xf32>
  return %s : tensor<?x64xf32>
}
