//===- Pack.h - pack-time weight transforms and calibration -----*- C++ -*-===//

#ifndef LLMC_TOOLS_LLMC_PACK_H
#define LLMC_TOOLS_LLMC_PACK_H

#include "importers/ModelSource.h"
#include "importers/Quantize.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include <optional>
#include <map>
#include <string>
#include <vector>

namespace llmc {

/// Statistics of one observed input (llmc calibrate): per feature E[x^2]
/// and the high percentile of |x| DGQ's smoothing clips at.
struct CalibrationSite {
  std::vector<float> meanSquare, range;
};
/// llmc calibrate's output, by weight key.
struct Calibration {
  std::map<std::string, CalibrationSite> sites;
};

/// Reads llmc calibrate's JSON (format llmc-calibration-v1).
llvm::Error loadCalibration(llvm::StringRef path, Calibration &out);

/// The last quantized weight: a quantize transform's results (integers,
/// scales, zero points) are packed one after the other.
struct QuantCache {
  std::string key;
  QuantizedMatrix matrix;
  DGQMatrix dgq;
  const Calibration *calibration = nullptr;
  /// Weights quantized without statistics although some were given.
  std::vector<std::string> uncalibrated;
};

/// Bytes of the weight a pack-time transform ({op, inputs, axis}; params as
/// {param = name}) produces, after checking that every input exists and has
/// a type the transform supports.
llvm::Expected<uint64_t> checkTransform(const ModelSource &source,
                                        mlir::DictionaryAttr t);

/// The bytes of a transform checked by checkTransform.
std::vector<uint8_t> evaluateTransform(const ModelSource &source,
                                       mlir::DictionaryAttr t,
                                       QuantCache &cache);

/// One weight of the section: a tensor of the model as stored, or a
/// transform evaluated while packing; both possibly interleaved by 8 rows.
struct WeightSlot {
  const TensorInfo *tensor; ///< a plain weight, or null for a transform
  mlir::DictionaryAttr transform;
  uint64_t offset, bytes;
  /// Blocks interleaved by 8 rows (layout "rows8" / "rows64"): the
  /// format, groups per tile and shape.
  std::optional<BlockFormat> rows8;
  int64_t tile = 0, rows = 0, cols = 0;
};

/// Checks every entry of a buffer-ABI weight table (`llm.weights`) against
/// `source` (names, types, sizes, layouts, transforms) and returns the
/// slots by offset and the manifest's tensor list; errors name `input`.
llvm::Error planWeights(const ModelSource &source, mlir::ArrayAttr weightTable,
                        llvm::StringRef input, std::vector<WeightSlot> &slots,
                        llvm::json::Array &tensors);

/// The bytes a slot writes (`storage` holds them when computed).
llvm::ArrayRef<uint8_t> slotBytes(const ModelSource &source,
                                  const WeightSlot &s, QuantCache &cache,
                                  std::vector<uint8_t> &storage);

} // namespace llmc

#endif
