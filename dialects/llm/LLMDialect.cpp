//===- LLMDialect.cpp - the llm dialect -----------------------------------===//

#include "dialects/llm/LLMDialect.h"
#include "dialects/llm/LLMOps.h"

using namespace mlir;
using namespace mlir::llm;

#include "dialects/llm/LLMDialect.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/llm/LLMOps.cpp.inc"
      >();
  registerTypes();
  registerAttributes();
}

Operation *LLMDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  // Folders of llm.add/llm.mul produce dense float constants.
  auto typed = dyn_cast<TypedAttr>(value);
  if (!typed || typed.getType() != type)
    return nullptr;
  return arith::ConstantOp::create(builder, loc, type, typed);
}
