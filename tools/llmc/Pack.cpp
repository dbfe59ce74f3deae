//===- Pack.cpp - pack-time weight transforms and calibration -------------===//
//
// What `llmc compile` evaluates while packing the weight section: symbolic
// transforms recorded by --llm-buffer-abi (params, concat, scale_columns,
// quantize; see docs/artifact.md), with llmc calibrate statistics for the
// calibrated quantizers; and the weight table's check against the model
// before anything is written.
//
//===----------------------------------------------------------------------===//

#include "Pack.h"
#include "Manifest.h"
#include "dialects/llm/BlockLayout.h"
#include "importers/Tensor.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>

using namespace llvm;
using namespace llmc;
/// The scheme of a quantize transform.
static QuantSpec quantSpecOf(mlir::DictionaryAttr t) {
  QuantSpec spec;
  spec.bits = t.getAs<mlir::IntegerAttr>("bits").getInt();
  spec.group = t.getAs<mlir::IntegerAttr>("group").getInt();
  spec.asymmetric = t.getAs<mlir::BoolAttr>("asymmetric").getValue();
  auto clip = t.getAs<mlir::BoolAttr>("clip_search");
  spec.clipSearch = clip && clip.getValue();
  return spec;
}

/// The GGUF block format of a quantize transform, if it makes blocks.
static std::optional<BlockFormat> blockFormatOf(mlir::DictionaryAttr t) {
  auto blocks = t.getAs<mlir::StringAttr>("blocks");
  if (!blocks)
    return std::nullopt;
  if (blocks.getValue() == "q8_0")
    return BlockFormat::Q8_0;
  if (blocks.getValue() == "q4_0")
    return BlockFormat::Q4_0;
  return std::nullopt;
}

/// Whether a quantize transform makes GQSA 50 % sparse q4_0 blocks.
static bool isSparseBlocks(mlir::DictionaryAttr t) {
  auto blocks = t.getAs<mlir::StringAttr>("blocks");
  return blocks && blocks.getValue() == "gqsa_q4_0_s50";
}

/// Whether a quantize transform makes DGQ A8W4 rows.
static bool isDGQ(mlir::DictionaryAttr t) {
  auto blocks = t.getAs<mlir::StringAttr>("blocks");
  return blocks && blocks.getValue() == "dgq_a8w4";
}

/// The expression a transform computes, spelled as mlir::llm::weightKey
/// spells it in the IR: how calibration statistics are looked up.
static std::string transformKey(mlir::DictionaryAttr t) {
  if (auto param = t.getAs<mlir::StringAttr>("param"))
    return param.getValue().str();
  std::string key = t.getAs<mlir::StringAttr>("op").getValue().str() + "(";
  for (auto [i, in] : llvm::enumerate(t.getAs<mlir::ArrayAttr>("inputs")))
    key += (i ? "," : "") + transformKey(cast<mlir::DictionaryAttr>(in));
  return key + ")";
}

/// Whether every param a transform reads is a float tensor.
static bool allFloatLeaves(const ModelSource &source, mlir::DictionaryAttr t) {
  if (auto param = t.getAs<mlir::StringAttr>("param")) {
    DType d = source.lookup(param.getValue())->dtype;
    return d == DType::F32 || d == DType::F16 || d == DType::BF16;
  }
  return llvm::all_of(t.getAs<mlir::ArrayAttr>("inputs"), [&](mlir::Attribute a) {
    return allFloatLeaves(source, cast<mlir::DictionaryAttr>(a));
  });
}

