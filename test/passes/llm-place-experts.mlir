// The placement pass on a two-layer, 4-expert model (Inputs/moe-model.mlir;
// 1536 bytes per expert: f32 gate, up and down of 16x8) with crafted routing
// frequencies (Inputs/routing-stats.json):
//   layer 0: 0.9 0.1 0.6 0.4     layer 1: 0.2 0.7 0.5 0.6
// By frequency: L0E0 .9, L1E1 .7, L0E2 .6, L1E3 .6 (tie: layer 0 first),
// L1E2 .5, L0E3 .4, L1E0 .2, L0E1 .1. A device tier of 2 experts and a host
// tier of 3 take the first five; the rest go to storage.
// RUN: llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="tiers=device=3072@100GB/s,host=4608,storage stats=%S/Inputs/routing-stats.json report=true" 2>&1 | FileCheck %s
// CHECK: expert placement: 8 experts in 2 MoE layers, frequencies from {{.*}}routing-stats.json
// CHECK-NEXT: tier      experts        bytes     capacity  read share  bytes/token
// CHECK-NEXT: device          2         3072         3072       40.0%         2458
// CHECK-NEXT: host            3         4608         4608       42.5%         2611
// CHECK-NEXT: storage         3         4608            -       17.5%         1075
// CHECK-NEXT: expected hit rate 82.5% (expert reads served from memory), 6144 expert bytes/token
// CHECK: llm.expert_placement = {bytes_per_token = 6.144000e+03 : f64, hit_rate = 0.825{{[0-9]*}} : f64
// CHECK-SAME: {bandwidth = 1.000000e+11 : f64, bytes = 3072 : i64, bytes_per_token = 2.457600e+03 : f64, capacity = 3072 : i64, experts = 2 : i64, name = "device", read_share = 4.000000e-01 : f64, tier = "device"}
// CHECK-SAME: {bandwidth = 2.000000e+09 : f64, bytes = 4608 : i64, {{.*}}experts = 3 : i64, name = "storage"
// CHECK: llm.moe {{.*}} {placement = #llm.placement<[device, storage, host, storage]>, top_k = 2 : i64}
// CHECK: llm.moe {{.*}} {placement = #llm.placement<[storage, device, host, host]>, top_k = 2 : i64}

// A budget of 3 experts in memory with the default tiers (host, storage):
// L0E0, L1E1 and L0E2 (layer 0 wins the 0.6 tie).
// RUN: llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="budget=4608 stats=%S/Inputs/routing-stats.json" | FileCheck %s --check-prefix=BUDGET
// BUDGET: hit_rate = 5.500000e-01 : f64
// BUDGET: placement = #llm.placement<[host, storage, host, storage]>
// BUDGET: placement = #llm.placement<[storage, host, storage, storage]>

// Without statistics every expert is chosen top_k / experts = 1/2 of the
// time: ties throughout, so the lowest layers and experts come first.
// RUN: llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="budget=3KiB" | FileCheck %s --check-prefix=UNIFORM
// UNIFORM: hit_rate = 2.500000e-01 : f64, layers = [{expert_bytes = 1536 : i64, layer = 0 : i64, placement = ["host", "host", "storage", "storage"]}, {expert_bytes = 1536 : i64, layer = 1 : i64, placement = ["storage", "storage", "storage", "storage"]}], seconds_per_token = {{.*}}, statistics = "uniform"
// UNIFORM: placement = #llm.placement<[host, host, storage, storage]>
// UNIFORM: placement = #llm.placement<[storage, storage, storage, storage]>

// Everything fits: all in memory, hit rate 1.
// RUN: llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts | FileCheck %s --check-prefix=ALL
// ALL: hit_rate = 1.000000e+00
// ALL-COUNT-2: placement = #llm.placement<[host, host, host, host]>

// Errors: one message each.
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="tiers=fast=1GiB,ssd" 2>&1 | FileCheck %s --check-prefix=NAME
// NAME: error: llm-place-experts: tiers: unknown tier 'ssd' (device/fast, host/slow, storage/disk)
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="tiers=device=1GiB,host=2GiB" 2>&1 | FileCheck %s --check-prefix=BOUNDED
// BOUNDED: error: llm-place-experts: tiers: the last tier ('host') must be unbounded (no size): every expert needs a place
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="tiers=host@10GB/s,device@100GB/s,disk" 2>&1 | FileCheck %s --check-prefix=ORDER
// ORDER: error: llm-place-experts: tiers: tiers must be listed fastest first ('device' is faster than 'host')
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="tiers=host=lots,disk" 2>&1 | FileCheck %s --check-prefix=SIZE
// SIZE: error: llm-place-experts: tiers: tier 'host': bad size 'lots'
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="budget=-1" 2>&1 | FileCheck %s --check-prefix=BADBUDGET
// BADBUDGET: error: llm-place-experts: bad budget '-1' (e.g. 512MiB)
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="stats=%S/Inputs/routing-stats-layer0.json" 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: error: llm-place-experts: {{.*}}routing-stats-layer0.json has no routing frequencies for the 4 experts of layer 1
// RUN: not llmc-opt %S/Inputs/moe-model.mlir --llm-place-experts="stats=%S/Inputs/skip-plan.json" 2>&1 | FileCheck %s --check-prefix=NOROUTING
// NOROUTING: error: llm-place-experts: {{.*}}skip-plan.json: no 'routing' (llmc calibrate writes it for models with MoE layers)
// RUN: not llmc-opt %s --llm-place-experts 2>&1 | FileCheck %s --check-prefix=NOMOE
// NOMOE: error: llm-place-experts: the module has no llm.moe
func.func @dense(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  return %x : tensor<?x8xf32>
}
