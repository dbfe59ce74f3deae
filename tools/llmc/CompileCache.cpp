//===- CompileCache.cpp - compiled artifacts cached by content --------------===//
//
// `llmc run MODEL` and `llmc bench` compile on the fly: the artifact is
// cached under $XDG_CACHE_HOME/llmc (or the platform cache directory), keyed
// by this compiler's binary, every model and tokenizer byte, the IR and the
// options, so the same model is compiled once.
//
//===----------------------------------------------------------------------===//

#include "CodeCache.h"
#include "Compile.h"
#include "importers/ModelSource.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/xxhash.h"
#include "mlir/IR/BuiltinOps.h"

using namespace llvm;
using namespace llmc;


Expected<std::string> llmc::compileWithCache(LoadedModel &model,
                                             const CompileOptions &options,
                                             StringRef stem) {
  // Key: this compiler, every model byte, the tokenizer, the IR, the options.
  uint64_t h = compilerHash();
  auto mix = [&](StringRef s) {
    h = xxh3_64bits(arrayRefFromStringRef(s)) ^ (h * 0x9E3779B97F4A7C15ull);
  };
  for (unsigned f = 0; f < model.source->numFiles(); ++f) {
    ArrayRef<uint8_t> b = model.source->fileBytes(f);
    mix(StringRef(reinterpret_cast<const char *>(b.data()), b.size()));
  }
  mix(model.tokenizer.bytes);
  std::string ir;
  raw_string_ostream(ir) << *model.module;
  mix(ir);
  mix(options.target + "|" + options.vulkanTarget + "|" + options.cudaArch +
      "|" + options.cudaMMA + "|" + options.cpu + "|" + std::to_string(options.optLevel) +
      (options.llmOptimize ? "" : "|no-llm-optimize") +
      (options.outlineLayers ? "" : "|no-outline-layers") +
      (options.quant.empty() ? ""
                             : "|quant=" + options.quant +
                                   (options.quantAsymmetric ? "a" : "") +
                                   (options.quantClip ? "c" : "") +
                                   "/" + llvm::join(options.quantKeep, ",")) +
      "|" + std::to_string(options.decodeSplits) + "|" + options.decodeSoftmax +
      (options.profile ? "|profile" : "") +
      (options.observe ? "|observe" : "") +
      (options.kvCache == "f32" ? "" : "|kv=" + options.kvCache) +
      (options.earlyExit.empty() ? "" : "|exit=" + options.earlyExit) +
      (options.placeExperts.empty() ? "" : "|place=" + options.placeExperts) +
      (options.skipLayers.empty()
           ? std::string()
           : "|skip=" + llvm::join(llvm::map_range(options.skipLayers,
                                                   [](int64_t l) {
                                                     return std::to_string(l);
                                                   }),
                                   ",")));
  // The routing statistics a placement reads.
  for (StringRef word : llvm::split(options.placeExperts, ' '))
    if (word.consume_front("stats=")) {
      auto stats = MemoryBuffer::getFile(word);
      mix(stats ? (*stats)->getBuffer() : word);
    }
  if (!options.calibration.empty()) {
    auto stats = MemoryBuffer::getFile(options.calibration);
    mix(stats ? (*stats)->getBuffer() : StringRef(options.calibration));
  }
  std::string dir = cacheDirectory();
  SmallString<256> path(dir);
  sys::path::append(path, stem + "-" + utohexstr(h) + ".llmc");
  if (sys::fs::exists(path))
    return std::string(path);
  if (std::error_code ec = sys::fs::create_directories(dir))
    return fileError(dir, "cannot create the cache directory: " + ec.message());
  if (Error e = compileModel(model, options, path))
    return std::move(e);
  return std::string(path);
}

Expected<std::string> llmc::compileCached(StringRef input,
                                          StringRef tokenizerPath,
                                          const CompileOptions &options) {
  mlir::MLIRContext context;
  LoadedModel model;
  if (Error e = loadModel(context, input, tokenizerPath, model))
    return std::move(e);
  return compileWithCache(model, options, sys::path::stem(input));
}