/// Bytes of the weight a pack-time transform ({op, inputs, axis}; params as
/// {param = name}) produces, after checking that every input exists and has
/// a type the transform supports.
Expected<uint64_t> llmc::checkTransform(const ModelSource &source,
                                        mlir::DictionaryAttr t) {
  if (auto param = t.getAs<mlir::StringAttr>("param")) {
    const TensorInfo *info = source.lookup(param.getValue());
    if (!info)
      return createStringError("the model has no weight '" +
                               param.getValue() + "'");
    return source.bytes(*info).size();
  }
  StringRef op = t.getAs<mlir::StringAttr>("op").getValue();
  auto inputs = t.getAs<mlir::ArrayAttr>("inputs");
  if (op == "dequantize") {
    // GGUF blocks decoded to f16 while packing.
    auto param = inputs.size() == 1
                     ? cast<mlir::DictionaryAttr>(inputs[0])
                           .getAs<mlir::StringAttr>("param")
                     : mlir::StringAttr();
    const TensorInfo *info = param ? source.lookup(param.getValue()) : nullptr;
    if (!info || !isBlockDType(info->dtype))
      return createStringError("dequantize: not a weight of GGUF blocks");
    return *numElements(info->shape) * 2;
  }
  uint64_t total = 0;
  SmallVector<uint64_t> sizes;
  for (mlir::Attribute in : inputs) {
    Expected<uint64_t> size =
        checkTransform(source, cast<mlir::DictionaryAttr>(in));
    if (!size)
      return size.takeError();
    sizes.push_back(*size);
    total += *size;
  }
  if (op == "concat")
    return total;
  if (op == "transpose") {
    auto rows = t.getAs<mlir::IntegerAttr>("rows"), cols = t.getAs<mlir::IntegerAttr>("cols");
    if (sizes.size() != 1 || !rows || !cols || rows.getInt() <= 0 ||
        cols.getInt() <= 0 ||
        sizes[0] % uint64_t(rows.getInt() * cols.getInt()) != 0)
      return createStringError("transpose: malformed transform");
    return sizes[0];
  }
  if (op == "quantize") {
    QuantSpec spec = quantSpecOf(t);
    auto rows = t.getAs<mlir::IntegerAttr>("rows").getInt();
    auto cols = t.getAs<mlir::IntegerAttr>("cols").getInt();
    if (sizes.size() != 1 || sizes[0] == 0 || rows * cols == 0 ||
        (spec.group && cols % spec.group))
      return createStringError("quantize: malformed transform");
    if (!allFloatLeaves(source, t))
      return createStringError("quantize needs float weights");
    if (std::optional<BlockFormat> f = blockFormatOf(t)) {
      if (cols % 32)
        return createStringError("quantize: malformed transform");
      return uint64_t(rows * cols / 32 * blockBytes(*f));
    }
    if (isSparseBlocks(t)) {
      if (cols % 64 || cols / 32 > 65536)
        return createStringError("quantize: malformed transform");
      return uint64_t(rows * (cols / 64) * 20);
    }
    if (isDGQ(t)) {
      int64_t result = t.getAs<mlir::IntegerAttr>("result").getInt();
      if (spec.group < 32 || spec.group % 32 || cols % spec.group)
        return createStringError("quantize: malformed transform");
      return result == 0 ? uint64_t(rows * dgqRowBytes(cols, spec.group))
                         : uint64_t(cols * 4);
    }
    int64_t result = t.getAs<mlir::IntegerAttr>("result").getInt();
    if (result == 0)
      return uint64_t(spec.packedBytes(rows, cols));
    return uint64_t(rows * spec.groupsPerRow(cols) * 4);
  }
  if (op == "scale_columns") {
    for (mlir::Attribute in : inputs)
      if (auto p = cast<mlir::DictionaryAttr>(in).getAs<mlir::StringAttr>("param"))
        if (source.lookup(p.getValue())->dtype != DType::F32)
          return createStringError("scale_columns needs f32 weights, '" +
                                   p.getValue() + "' is " +
                                   dtypeName(source.lookup(p.getValue())->dtype));
    if (sizes.size() != 2 || sizes[1] == 0 || sizes[0] % sizes[1] != 0)
      return createStringError("scale_columns: the scale does not divide "
                               "the weight into rows");
    return sizes[0];
  }
  return createStringError("unknown weight transform '" + op + "'");
}

