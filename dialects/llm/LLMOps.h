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

#define GET_OP_CLASSES
#include "dialects/llm/LLMOps.h.inc"

#endif // LLMC_DIALECTS_LLM_LLMOPS_H
