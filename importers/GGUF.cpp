//===- GGUF.cpp - GGUF v2/v3 models ---------------------------------------===//

#include "importers/GGUF.h"
#include "importers/ModelSource.h"
#include "llvm/Support/MathExtras.h"
#include <cstring>

using namespace llmc;
using llvm::Error;

namespace {
/// Bounds-checked little-endian cursor over the file.
class Cursor {
public:
  Cursor(llvm::StringRef path, llvm::StringRef data) : path(path), data(data) {}

  template <typename T> Error read(T &out, const char *what) {
    if (data.size() - pos < sizeof(T))
      return fileError(path, "truncated while reading " + llvm::Twine(what) +
                                 " at offset " + llvm::Twine(pos));
    std::memcpy(&out, data.data() + pos, sizeof(T));
    pos += sizeof(T);
    return Error::success();
  }

  Error readString(std::string &out, const char *what) {
    uint64_t len;
    if (Error e = read(len, what))
      return e;
    if (len > data.size() - pos)
      return fileError(path, llvm::Twine(what) + " at offset " +
                                 llvm::Twine(pos - 8) + " claims " +
                                 llvm::Twine(len) +
                                 " bytes, more than the file has left");
    out.assign(data.data() + pos, len);
    pos += len;
    return Error::success();
  }

