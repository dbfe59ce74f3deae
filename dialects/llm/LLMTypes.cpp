//===- LLMTypes.cpp - llm dialect types -----------------------------------===//

#include "dialects/llm/LLMTypes.h"
#include "dialects/llm/LLMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::llm;

#define GET_TYPEDEF_CLASSES
#include "dialects/llm/LLMTypes.cpp.inc"

void LLMDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/llm/LLMTypes.cpp.inc"
      >();
}

// !llm.kv_cache<LAYERSxMAX_SEQxKV_HEADSxHEAD_DIM, ELEMENT_TYPE>
Type KVCacheType::parse(AsmParser &parser) {
  SmallVector<int64_t, 4> dims;
  Type elementType;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseComma() || parser.parseType(elementType) ||
      parser.parseGreater())
    return {};
  if (dims.size() != 4) {
    parser.emitError(loc, "expected 4 dimensions (layers x max_seq x kv_heads "
                          "x head_dim), got ")
        << dims.size();
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), dims[0], dims[1], dims[2], dims[3],
                    elementType);
}

void KVCacheType::print(AsmPrinter &printer) const {
  printer << "<" << getLayers() << "x" << getMaxSeq() << "x" << getKvHeads()
          << "x" << getHeadDim() << ", " << getElementType() << ">";
}

LogicalResult
KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                    int64_t layers, int64_t maxSeq, int64_t kvHeads,
                    int64_t headDim, Type elementType) {
  if (layers <= 0 || maxSeq <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitError() << "kv_cache dimensions must be positive, got "
                       << layers << "x" << maxSeq << "x" << kvHeads << "x"
                       << headDim;
  if (!isa<FloatType>(elementType) && !elementType.isSignlessInteger(8))
    return emitError() << "kv_cache element type must be a float type or i8, "
                          "got "
                       << elementType;
  return success();
}

int64_t KVCacheType::getNumElements() const {
  return 2 * getLayers() * getMaxSeq() * getKvHeads() * getHeadDim();
}

int64_t KVCacheType::getSizeInBytes() const {
  int64_t bytes = getNumElements() *
                  llvm::divideCeil(getElementType().getIntOrFloatBitWidth(), 8);
  // int8: one f32 scale per layer, key/value, head and position.
  if (getElementType().isSignlessInteger(8))
    bytes += 2 * getLayers() * getMaxSeq() * getKvHeads() * 4;
  return bytes;
}
