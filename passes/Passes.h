//===- Passes.h - llmc passes -----------------------------------*- C++ -*-===//

#ifndef LLMC_PASSES_PASSES_H
#define LLMC_PASSES_PASSES_H

#include "dialects/llm/LLMOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::llm {

/// The attention attribute `--llm-flash-attention` sets.
inline constexpr llvm::StringLiteral kFlashAttrName = "llm.flash";
/// The loop attribute (bytes ahead) `--llm-cpu-prefetch` reads: set by the
/// tensor lowering on one-token kernels' weight-stream loops.
inline constexpr llvm::StringLiteral kPrefetchBytesAttrName =
    "llm.prefetch_bytes";

/// The hidden state entering a decoder layer of an imported graph: the
/// input of the RMSNorm that feeds its attention's key through the
/// projection and rope; null when the layer does not have that shape.
inline Value layerInput(AttentionOp attn) {
  Value v = attn.getKey();
  while (Operation *def = v.getDefiningOp()) {
    if (auto norm = dyn_cast<RMSNormOp>(def))
      return norm.getInput();
    if (!isa<RoPEOp, LinearOp, QLinearOp>(def))
      return {};
    v = def->getOperand(0);
  }
  return {};
}

/// The decoder layers of an imported `forward` function (before fusion).
struct DecoderLayers {
  SmallVector<AttentionOp> attentions; ///< by layer
  SmallVector<Value> inputs;           ///< each layer's input hidden state
  Value output; ///< the hidden state after the last layer (the final norm's
                ///< input, above any row slice)
  RMSNormOp finalNorm; ///< the final head: classifier(finalNorm(output))
  LinearOp classifier;
};
/// Finds them; emits an error naming `pass` when the graph has another shape.
FailureOr<DecoderLayers> findDecoderLayers(func::FuncOp func, StringRef pass);

/// Every llm.moe under `root` in program order with its layer: that of the
/// last llm.attention before it (-1 when none is).
SmallVector<std::pair<int64_t, MoEOp>> findMoELayers(Operation *root);

/// "512MiB", "2GB", "100" (bytes: B, KB..TB, KiB..TiB); with `rate`,
/// "25GB/s" (bytes per second). nullopt if malformed or not > 0.
std::optional<double> parseByteAmount(StringRef text, bool rate = false);

/// The first `count` layers of the skip plan in an `llmc calibrate`
/// statistics file (`skip_plan`: layers by block influence, lowest first).
FailureOr<SmallVector<int64_t>> readSkipPlan(StringRef path, int64_t count,
                                             std::string &error);

/// acc[k] + sum over q < 4 of zext(u[4k + q]) * sext(s[4k + q]) for i8
/// vectors u, s of 4 bytes per i32 lane of acc: the portable byte dot
/// product the block kernels build and `--llm-cpu-vnni` recognizes and
/// rewrites (vpdpbusd, vpmaddubsw, sdot / usdot; CPUVNNI.cpp).
Value buildByteDot(OpBuilder &b, Location l, Value acc, Value u, Value s);

/// Gives every !llm.kv_cache value under `root` (block arguments, results,
/// function signatures) the type `retype` returns for it.
void retypeKVCaches(Operation *root, function_ref<Type(KVCacheType)> retype);

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::llm

#endif // LLMC_PASSES_PASSES_H
