//===- Passes.td - every llmc pass -------------------------*- tablegen -*-===//
//
// One declaration per pass; the implementation is one .cpp in passes/ that
// derives from the generated base, and one lit file in test/passes/.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_PASSES_TD
#define LLMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def UnifyParams : Pass<"llm-unify-params", "mlir::ModuleOp"> {
  let summary = "Merge llm.param ops naming the same weight and hoist them";
  let description = [{
    Importers and passes create `llm.param` ops wherever a weight is used.
    This pass gives every function one `llm.param` per weight name, placed at
    the top of the entry block in first-use order, so the function starts
    with its weight table. A weight name declared with two different types
    or quantizations anywhere in the module is an error (it would make
    packing ambiguous), reported at both declarations.

    Example:

    ```mlir
    %a = llm.param "w" : tensor<4x4xf32>
    ...
    %b = llm.param "w" : tensor<4x4xf32>   // replaced by %a, hoisted
    ```
  }];
  let options = [
    Option<"hoist", "hoist", "bool", /*default=*/"true",
           "Move the params to the start of their function's entry block">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

def Roofline : Pass<"llm-roofline", "mlir::ModuleOp"> {
  let summary = "Annotate every llm op with its roofline cost on a hardware";
  let description = [{
    An analysis in the sense of "LLM Inference Unveiled: Survey and Roofline
    Model Insights" (LLM-Viewer): for each `llm` op it computes FLOPs (a
    multiply-add counts 2) and bytes moved, split into weight load,
    activation load, activation store, KV-cache load and KV-cache store, then
    the arithmetic intensity, the attainable performance
    `min(peak, intensity * bandwidth)` on the chosen hardware, whether the op
    is memory- or compute-bound, and the predicted time
    `max(flops / peak, bytes / bandwidth)`. Results go into an
    `llm.roofline` dictionary attribute on each op and `llm.roofline.total`
    on the module. The IR is otherwise unchanged.

    Precision comes from the IR: weight element types and `#llm.quant`
    (bits plus scale overhead), activation element types, the KV cache's
    element type. `?` token dimensions are `seq` (prefill) or 1 (decode),
    times `batch`. Ops are fused units: `llm.attention` keeps its scores on
    chip (flash attention), so only Q/K/V, the output and the cache move.
    Weight transforms on `llm.param` values (`llm.concat`, `llm.quantize`,
    `tensor.expand_shape`) happen at pack time and cost nothing. An
    `llm.moe` reads the experts a batch is expected to touch:
    `E * (1 - (1 - top_k/E)^tokens)`.

    Hardware presets (peak FLOP/s per dtype, bandwidth, datasheet source)
    are read from `data/hardware.json` or `hardware-file`.
  }];
  let options = [
    Option<"hardware", "hardware", "std::string", /*default=*/"\"nvidia-a100-80gb\"",
           "Hardware preset name (see data/hardware.json)">,
    Option<"hardwareFile", "hardware-file", "std::string", /*default=*/"\"\"",
           "Hardware presets JSON file (default: llmc's data/hardware.json)">,
    Option<"phase", "phase", "std::string", /*default=*/"\"decode\"",
           "prefill (seq tokens per sequence) or decode (one token)">,
    Option<"batch", "batch", "int64_t", /*default=*/"1", "Sequences per step">,
    Option<"seq", "seq", "int64_t", /*default=*/"1",
           "Prompt tokens per sequence in prefill">,
    Option<"kvLen", "kv-len", "int64_t", /*default=*/"0",
           "Tokens already in the KV cache before this step">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

#endif // LLMC_PASSES_PASSES_TD
