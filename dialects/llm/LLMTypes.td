//===- LLMTypes.td - llm dialect types ---------------------*- tablegen -*-===//

#ifndef LLMC_DIALECTS_LLM_LLMTYPES_TD
#define LLMC_DIALECTS_LLM_LLMTYPES_TD

include "dialects/llm/LLMDialect.td"
include "mlir/IR/AttrTypeBase.td"

class LLM_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<LLM_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def LLM_KVCacheType : LLM_Type<"KVCache", "kv_cache"> {
  let summary = "Key/value cache of every decoder layer of a model";
  let description = [{
    The attention key/value cache: for each of `layers` decoder layers, keys
    and values of up to `max_seq` positions, `kv_heads` heads of `head_dim`
    elements each. Element type is a float type or `i8` (int8 KV cache:
    each head's key or value vector of one position is stored as `head_dim`
    int8 values and one f32 scale, `max |x| / 127`).

    ```mlir
    !llm.kv_cache<5x512x4x8, f32>   // layers x max_seq x kv_heads x head_dim
    ```

    The cache is a value: `llm.attention` takes one and returns the updated
    one. Bufferization turns this into an in-place update of one buffer.
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$maxSeq,
                        "int64_t":$kvHeads, "int64_t":$headDim,
                        "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Elements of keys and values together, over all layers.
    int64_t getNumElements() const;
    /// Bytes of keys and values together, over all layers (int8: with
    /// their scales).
    int64_t getSizeInBytes() const;
  }];
}

#endif // LLMC_DIALECTS_LLM_LLMTYPES_TD
