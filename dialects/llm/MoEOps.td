//===- MoEOps.td - llm.moe and llm.exit --------------------*- tablegen -*-===//
//
// Mixture of experts and early-exit heads. Included by LLMOps.td (after the
// shared tensor constraints); verifiers in MoEOps.cpp and LLMOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_MOEOPS_TD
#define LLMC_DIALECTS_LLM_MOEOPS_TD

//===----------------------------------------------------------------------===//
// Mixture of experts and early exit
//===----------------------------------------------------------------------===//

def LLM_MoEOp : LLM_Op<"moe", [Pure, AttrSizedOperandSegments,
    AllTypesMatch<["input", "result"]>,
    AllTypesMatch<["gate_weights", "up_weights"]>]> {
  let summary = "Mixture-of-experts SwiGLU feed-forward layer";
  let description = [{
    For each token, the router (`[experts, dim]`) scores every expert; the
    `top_k` best are run and their outputs combined with weights given by
    `routing`:

    - `topk_softmax` (Mixtral): softmax over the `top_k` largest logits;
    - `softmax_topk` (Qwen2-MoE, DeepSeek): softmax over all experts, the
      `top_k` largest probabilities taken as they are;
    - `softmax_topk_norm`: the same, renormalised to sum to one
      (mathematically equal to `topk_softmax`).

    Ties rank the lower expert index first. Expert `e` computes
    `down[e] · (silu(gate[e] · x) * (up[e] · x))` with stacked weights
    `gate_weights`/`up_weights` `[experts, hidden, dim]` and `down_weights`
    `[experts, dim, hidden]`.

    An optional shared expert (Qwen2-MoE, DeepSeek) runs on every token:
    `shared(gate, up, down)` with `[shared_hidden, dim]` / `[dim,
    shared_hidden]` weights, its output added to the routed experts' sum;
    with `shared_scale(w)` (`[1, dim]`) it is first multiplied by
    `sigmoid(w · x)` per token (Qwen2-MoE's `shared_expert_gate`).

    With `expert_quant` (a GGUF block format: `q8_0`, `q4_0`, `q4_1`,
    `q5_0`, `q5_1`, `iq4_nl` or a K-quant `q2_k` .. `q6_k`) the routed
    experts' weights are stored as those blocks (integer elements of
    `expert_quant.bits` bits, the logical shape) and each expert's matmuls
    run on its blocks as stored (llama.cpp's quantized `ffn_*_exps`).
    `down_quant`, when present, is the down projection's format instead
    (llama.cpp's K-quant presets give `ffn_down_exps` more bits in some
    layers: Q4_K gate/up with Q6_K down).

    With `expert_groups = G` and `top_groups = N` (DeepSeek-V2's
    group-limited routing) the experts form G equal groups of consecutive
    indices, each scored by its best expert; only the experts of the N best
    groups compete for the `top_k`. With `routed_scale = s` the routed
    experts' weights are multiplied by s (DeepSeek's
    `routed_scaling_factor`); the shared expert's output is not.

    `placement` records where each routed expert's weights live (set by the
    expert-placement pass).

    ```mlir
    %y = llm.moe %x, %router, %wg, %wu, %wd routing topk_softmax {top_k = 2 : i64}
        : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
    %z = llm.moe %x, %router, %wg, %wu, %wd routing softmax_topk
        shared(%sg, %su, %sd : tensor<128x64xf32>, tensor<128x64xf32>, tensor<64x128xf32>)
        shared_scale(%ss : tensor<1x64xf32>) {top_k = 4 : i64}
        : tensor<?x64xf32>, tensor<8x64xf32>, tensor<8x172x64xf32>, tensor<8x64x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_FloatTensor:$router,
                       LLM_WeightTensor:$gate_weights, LLM_WeightTensor:$up_weights,
                       LLM_WeightTensor:$down_weights,
                       Optional<LLM_FloatTensor>:$shared_gate_weights,
                       Optional<LLM_FloatTensor>:$shared_up_weights,
                       Optional<LLM_FloatTensor>:$shared_down_weights,
                       Optional<LLM_FloatTensor>:$shared_scale_weights,
                       I64Attr:$top_k, LLM_MoERouting:$routing,
                       OptionalAttr<LLM_QuantAttr>:$expert_quant,
                       OptionalAttr<LLM_QuantAttr>:$down_quant,
                       OptionalAttr<LLM_PlacementAttr>:$placement,
                       OptionalAttr<F64Attr>:$routed_scale,
                       OptionalAttr<I64Attr>:$expert_groups,
                       OptionalAttr<I64Attr>:$top_groups);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $router `,` $gate_weights `,` $up_weights `,` $down_weights
    `routing` $routing
    (`shared` `(` $shared_gate_weights^ `,` $shared_up_weights `,`
       $shared_down_weights `:` type($shared_gate_weights) `,`
       type($shared_up_weights) `,` type($shared_down_weights) `)`)?
    (`shared_scale` `(` $shared_scale_weights^ `:`
       type($shared_scale_weights) `)`)?
    attr-dict
    `:` type($input) `,` type($router) `,` type($gate_weights) `,` type($down_weights)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getNumExperts() { return getRouter().getType().getDimSize(0); }
    bool hasSharedExpert() { return static_cast<bool>(getSharedGateWeights()); }
    /// The block format of the down projection's weights (down_quant, else
    /// expert_quant), null for float experts.
    ::mlir::llm::QuantAttr getDownWeightsQuant() {
      return getDownQuantAttr() ? getDownQuantAttr() : getExpertQuantAttr();
    }
    ::mlir::LogicalResult verifySharedExpert(int64_t dim);
  }];
}

def LLM_ExitOp : LLM_Op<"exit", [Pure]> {
  let summary = "Early-exit head: final norm, classifier and confidence test";
  let description = [{
    Applies RMSNorm (`norm_weight`, `eps`) and the classifier (`[vocab, dim]`)
    to `hidden` and tests the confidence of the resulting distribution per
    token: `max_prob` and `margin` pass when the value is `>= threshold`,
    `entropy` (in nats) when it is `<= threshold`. Returns the logits and one
    `i1` per token (true: exit here).

    ```mlir
    %logits, %done = llm.exit %h, %norm, %cls metric max_prob
        {threshold = 9.0e-01 : f64, eps = 1.0e-05 : f64}
        : tensor<?x64xf32>, tensor<64xf32>, tensor<512x64xf32> -> tensor<?x512xf32>, tensor<?xi1>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$hidden, LLM_FloatTensor:$norm_weight,
                       LLM_FloatTensor:$classifier, LLM_ExitMetric:$metric,
                       F64Attr:$threshold, F64Attr:$eps);
  let results = (outs LLM_FloatTensor:$logits, LLM_BoolTensor:$exit);
  let assemblyFormat = [{
    $hidden `,` $norm_weight `,` $classifier `metric` $metric attr-dict `:` type($hidden) `,`
    type($norm_weight) `,` type($classifier) `->` type($logits) `,` type($exit)
  }];
  let hasVerifier = 1;
}

#endif // LLMC_DIALECTS_LLM_MOEOPS_TD
