//===- LLMOps.h - llm dialect operations ------------------------*- C++ -*-===//

#ifndef LLMC_DIALECTS_LLM_LLMOPS_H
#define LLMC_DIALECTS_LLM_LLMOPS_H

#include "dialects/llm/LLMAttrs.h"
#include "dialects/llm/LLMDialect.h"
#include "dialects/llm/LLMTypes.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <string>

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.h.inc"

namespace mlir::llm {
/// True for values computed at pack time from weights: `llm.param` and the
/// symbolic weight transforms (`llm.concat`, `llm.scale_columns`,
/// `llm.quantize`, reshapes) of such values. `llmc compile` evaluates them
/// once while packing; no backend computes them.
bool isPackTimeWeight(Value v);
/// True for an `llm.concat`, `llm.scale_columns`, `llm.quantize`,
/// `llm.transpose` or pack-time `llm.dequantize` whose results are all
/// pack-time weights (evaluated by `llmc compile`).
bool isPackTimeTransform(Operation *op);
/// True for an `llm.dequantize` of a format no kernel reads yet (GGUF
/// K-quants, q5_0, q5_1, iq4_nl): `llmc compile` decodes it while packing.
bool isPackTimeDequantize(Operation *op);
/// True for the llm ops a compiled model executes: every llm op but the
/// weights and their pack-time transforms. Profiling timers and the
/// roofline tables built next to them list exactly these, in order.
bool isRunTimeOp(Operation *op);
/// A label for the weights `op` reads: the name of the first `llm.param`
/// reached through its pack-time operands, with " +N" when the weight is a
/// transform of N more params (e.g. fused Q/K/V). Empty without weights.
std::string weightLabel(Operation *op);

/// The expression a pack-time weight is computed by, as text: a param's
/// name, or `op(input, ...)` (op without its dialect, e.g.
/// `concat(layers.0.attention.wq.weight,...)`). Calibration statistics are
/// looked up by it (`llmc compile` spells a transform record the same way).
std::string weightKey(Value weight);
} // namespace mlir::llm

#endif // LLMC_DIALECTS_LLM_LLMOPS_H
