//===- Passes.td - every llmc pass -------------------------*- tablegen -*-===//
//
// One declaration per pass; the implementation is one .cpp in passes/ that
// derives from the generated base, and one lit file in test/passes/. This
// file holds the analyses and includes the other passes by area (fusion,
// quantization, depth, lowering); tablegen sees them as one file.
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

    Before:

    ```mlir
    %h = llm.rms_norm %x, %g : ...
    %a = llm.param "w" : tensor<4x4xf32>
    %y = llm.linear %h, %a : ...
    %b = llm.param "w" : tensor<4x4xf32>
    %z = llm.linear %y, %b : ...
    ```

    After:

    ```mlir
    %a = llm.param "w" : tensor<4x4xf32>
    %h = llm.rms_norm %x, %g : ...
    %y = llm.linear %h, %a : ...
    %z = llm.linear %y, %a : ...
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
    times `batch`. Ops are costed as the backends compile them: an
    `llm.attention` marked `llm.flash` (`--llm-flash-attention`) keeps its
    scores in registers, so only Q/K/V, the output and the cache move;
    without it the reference kernel's score matrix
    `[heads, tokens, positions]` is written 4 times and read 5 times. Fused
    epilogues (`residual`, `activation`) and `llm.add_rms_norm` count one
    pass over their activations. Weight transforms on `llm.param` values
    (`llm.concat`, `llm.scale_columns`, `llm.quantize`,
    `tensor.expand_shape`) happen at pack time and cost nothing. An
    `llm.moe` reads the experts a batch is expected to touch:
    `E * (1 - (1 - top_k/E)^tokens)`.

    Hardware presets (peak FLOP/s per dtype, bandwidth, datasheet source)
    are read from `data/hardware.json` or `hardware-file`.

    Before:

    ```mlir
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    ```

    After (`hardware=nvidia-a100-80gb phase=prefill seq=16`):

    ```mlir
    %y = llm.linear %x, %w {llm.roofline = {act_load_bytes = 4096 : i64,
        act_store_bytes = 8192 : i64, attainable_flops = 1.186e+13 : f64,
        bound = "memory", flops = 262144 : i64, intensity = 5.818 : f64,
        kv_load_bytes = 0 : i64, kv_store_bytes = 0 : i64,
        time_s = 2.21e-08 : f64, weight_bytes = 32768 : i64}}
        : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    ```
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
    Option<"actDtype", "act-dtype", "std::string", /*default=*/"\"\"",
           "Activation type whose peak compute-bound ops run at: f32, f16, "
           "bf16 or int8 (default: the IR's element type)">,
    Option<"logitsRows", "logits-rows", "int64_t", /*default=*/"1",
           "Rows the ops after a slice to a function argument's size compute "
           "(imported models' final norm and classifier run on the last "
           "num_logits rows; 1 = generation)">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

// The other passes, by area (one file each).
include "passes/FusionPasses.td"
include "passes/QuantPasses.td"
include "passes/DepthPasses.td"
include "passes/MoEPasses.td"
include "passes/LoweringPasses.td"
include "passes/GPUPasses.td"

#endif // LLMC_PASSES_PASSES_TD
