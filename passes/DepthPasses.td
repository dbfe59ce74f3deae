//===- DepthPasses.td - early exit and layer skipping ------*- tablegen -*-===//
//
// Included by Passes.td (which documents the conventions).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_DEPTHPASSES_TD
#define LLMC_PASSES_DEPTHPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Dynamic and static depth
//===----------------------------------------------------------------------===//

def InsertEarlyExits : Pass<"llm-insert-early-exits", "mlir::ModuleOp"> {
  let summary = "Early-exit heads after chosen layers, skipping the rest at decode time";
  let description = [{
    After each decoder layer in `layers` (0-based; ascending) of the
    `forward` function, an `llm.exit` head applies the final RMSNorm and the
    classifier to the hidden state and tests its confidence (`metric`
    `max-prob` or `margin` >= `threshold`, or `entropy` <= `threshold`). Heads
    share the final norm and classifier weights, or use separately trained
    ones named by `head-norm` / `head-classifier` (`{layer}` is replaced by
    the layer index, e.g. `exit.{layer}.norm.weight`).

    Control flow: one-token steps (decode) evaluate the heads in order, and
    the first head that passes returns its logits, skipping every later
    layer; prompts (more than one token) run every layer, so the KV cache of
    the prompt is exact. The structure is

    ```mlir
    %decode = arith.cmpi eq, %n, %c1 : index
    %r:2 = scf.if %decode -> (tensor<?x512xf32>, !llm.kv_cache<...>) {
      %logits, %exit = llm.exit %x2, %norm, %cls metric max_prob {...}
      %done = tensor.extract %exit[%c0] : tensor<?xi1>
      %s:2 = scf.if %done -> (...) {
        // KV policy for the skipped layers, then
        func.call @llmc_early_exit(%c1_i32) : (i32) -> ()
        scf.yield %logits, %kv_propagated
      } else {
        // the remaining layers (and the next head)
      }
      scf.yield %s#0, %s#1
    } else {
      // every layer
    }
    ```

    KV-cache policy for the skipped layers (`kv-policy`): `propagate`
    (CALM's state propagation): the exited hidden state is fed to each
    skipped layer's attention norm and K/V projections (and rope) and the
    result written to its cache, so later tokens attend to a defined,
    approximate state; this costs the Q/K/V projections and attention of the
    skipped layers but not their output projection and feed-forward.

    `recompute`: skipped layers' keys and values are filled lazily. The
    cache type gains a pending state (`!llm.kv_cache<..., pending = D>`):
    per layer how many leading positions it has filled, and each position's
    last hidden state. An exiting step stores its batch's rows
    (`llm.cache_stash`) and records the layers it ran (`llm.cache_mark`);
    a later step (decode or prompt) that reaches layer `j` first prepends
    the hidden states of the positions pending at `j` (`llm.cache_filled`,
    `llm.cache_pending`) and runs layer `j` on all of them from the first
    (rope and attention at their own positions), so they reach the later
    layers together; heads and the classifier read only the step's own
    rows. Every key and value a token attends to is then exactly the full
    model's. The pending tokens share the step's weight reads (decode is
    memory-bound), so the deferred work costs little; it needs an f32
    cache.

    ```mlir
    } else {
      %s2 = llm.cache_filled %kv1[%pos] {layer = 2 : i64} : !llm.kv_cache<...>
      %b2 = llm.cache_pending %x2, %kv1[%s2, %s1] : tensor<?x64xf32>, ... -> tensor<?x64xf32>
      // layer 2 on %b2 from position %s2 (llm.rope / llm.attention at %s2)
    ```

    Each exit calls the runtime's `llmc_early_exit(layer)`, which counts
    exits per layer for `llmc run --stats`.
  }];
  let options = [
    ListOption<"layers", "layers", "int64_t",
               "Layers (0-based) after which to test for an exit">,
    Option<"metric", "metric", "std::string", /*default=*/"\"max-prob\"",
           "Confidence measure: max-prob, entropy or margin">,
    Option<"threshold", "threshold", "double", /*default=*/"0.9",
           "Exit when max-prob/margin >= threshold, or entropy (nats) <= "
           "threshold">,
    Option<"kvPolicy", "kv-policy", "std::string",
           /*default=*/"\"propagate\"",
           "KV cache of skipped layers: propagate (write them from the exited "
           "state) or recompute (run pending tokens through them later)">,
    Option<"headNorm", "head-norm", "std::string", /*default=*/"",
           "Weight name of each head's norm ({layer} = its layer); default: "
           "the final norm's">,
    Option<"headClassifier", "head-classifier", "std::string",
           /*default=*/"",
           "Weight name of each head's classifier ({layer} = its layer); "
           "default: the model's classifier">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def SkipLayers : Pass<"llm-skip-layers", "mlir::ModuleOp"> {
  let summary = "Remove whole decoder layers (static layer skipping)";
  let description = [{
    ShortGPT / TrimLLM-style static depth reduction: every decoder layer in
    `layers` (0-based) of the `forward` function is removed for all tokens,
    prompt and decode alike. The layer's output is replaced by its input
    (the residual stream passes through) and its attention's new cache by
    the cache it received; the layer's norms, projections, attention and
    feed-forward are then dead and erased. The KV cache keeps its shape: the
    skipped layers' slots are never written or read. `forward` records the
    plan in `llm.skipped_layers`.

    Which layers to skip is a calibration question: the layers whose output
    hidden state is most similar to their input change the least. `llmc
    calibrate` measures that (ShortGPT's block influence, 1 - the mean
    cosine similarity of a layer's input and output over a text) and writes
    `skip_plan`, the layers by influence, least first; `plan=stats.json
    count=N` removes the first N of them.
  }];
  let options = [
    ListOption<"layers", "layers", "int64_t", "Layers (0-based) to remove">,
    Option<"planFile", "plan", "std::string", /*default=*/"",
           "llmc calibrate statistics whose skip_plan chooses the layers">,
    Option<"count", "count", "int64_t", /*default=*/"1",
           "With plan: how many layers of the plan to remove">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def ObserveLayers : Pass<"llm-observe-layers", "mlir::ModuleOp"> {
  let summary = "Observe every decoder layer's input, the last output and "
                "the MoE router logits";
  let description = [{
    Inserts an `llm.observe` of each decoder layer's input hidden state
    (keys `hidden.0` ... `hidden.<L-1>`) and of the last layer's output
    (`hidden.<L>`) in the imported `forward` function (before fusion, which
    merges the residual adds into the linears). The sites go first in the
    module's `llm.observe` table; `llm-observe` appends the linears' after
    them. `llmc calibrate` pairs consecutive sites per forward step and
    accumulates each layer's cosine similarity of input and output per
    token, for the skip plan of `llm-skip-layers`.

    Each `llm.moe` also gets its router logits observed (key `router.<l>`,
    `l` the layer of the attention before it; the table entry carries the
    op's `top_k`): an `llm.linear` of the op's input and router weight next
    to it. `llmc calibrate` turns them into per-layer expert-selection
    frequencies and co-occurrence counts of consecutive MoE layers' choices.

    ```mlir
    llm.observe %x1 {keys = ["hidden.1"], site = 1 : i64} : tensor<?x64xf32>
    %l = llm.linear %h, %router : tensor<?x64xf32>, tensor<8x64xf32> -> tensor<?x8xf32>
    llm.observe %l {keys = ["router.1"], site = 5 : i64} : tensor<?x8xf32>
    ```
  }];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

#endif // LLMC_PASSES_DEPTHPASSES_TD
