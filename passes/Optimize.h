//===- Optimize.h - the llm-optimize pipeline (-O2) -------------*- C++ -*-===//

#ifndef LLMC_PASSES_OPTIMIZE_H
#define LLMC_PASSES_OPTIMIZE_H

#include "passes/Passes.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir::llm {

struct OptimizeOptions : public PassPipelineOptions<OptimizeOptions> {
  PassOptions::Option<bool> flash{*this, "flash",
                                  llvm::cl::desc("Select flash attention"),
                                  llvm::cl::init(true)};
  PassOptions::Option<int64_t> decodeSplits{
      *this, "decode-splits",
      llvm::cl::desc("Cache chunks per head in a one-token step"),
      llvm::cl::init(2)};
  PassOptions::Option<std::string> softmax{
      *this, "softmax",
      llvm::cl::desc("Decode chunk combine: unified or online"),
      llvm::cl::init("unified")};
  PassOptions::Option<double> unifiedMax{
      *this, "unified-max",
      llvm::cl::desc("Fixed exponent offset of softmax=unified"),
      llvm::cl::init(0.0)};
};

/// unify-params, fuse-dequant, fuse-qkv, fuse-epilogue, [quantize],
/// fuse-norm, flash-attention, canonicalize, cse. With `quant`, weights are
/// quantized after the Q/K/V and gate/up concatenation but before the norm
/// fusion could fold RMSNorm gains into them: folded gains widen each
/// group's range and cost 4-bit accuracy. With `observe`, llm-observe runs
/// at that same point (calibration sees what the quantizer will quantize).
void buildLLMOptimizePipeline(OpPassManager &pm, const OptimizeOptions &o,
                              const QuantizeOptions *quant = nullptr,
                              bool observe = false);
void registerLLMOptimizePipeline();

} // namespace mlir::llm

#endif // LLMC_PASSES_OPTIMIZE_H
