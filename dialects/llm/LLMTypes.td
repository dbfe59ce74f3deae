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

    With `pending = D` (f32 caches only; set by early exit's `recompute` KV
    policy) the cache also holds the decode state that policy needs: for
    each layer, how many leading positions have their keys and values in
    the cache, and for every position the last hidden state (`D` features)
    computed for it, from which its missing layers are run later (see
    `llm.cache_filled` and friends).

    ```mlir
    !llm.kv_cache<5x512x4x8, f32, pending = 64>
    ```

    With `shared`, keys and values are one tensor: the cache stores one
    vector per position, head and layer, which attention uses both as the
    key and as the value (multi-head latent attention: DeepSeek-V2's
    compressed latent followed by its rotated key, read by every query
    head). Half the memory of a cache holding the same vector twice.

    ```mlir
    !llm.kv_cache<27x4096x1x576, f32, shared>
    ```
  }];
  let parameters = (ins "int64_t":$layers, "int64_t":$maxSeq,
                        "int64_t":$kvHeads, "int64_t":$headDim,
                        "::mlir::Type":$elementType, "int64_t":$pending,
                        "bool":$shared);
  let builders = [
    TypeBuilder<(ins "int64_t":$layers, "int64_t":$maxSeq, "int64_t":$kvHeads,
        "int64_t":$headDim, "::mlir::Type":$elementType), [{
      return $_get($_ctxt, layers, maxSeq, kvHeads, headDim, elementType, 0,
                   false);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Elements of keys and values together, over all layers.
    int64_t getNumElements() const;
    /// Bytes of keys and values together, over all layers (int8: with
    /// their scales), plus the pending state's.
    int64_t getSizeInBytes() const;
    /// Extra layer-sized slots the pending state occupies (0 without).
    int64_t getStateLayers() const;
    /// This cache with (or, with 0, without) the pending state.
    KVCacheType withPending(int64_t pending) const;
    /// This cache with another element type (same shape and flags).
    KVCacheType withElementType(::mlir::Type elementType) const;
    /// Tensors per layer: 2 (keys, values), or 1 when `shared`.
    int64_t getKinds() const { return getShared() ? 1 : 2; }
  }];
}

#endif // LLMC_DIALECTS_LLM_LLMTYPES_TD