  uint64_t remaining() const { return data.size() - pos; }
  uint64_t pos = 0;
  llvm::StringRef path;
  llvm::StringRef data;
};

enum : uint32_t {
  T_U8 = 0, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING,
  T_ARRAY, T_U64, T_I64, T_F64
};

/// Reads one scalar of `type` into `v` (number or string).
Error readScalar(Cursor &c, uint32_t type, GGUFValue &v, std::string *strOut,
                 double *numOut) {
  auto num = [&](auto tag) -> Error {
    decltype(tag) x;
    if (Error e = c.read(x, "a metadata value"))
      return e;
    if (numOut)
      *numOut = static_cast<double>(x);
    else {
      v.num = static_cast<double>(x);
      if constexpr (std::is_integral_v<decltype(tag)>)
        v.integer = static_cast<int64_t>(x);
    }
    return Error::success();
  };
  switch (type) {
  case T_U8: return num(uint8_t());
  case T_I8: return num(int8_t());
  case T_U16: return num(uint16_t());
  case T_I16: return num(int16_t());
  case T_U32: return num(uint32_t());
  case T_I32: return num(int32_t());
  case T_F32: return num(float());
  case T_BOOL: return num(uint8_t());
  case T_U64: return num(uint64_t());
  case T_I64: return num(int64_t());
  case T_F64: return num(double());
  case T_STRING: {
    std::string s;
    if (Error e = c.readString(s, "a metadata string"))
      return e;
    if (strOut)
      *strOut = std::move(s);
    else
      v.str = std::move(s);
    return Error::success();
  }
  default:
    return fileError(c.path, "unknown metadata value type " +
                                 llvm::Twine(type) + " at offset " +
                                 llvm::Twine(c.pos));
  }
}

Error readValue(Cursor &c, uint32_t type, GGUFValue &v, int depth) {
  v.type = type;
  if (type != T_ARRAY) {
    v.kind = type == T_STRING ? GGUFValue::String
             : type == T_BOOL ? GGUFValue::Bool
                              : GGUFValue::Number;
    return readScalar(c, type, v, nullptr, nullptr);
  }
  uint32_t elemType;
  uint64_t count;
  if (Error e = c.read(elemType, "an array type"))
    return e;
  if (Error e = c.read(count, "an array length"))
    return e;
  // Every element takes at least one byte: a larger count is a lie (and
  // must not drive an allocation).
  if (count > c.remaining())
    return fileError(c.path, "metadata array at offset " + llvm::Twine(c.pos) +
                                 " claims " + llvm::Twine(count) +
                                 " elements, more than the file has bytes");
  v.kind = GGUFValue::Array;
  v.type = elemType;
  if (elemType == T_ARRAY) {
    if (depth > 3)
      return fileError(c.path, "metadata arrays nested too deeply");
    for (uint64_t i = 0; i < count; ++i) {
      GGUFValue inner;
      uint32_t innerType;
      if (Error e = c.read(innerType, "a nested array type"))
        return e;
      if (Error e = readValue(c, innerType, inner, depth + 1))
        return e;
    }
    return Error::success();
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (elemType == T_STRING) {
      std::string s;
      if (Error e = readScalar(c, elemType, v, &s, nullptr))
        return e;
      v.strs.push_back(std::move(s));
    } else {
      double d;
      if (Error e = readScalar(c, elemType, v, nullptr, &d))
        return e;
      v.nums.push_back(d);
    }
  }
  return Error::success();
}

std::optional<DType> ggmlType(uint32_t t) {
  switch (t) {
  case 0: return DType::F32;
  case 1: return DType::F16;
  case 2: return DType::Q4_0;
  case 3: return DType::Q4_1;
  case 6: return DType::Q5_0;
  case 7: return DType::Q5_1;
  case 8: return DType::Q8_0;
  case 10: return DType::Q2_K;
  case 11: return DType::Q3_K;
  case 12: return DType::Q4_K;
  case 13: return DType::Q5_K;
  case 14: return DType::Q6_K;
  case 20: return DType::IQ4_NL;
  case 30: return DType::BF16;
  default: return std::nullopt;
  }
}

const char *ggmlTypeName(uint32_t t) {
  static const char *names[] = {
      "F32",  "F16",  "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1",
      "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
      "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S",
      "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}
} // namespace

llvm::Expected<GGUFFile> llmc::parseGGUF(llvm::StringRef path,
                                         llvm::StringRef data) {
  Cursor c(path, data);
  GGUFFile file;
  uint32_t magic;
  if (Error e = c.read(magic, "the magic"))
    return std::move(e);
  if (std::memcmp(&magic, "GGUF", 4) != 0)
    return fileError(path, "not a GGUF file (wrong magic)");
  if (Error e = c.read(file.version, "the version"))
    return std::move(e);
  if (file.version != 2 && file.version != 3)
    return fileError(path, "GGUF version " + llvm::Twine(file.version) +
                               " is not supported (2 and 3 are)");
  uint64_t tensorCount, kvCount;
  if (Error e = c.read(tensorCount, "the tensor count"))
    return std::move(e);
  if (Error e = c.read(kvCount, "the metadata count"))
    return std::move(e);
  if (kvCount > c.remaining() || tensorCount > c.remaining())
    return fileError(path, "header claims " + llvm::Twine(tensorCount) +
                               " tensors and " + llvm::Twine(kvCount) +
                               " metadata entries, more than the file holds");
  for (uint64_t i = 0; i < kvCount; ++i) {
    std::string key;
    uint32_t type;
    if (Error e = c.readString(key, "a metadata key"))
      return std::move(e);
    if (Error e = c.read(type, "a metadata type"))
      return std::move(e);
    GGUFValue v;
    if (Error e = readValue(c, type, v, 0))
      return std::move(e);
    if (!file.metadata.try_emplace(key, std::move(v)).second)
      return fileError(path, "metadata key '" + key + "' appears twice");
  }
  std::vector<uint64_t> relOffsets;
  for (uint64_t i = 0; i < tensorCount; ++i) {
    TensorInfo t;
    uint32_t nDims, type;
    if (Error e = c.readString(t.name, "a tensor name"))
      return std::move(e);
    if (Error e = c.read(nDims, "a tensor rank"))
      return std::move(e);
    if (nDims == 0 || nDims > 8)
      return fileError(path, "tensor '" + t.name + "' has rank " +
                                 llvm::Twine(nDims) + " (1 to 8 supported)");
    std::vector<int64_t> ne(nDims);
    for (uint32_t d = 0; d < nDims; ++d) {
      uint64_t n;
      if (Error e = c.read(n, "a tensor dimension"))
        return std::move(e);
      if (n > static_cast<uint64_t>(INT64_MAX))
        return fileError(path, "tensor '" + t.name + "' dimension " +
                                   llvm::Twine(n) + " is out of range");
      ne[d] = static_cast<int64_t>(n);
    }
    // ggml lists the innermost dimension first; llmc shapes are row-major.
    t.shape.assign(ne.rbegin(), ne.rend());
    if (Error e = c.read(type, "a tensor type"))
      return std::move(e);
    std::optional<DType> dtype = ggmlType(type);
    if (!dtype)
      return fileError(path, "tensor '" + t.name + "' has type " +
                                 ggmlTypeName(type) + " (" + llvm::Twine(type) +
                                 "), which llmc does not read (F32, F16, BF16, "
                                 "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, "
                                 "Q3_K, Q4_K, Q5_K, Q6_K are supported)");
    t.dtype = *dtype;
    uint64_t rel;
    if (Error e = c.read(rel, "a tensor offset"))
      return std::move(e);
    std::optional<uint64_t> n = numElements(t.shape);
    std::optional<uint64_t> bytes =
        n ? dtypeStorageBytes(t.dtype, *n) : std::nullopt;
    if (!bytes)
      return fileError(path, "tensor '" + t.name + "' shape " +
                                 formatShape(t.shape) +
                                 " overflows or is not a whole number of " +
                                 dtypeName(t.dtype) + " blocks");
    t.size = *bytes;
    relOffsets.push_back(rel);
    file.tensors.push_back(std::move(t));
  }
  uint64_t alignment = 32;
  if (auto it = file.metadata.find("general.alignment");
      it != file.metadata.end()) {
    const GGUFValue &v = it->second;
    if (!v.isInteger() || v.integer <= 0 || v.integer > (1 << 20) ||
        !llvm::isPowerOf2_64(v.integer))
      return fileError(path, "general.alignment must be a power of two");
    alignment = v.integer;
  }
  uint64_t dataStart = llvm::alignTo(c.pos, alignment);
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    TensorInfo &t = file.tensors[i];
    if (__builtin_add_overflow(dataStart, relOffsets[i], &t.offset) ||
        t.offset > data.size() || t.size > data.size() - t.offset)
      return fileError(path, "tensor '" + t.name + "' data (offset " +
                                 llvm::Twine(relOffsets[i]) + ", " +
                                 llvm::Twine(t.size) +
                                 " bytes) lies beyond the end of the file "
                                 "(truncated?)");
  }
  return std::move(file);
}

llvm::Expected<std::unique_ptr<ModelSource>>
llmc::openGGUF(llvm::StringRef path,
               std::unique_ptr<llvm::MemoryBuffer> buffer) {
  auto parsed = parseGGUF(path, buffer->getBuffer());
  if (!parsed)
    return parsed.takeError();
  GGUFFile &file = *parsed;
  auto source = std::make_unique<ModelSource>();
  source->format = "gguf";
  source->path = path.str();
  unsigned index = source->addFile(std::move(buffer));
  for (TensorInfo &t : file.tensors) {
    t.file = index;
    if (Error e = source->addTensor(std::move(t), path))
      return std::move(e);
  }
  if (Error e = readGGUFModel(file, path, *source))
    return std::move(e);
  if (Error e = source->checkTensors())
    return std::move(e);
  // Converted checkpoints without a vocabulary say "none".
  const GGUFValue *tokenizer = file.find("tokenizer.ggml.model");
  if (tokenizer && !(tokenizer->kind == GGUFValue::String &&
                     tokenizer->str == "none"))
    source->tokenizer = {TokenizerFormat::GGUF, path.str()};
  return std::move(source);
}
