//===- CacheOps.td - pending-state cache ops ---------------*- tablegen -*-===//
//
// The KV cache pending state of early exit's recompute policy. Included by LLMOps.td (after the
// shared tensor constraints); verifiers in CacheOps.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECTS_LLM_CACHEOPS_TD
#define LLMC_DIALECTS_LLM_CACHEOPS_TD

//===----------------------------------------------------------------------===//
// Pending state (early exit's recompute KV policy)
//===----------------------------------------------------------------------===//

def LLM_CacheFilledOp : LLM_Op<"cache_filled", [Pure]> {
  let summary = "How many leading positions have one layer's keys and values";
  let description = [{
    For a cache with a pending state: the number of leading positions whose
    keys and values of layer `layer` are in the cache, at most `pos` (the
    first position of the running step; a rewound sequence counts only
    what precedes it). Positions from there to `pos` are pending at that
    layer: the tokens exited before it.

    ```mlir
    %s = llm.cache_filled %kv[%pos] {layer = 3 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
    ```
  }];
  let arguments = (ins LLM_KVCacheType:$cache, Index:$pos, I64Attr:$layer);
  let results = (outs Index:$filled);
  let assemblyFormat = "$cache `[` $pos `]` attr-dict `:` qualified(type($cache))";
  let hasVerifier = 1;
}

def LLM_CachePendingOp : LLM_Op<"cache_pending", [Pure]> {
  let summary = "Pending positions' hidden states, followed by the given rows";
  let description = [{
    Returns the stored hidden states of positions `[from, to)` (see
    `llm.cache_stash`) followed by the rows of `input`: the batch a layer
    runs when positions before `to` are pending at it.

    ```mlir
    %x = llm.cache_pending %h, %kv[%s3, %s2]
        : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_KVCacheType:$cache,
                       Index:$from, Index:$to);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $cache `[` $from `,` $to `]` attr-dict `:` type($input) `,`
    qualified(type($cache)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_CacheStashOp : LLM_Op<"cache_stash", [Pure,
    AllTypesMatch<["cache", "new_cache"]>]> {
  let summary = "Stores hidden states of positions for their later layers";
  let description = [{
    Stores row `i` of `input` as the hidden state of position `from + i`:
    the input of the first layer it has not run yet.

    ```mlir
    %kv2 = llm.cache_stash %x, %kv[%s1] : tensor<?x64xf32>, !llm.kv_cache<5x512x4x8, f32, pending = 64>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_KVCacheType:$cache,
                       Index:$from);
  let results = (outs LLM_KVCacheType:$new_cache);
  let assemblyFormat = [{
    $input `,` $cache `[` $from `]` attr-dict `:` type($input) `,` qualified(type($cache))
  }];
  let hasVerifier = 1;
}

def LLM_CacheMarkOp : LLM_Op<"cache_mark", [Pure,
    AllTypesMatch<["cache", "new_cache"]>]> {
  let summary = "Records which layers a step filled";
  let description = [{
    After a step over positions `[start, end)` that ran layers `0..layer`:
    those layers are filled up to `end`, later layers at most up to `start`.

    ```mlir
    %kv3 = llm.cache_mark %kv[%pos, %end] {layer = 1 : i64} : !llm.kv_cache<5x512x4x8, f32, pending = 64>
    ```
  }];
  let arguments = (ins LLM_KVCacheType:$cache, Index:$start, Index:$end,
                       I64Attr:$layer);
  let results = (outs LLM_KVCacheType:$new_cache);
  let assemblyFormat = [{
    $cache `[` $start `,` $end `]` attr-dict `:` qualified(type($cache))
  }];
  let hasVerifier = 1;
}

#endif // LLMC_DIALECTS_LLM_CACHEOPS_TD
