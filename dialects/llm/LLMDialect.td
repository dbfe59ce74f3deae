//===- LLMDialect.td - the llm dialect ---------------------*- tablegen -*-===//
//
// The `llm` dialect captures transformer graphs at the tensor level with
// value semantics. It knows nothing of targets (see lowering/).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_LLMDIALECT_TD
#define LLMC_DIALECTS_LLM_LLMDIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let cppNamespace = "::mlir::llm";
  let summary = "Tensor-level operations of transformer language models";
  let description = [{
    The `llm` dialect holds what a decoder-only transformer needs and nothing
    lower: named weights (`llm.param`), embedding, normalisation, (quantized)
    linear layers, rotary position embedding, grouped-query attention over a
    key/value cache, activations, mixture-of-experts, early-exit heads and the
    symbolic weight transforms (`llm.concat`, `llm.quantize`) that passes
    record and the compiler evaluates once at pack time.

    All operations have value semantics. Activations are ranked tensors whose
    last dimension is the feature dimension; attention and RoPE take
    `[sequence, heads * head_dim]` tensors. Weights never enter the IR: an
    `llm.param` names a tensor stored in the model file.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
}

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

#endif // LLMC_DIALECTS_LLM_LLMDIALECT_TD
