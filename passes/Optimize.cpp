//===- Optimize.cpp - the llm-optimize pipeline (-O2) ---------------------===//

#include "passes/Optimize.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void mlir::llm::buildLLMOptimizePipeline(OpPassManager &pm,
                                         const OptimizeOptions &o,
                                         const QuantizeOptions *quant,
                                         bool observe) {
  pm.addPass(createUnifyParams());
  // Dequantize fusion first: the fusions below see quantized linears whole.
  pm.addPass(createFuseDequant());
  // QKV / gate-up before the norm: the norm scale then folds into one
  // concatenated weight per group.
  pm.addPass(createFuseQKV());
  // The epilogue takes residual adds whose other operand is a linear (the
  // residual seeds its accumulator for free); the norm fusion takes the
  // remaining add -> norm pairs and folds the scales.
  pm.addPass(createFuseEpilogue());
  if (quant)
    pm.addPass(createQuantize(*quant));
  if (observe)
    pm.addPass(createObserve());
  pm.addPass(createFuseNorm());
  if (o.flash) {
    FlashAttentionOptions flash;
    flash.decodeSplits = o.decodeSplits;
    flash.softmax = o.softmax;
    flash.unifiedMax = o.unifiedMax;
    pm.addPass(createFlashAttention(flash));
  }
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::llm::registerLLMOptimizePipeline() {
  PassPipelineRegistration<OptimizeOptions>(
      "llm-optimize",
      "The -O2 llm-dialect pipeline: unify params, fuse dequantize, QKV and "
      "gate/up, epilogues and norms, select flash attention, canonicalize",
      [](OpPassManager &pm, const OptimizeOptions &o) {
        buildLLMOptimizePipeline(pm, o);
      });
}