/// A row-major [rows, cols] matrix of any element type as [cols, rows].
template <typename T>
static std::vector<T> transposed(const std::vector<T> &in, int64_t rows,
                                 int64_t cols) {
  size_t elem = in.size() / size_t(rows * cols); // bytes: the element size
  std::vector<T> out(in.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::copy_n(&in[(r * cols + c) * elem], elem, &out[(c * rows + r) * elem]);
  return out;
}

/// The values of a float-valued transform (params of any float dtype,
/// concat, scale_columns) as f32.
static std::vector<float> evaluateF32(const ModelSource &source,
                               mlir::DictionaryAttr t) {
  if (auto param = t.getAs<mlir::StringAttr>("param"))
    return source.readF32(*source.lookup(param.getValue()));
  StringRef op = t.getAs<mlir::StringAttr>("op").getValue();
  auto inputs = t.getAs<mlir::ArrayAttr>("inputs");
  std::vector<float> out =
      evaluateF32(source, cast<mlir::DictionaryAttr>(inputs[0]));
  if (op == "dequantize")
    return out; // the param's blocks, decoded
  if (op == "transpose")
    return transposed(out, t.getAs<mlir::IntegerAttr>("rows").getInt(),
                      t.getAs<mlir::IntegerAttr>("cols").getInt());
  if (op == "concat") {
    for (mlir::Attribute in : inputs.getValue().drop_front()) {
      std::vector<float> more =
          evaluateF32(source, cast<mlir::DictionaryAttr>(in));
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  }
  // scale_columns: w[o, i] *= g[i].
  std::vector<float> g =
      evaluateF32(source, cast<mlir::DictionaryAttr>(inputs[1]));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] *= g[i % g.size()];
  return out;
}

/// The bytes of f32 values.
static std::vector<uint8_t> floatBytes(const std::vector<float> &v) {
  const auto *p = reinterpret_cast<const uint8_t *>(v.data());
  return std::vector<uint8_t>(p, p + v.size() * sizeof(float));
}


/// Reads llmc calibrate's JSON (format llmc-calibration-v1).
Error llmc::loadCalibration(StringRef path, Calibration &out) {
  auto buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return fileError(path, "cannot read: " + buffer.getError().message());
  Expected<json::Value> doc = json::parse((*buffer)->getBuffer());
  if (!doc)
    return fileError(path, "is not JSON: " + toString(doc.takeError()));
  const json::Object *o = doc->getAsObject();
  if (!o || o->getString("format") != std::optional<StringRef>("llmc-calibration-v1"))
    return fileError(path, "is not llmc calibrate output "
                           "(format llmc-calibration-v1)");
  const json::Array *sites = o->getArray("sites");
  if (!sites)
    return fileError(path, "has no 'sites'");
  auto floats = [](const json::Array *a, std::vector<float> &v) {
    if (!a)
      return false;
    for (const json::Value &x : *a) {
      std::optional<double> d = x.getAsNumber();
      if (!d || !std::isfinite(*d) || *d < 0)
        return false;
      v.push_back(float(*d));
    }
    return true;
  };
  for (const json::Value &sv : *sites) {
    const json::Object *site = sv.getAsObject();
    CalibrationSite cs;
    const json::Array *keys = site ? site->getArray("keys") : nullptr;
    if (!keys || !floats(site->getArray("mean_square"), cs.meanSquare) ||
        !floats(site->getArray("p99"), cs.range) ||
        cs.meanSquare.size() != cs.range.size())
      return fileError(path, "has a malformed site (keys, mean_square and "
                             "p99 of one length each)");
    for (const json::Value &k : *keys)
      if (std::optional<StringRef> key = k.getAsString())
        out.sites[key->str()] = cs;
  }
  return Error::success();
}


/// The bytes of a transform checked by checkTransform.
std::vector<uint8_t> llmc::evaluateTransform(const ModelSource &source,
                                             mlir::DictionaryAttr t,
                                             QuantCache &cache) {
  if (t.getAs<mlir::StringAttr>("op") &&
      t.getAs<mlir::StringAttr>("op").getValue() == "quantize") {
    QuantSpec spec = quantSpecOf(t);
    auto rows = t.getAs<mlir::IntegerAttr>("rows").getInt();
    auto cols = t.getAs<mlir::IntegerAttr>("cols").getInt();
    auto input = cast<mlir::DictionaryAttr>(t.getAs<mlir::ArrayAttr>("inputs")[0]);
    // Calibration statistics of the weight's input, when given and found.
    const CalibrationSite *stats = nullptr;
    if (cache.calibration) {
      std::string k = transformKey(input);
      auto it = cache.calibration->sites.find(k);
      if (it != cache.calibration->sites.end() &&
          int64_t(it->second.meanSquare.size()) == cols)
        stats = &it->second;
      else if (isDGQ(t) || isSparseBlocks(t))
        if (!llvm::is_contained(cache.uncalibrated, k))
          cache.uncalibrated.push_back(k);
    }
    std::optional<BlockFormat> f = blockFormatOf(t);
    if (f || isSparseBlocks(t)) {
      std::vector<float> w = evaluateF32(source, input);
      return f ? quantizeBlocks(w.data(), rows * cols, *f)
               : quantizeSparseBlocks(w.data(), rows, cols,
                                      stats ? stats->meanSquare.data() : nullptr);
    }
    if (isDGQ(t)) {
      std::string key;
      llvm::raw_string_ostream(key) << t.get("inputs") << "dgq/" << spec.group;
      if (key != cache.key) {
        std::vector<float> w = evaluateF32(source, input);
        cache.dgq = quantizeDGQ(w.data(), rows, cols, spec.group,
                                stats ? stats->meanSquare.data() : nullptr,
                                stats ? stats->range.data() : nullptr);
        cache.key = key;
      }
      if (t.getAs<mlir::IntegerAttr>("result").getInt() == 0)
        return cache.dgq.rows;
      return floatBytes(cache.dgq.smooth);
    }
    std::string key;
    llvm::raw_string_ostream(key)
        << t.get("inputs") << spec.bits << "/" << spec.group << "/"
        << spec.asymmetric << "/" << spec.clipSearch << "/" << rows << "x"
        << cols;
    if (key != cache.key) {
      std::vector<float> w = evaluateF32(source, input);
      cache.matrix = quantizeMatrix(w.data(), rows, cols, spec);
      cache.key = key;
    }
    int64_t result = t.getAs<mlir::IntegerAttr>("result").getInt();
    if (result == 0)
      return cache.matrix.packed;
    return floatBytes(result == 1 ? cache.matrix.scales : cache.matrix.zeros);
  }
  if (auto param = t.getAs<mlir::StringAttr>("param")) {
    ArrayRef<uint8_t> b = source.bytes(*source.lookup(param.getValue()));
    return std::vector<uint8_t>(b.begin(), b.end());
  }
  StringRef op = t.getAs<mlir::StringAttr>("op").getValue();
  if (op == "dequantize") {
    std::vector<float> w = evaluateF32(source, t);
    std::vector<uint8_t> out(w.size() * 2);
    for (size_t i = 0; i < w.size(); ++i) {
      uint16_t h = floatToHalf(w[i]);
      out[2 * i] = uint8_t(h);
      out[2 * i + 1] = uint8_t(h >> 8);
    }
    return out;
  }
  // Transpose moves whole elements, whatever their type.
  if (op == "transpose")
    return transposed(
        evaluateTransform(
            source, cast<mlir::DictionaryAttr>(t.getAs<mlir::ArrayAttr>("inputs")[0]),
            cache),
        t.getAs<mlir::IntegerAttr>("rows").getInt(),
        t.getAs<mlir::IntegerAttr>("cols").getInt());
  // scale_columns (f32 only, checked): computed as floats.
  if (op != "concat")
    return floatBytes(evaluateF32(source, t));
  // Row concatenation: the inputs' bytes one after the other (any dtype).
  std::vector<uint8_t> out;
  for (mlir::Attribute in : t.getAs<mlir::ArrayAttr>("inputs")) {
    std::vector<uint8_t> more =
        evaluateTransform(source, cast<mlir::DictionaryAttr>(in), cache);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

Error llmc::planWeights(const ModelSource &source, mlir::ArrayAttr weightTable,
                        StringRef input, std::vector<WeightSlot> &slots,
                        json::Array &tensors) {
  for (mlir::Attribute a : weightTable) {
    auto d = cast<mlir::DictionaryAttr>(a);
    StringRef name = d.getAs<mlir::StringAttr>("name").getValue();
    uint64_t off = d.getAs<mlir::IntegerAttr>("offset").getInt();
    uint64_t bytes = d.getAs<mlir::IntegerAttr>("bytes").getInt();
    StringRef dtype = d.getAs<mlir::StringAttr>("dtype").getValue();
    std::optional<BlockFormat> rows8;
    int64_t tile = 0, rows = 0, cols = 0;
    if (auto layout = d.getAs<mlir::StringAttr>("layout")) {
      auto shape = d.getAs<mlir::ArrayAttr>("shape");
      tile = blockLayoutTile(layout.getValue());
      rows8 = blockFormatNamed(dtype.str());
      if (!tile || shape.size() < 2 || shape.size() > 3 || !rows8)
        return fileError(input, "weight '" + name + "' has layout '" +
                                    layout.getValue() +
                                    "' (only q8_0 / q4_0 / q2_k .. q6_k / q5_0 / "
                                    "q5_1 / iq4_nl rows8 / rows64, 2-D or "
                                    "stacked experts)");
      // Stacked experts [E, rows, cols] interleave as E * rows rows.
      rows = 1;
      for (mlir::Attribute dim : shape.getValue().drop_back())
        rows *= cast<mlir::IntegerAttr>(dim).getInt();
      cols = cast<mlir::IntegerAttr>(shape[shape.size() - 1]).getInt();
      int64_t n = blockElements(*rows8);
      if (rows % (8 * tile) || cols % n ||
          uint64_t(rows * cols / n * blockBytes(*rows8)) != bytes)
        return fileError(input, "weight '" + name +
                                    "' has a block layout that does not "
                                    "match its shape");
    }
    if (auto transform = d.getAs<mlir::DictionaryAttr>("transform")) {
      Expected<uint64_t> size = checkTransform(source, transform);
      if (!size)
        return fileError(input, "weight '" + name + "': " +
                                    toString(size.takeError()));
      if (*size != bytes)
        return fileError(input, "weight '" + name + "' is " + Twine(*size) +
                                    " bytes computed but " + Twine(bytes) +
                                    " in the IR");
      slots.push_back({nullptr, transform, off, bytes, rows8, tile, rows, cols});
      tensors.push_back(toJSON(a));
      continue;
    }
    const TensorInfo *t = source.lookup(name);
    if (!t)
      return fileError(input, "the IR uses weight '" + name +
                                  "' which the model does not have");
    if (dtypeName(t->dtype).lower() != dtype.lower() ||
        source.bytes(*t).size() != bytes)
      return fileError(input, "weight '" + name + "' is " +
                                  dtypeName(t->dtype) + " " +
                                  formatShape(t->shape) + " in the model but " +
                                  dtype + " (" + Twine(bytes) +
                                  " bytes) in the IR");
    slots.push_back({t, {}, off, bytes, rows8, tile, rows, cols});
    tensors.push_back(toJSON(a));
  }
  llvm::sort(slots, [](const WeightSlot &a, const WeightSlot &b) {
    return a.offset < b.offset;
  });
  return Error::success();
}

ArrayRef<uint8_t> llmc::slotBytes(const ModelSource &source,
                                  const WeightSlot &s, QuantCache &cache,
                                  std::vector<uint8_t> &storage) {
  ArrayRef<uint8_t> bytes;
  if (s.tensor) {
    bytes = source.bytes(*s.tensor);
  } else {
    storage = evaluateTransform(source, s.transform, cache);
    bytes = storage;
  }
  if (s.rows8) {
    storage = interleaveBlockRows(bytes.data(), s.rows, s.cols, *s.rows8,
                                  s.tile);
    bytes = storage;
  }
  return bytes;
}
