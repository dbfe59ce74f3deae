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

// !llm.kv_cache<LAYERSxMAX_SEQxKV_HEADSxHEAD_DIM, ELEMENT_TYPE
//               [, pending = D] [, shared]>
Type KVCacheType::parse(AsmParser &parser) {
  SmallVector<int64_t, 4> dims;
  Type elementType;
  int64_t pending = 0;
  bool shared = false;
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() ||
      parser.parseDimensionList(dims, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseComma() || parser.parseType(elementType))
    return {};
  while (succeeded(parser.parseOptionalComma())) {
    if (succeeded(parser.parseOptionalKeyword("shared"))) {
      shared = true;
      continue;
    }
    if (parser.parseKeyword("pending") || parser.parseEqual() ||
        parser.parseInteger(pending))
      return {};
  }
  if (parser.parseGreater())
    return {};
  if (dims.size() != 4) {
    parser.emitError(loc, "expected 4 dimensions (layers x max_seq x kv_heads "
                          "x head_dim), got ")
        << dims.size();
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); },
                    parser.getContext(), dims[0], dims[1], dims[2], dims[3],
                    elementType, pending, shared);
}

void KVCacheType::print(AsmPrinter &printer) const {
  printer << "<" << getLayers() << "x" << getMaxSeq() << "x" << getKvHeads()
          << "x" << getHeadDim() << ", " << getElementType();
  if (getPending())
    printer << ", pending = " << getPending();
  if (getShared())
    printer << ", shared";
  printer << ">";
}

LogicalResult
KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                    int64_t layers, int64_t maxSeq, int64_t kvHeads,
                    int64_t headDim, Type elementType, int64_t pending,
                    bool shared) {
  if (layers <= 0 || maxSeq <= 0 || kvHeads <= 0 || headDim <= 0)
    return emitError() << "kv_cache dimensions must be positive, got "
                       << layers << "x" << maxSeq << "x" << kvHeads << "x"
                       << headDim;
  if (!isa<FloatType>(elementType) && !elementType.isSignlessInteger(8))
    return emitError() << "kv_cache element type must be a float type or i8, "
                          "got "
                       << elementType;
  if (pending < 0)
    return emitError() << "kv_cache pending state width must be >= 0, got "
                       << pending;
  if (pending && !elementType.isF32())
    return emitError() << "a kv_cache with a pending state must be f32, got "
                       << elementType;
  if (pending && maxSeq < layers)
    return emitError() << "a kv_cache with a pending state needs max_seq >= "
                          "layers (one counter per layer), got "
                       << maxSeq << " < " << layers;
  if (pending && shared)
    return emitError() << "a shared (latent) kv_cache has no pending state: "
                          "early exit's recompute policy is not supported "
                          "with multi-head latent attention";
  return success();
}

int64_t KVCacheType::getStateLayers() const {
  if (!getPending())
    return 0;
  // Hidden rows spread over the slots' [2, kv_heads, *, head_dim] elements
  // of each position, plus one slot for the per-layer counters.
  int64_t perSlot = getKinds() * getKvHeads() * getHeadDim();
  return llvm::divideCeil(getPending(), perSlot) + 1;
}

KVCacheType KVCacheType::withPending(int64_t pending) const {
  return KVCacheType::get(getContext(), getLayers(), getMaxSeq(), getKvHeads(),
                          getHeadDim(), getElementType(), pending,
                          getShared());
}

KVCacheType KVCacheType::withElementType(Type elementType) const {
  return KVCacheType::get(getContext(), getLayers(), getMaxSeq(), getKvHeads(),
                          getHeadDim(), elementType, getPending(), getShared());
}

int64_t KVCacheType::getNumElements() const {
  return getKinds() * getLayers() * getMaxSeq() * getKvHeads() * getHeadDim();
}

int64_t KVCacheType::getSizeInBytes() const {
  int64_t bytes = getNumElements() *
                  llvm::divideCeil(getElementType().getIntOrFloatBitWidth(), 8);
  // int8: one f32 scale per layer, key/value, head and position.
  if (getElementType().isSignlessInteger(8))
    bytes += getKinds() * getLayers() * getMaxSeq() * getKvHeads() * 4;
  bytes += getStateLayers() * getKinds() * getMaxSeq() * getKvHeads() *
           getHeadDim() * 4;
  return bytes;
}
