//===- MoEPasses.td - mixture-of-experts passes ------------*- tablegen -*-===//
//
// Included by Passes.td.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_MOEPASSES_TD
#define LLMC_PASSES_MOEPASSES_TD

include "mlir/Pass/PassBase.td"

def PlaceExperts : Pass<"llm-place-experts", "mlir::ModuleOp"> {
  let summary = "Assign every expert a memory tier from routing statistics";
  let description = [{
    Chooses where each routed expert of every `llm.moe` lives, to minimise
    the expected time per token spent reading experts, and records it as
    `#llm.placement` on the op (one tier per expert).

    - `tiers`: the memory tiers, fastest first, as `NAME[=SIZE][@BANDWIDTH]`
      separated by commas: `device` (or `fast`), `host` (`slow`), `storage`
      (`disk`); sizes in B, KB/MB/GB or KiB/MiB/GiB, bandwidths in
      B/s..GB/s or KiB/s..GiB/s. The last tier must be unbounded (no size).
      Default bandwidths: device 200 GB/s, host 25 GB/s, storage 2 GB/s.
      Default tiers: `host,storage` (everything in memory if no `budget`).
    - `budget`: at most this many bytes of experts in the memory tiers
      (`device` and `host` together).
    - `stats`: an `llmc calibrate` statistics file; its `routing` gives each
      MoE layer's expert frequencies (share of tokens choosing the expert).
      Without it every expert is taken to be chosen `top_k / experts` of the
      time.

    An expert chosen with frequency `f` and of `s` bytes (its gate, up and
    down weights as stored) costs `f * s / bandwidth(tier)` per token. With
    tiers ordered by bandwidth, the cost per byte of capacity falls with
    `f`, so experts are placed greedily by frequency, highest first (ties:
    lower layer, then lower expert), each in the fastest tier with room:
    optimal when the experts are the same size, and deterministic. Shared
    experts are dense weights, always resident, not placed.

    The module gets `llm.expert_placement`: per tier its experts, bytes used
    and capacity, share of expert reads and bytes read per token; the
    expected hit rate (share of expert reads served from memory, not
    storage), bytes read per token and seconds per token. With
    `report=true` the same is printed as a table (to stderr).

    ```mlir
    %y = llm.moe %x, %r, %g, %u, %d routing topk_softmax
        {placement = #llm.placement<[host, storage, host, host]>, top_k = 2 : i64}
        : tensor<?x64xf32>, tensor<4x64xf32>, tensor<4x96x64xf32>, tensor<4x64x96xf32>
    ```
  }];
  let options = [
    Option<"tiers", "tiers", "std::string", /*default=*/"\"host,storage\"",
           "Memory tiers, fastest first: NAME[=SIZE][@BANDWIDTH],...">,
    Option<"budget", "budget", "std::string", /*default=*/"\"\"",
           "Bytes of experts the memory tiers may hold in all (e.g. 512MiB)">,
    Option<"stats", "stats", "std::string", /*default=*/"\"\"",
           "llmc calibrate statistics with routing frequencies">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the placement report">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

#endif // LLMC_PASSES_MOEPASSES_TD
