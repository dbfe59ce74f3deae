//===- Compile.cpp - model -> .llmc artifact ------------------------------===//

#include "CodeCache.h"
#include "Compile.h"
#include "Emit.h"
#include "Manifest.h"
#include "Pack.h"
#include "dialects/llm/LLMOps.h"
#include "llmc/runtime.h"
#include "lowering/cpu/CPUPipeline.h"
#include "lowering/vulkan/VulkanPipeline.h"
#include "lowering/cuda/CUDAPipeline.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "passes/Optimize.h"
#include "passes/Passes.h"
#include "runtime/src/ArtifactFormat.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"
#include <chrono>

using namespace llvm;
using namespace llmc;

namespace {
/// Progress lines on stderr, only when it is a terminal (or forced); with
/// `timings`, each step's wall time, printed as a table by finish().
struct Progress {
  bool on;
  bool timings = false;
  uint64_t lastPercent = ~0ull;
  std::vector<std::pair<std::string, double>> steps;
  std::chrono::steady_clock::time_point started =
      std::chrono::steady_clock::now();

  void step(const Twine &what) {
    lap();
    steps.push_back({what.str(), 0.0});
    if (on)
      errs() << "llmc: " << what << "\n";
  }
  /// Closes the current step's time.
  void lap() {
    auto now = std::chrono::steady_clock::now();
    if (!steps.empty())
      steps.back().second += std::chrono::duration<double>(now - started).count();
    started = now;
  }
  void finish() {
    lap();
    if (!timings)
      return;
    double total = 0;
    for (auto &[what, seconds] : steps)
      total += seconds;
    errs() << "llmc: timings (wall, seconds)\n";
    for (auto &[what, seconds] : steps)
      errs() << format("  %8.2f  %5.1f%%  ", seconds,
                       total > 0 ? 100 * seconds / total : 0.0)
             << what << "\n";
    errs() << format("  %8.2f  total\n", total);
  }
  /// A line worth seeing whenever anything is shown (progress or timings).
  void announce(const Twine &line) {
    if (on || timings)
      errs() << line << "\n";
  }
  void percent(StringRef what, uint64_t done, uint64_t total) {
    if (!on || total == 0 || done * 100 / total == lastPercent)
      return;
    lastPercent = done * 100 / total;
    errs() << "\rllmc: " << what << " " << lastPercent << "%";
    if (done == total)
      errs() << "\n";
  }
};

/// Runs `pm`, turning the first error diagnostic into an Error.
Error runPasses(mlir::PassManager &pm, mlir::ModuleOp module,
                StringRef input, StringRef what) {
  std::string firstError;
  mlir::ScopedDiagnosticHandler handler(
      module.getContext(), [&](mlir::Diagnostic &d) {
        if (d.getSeverity() == mlir::DiagnosticSeverity::Error &&
            firstError.empty()) {
          llvm::raw_string_ostream os(firstError);
          os << d.getLocation() << ": " << d;
        }
        return mlir::success();
      });
  if (failed(pm.run(module)))
    return fileError(input, what + " failed: " +
                                (firstError.empty() ? "a pass failed"
                                                    : firstError));
  return Error::success();
}

void pad(raw_ostream &os, uint64_t &at, uint64_t to) {
  static const char zeros[64] = {};
  while (at < to) {
    uint64_t n = std::min<uint64_t>(64, to - at);
    os.write(zeros, n);
    at += n;
  }
}

} // namespace

Error llmc::optimizeModel(mlir::ModuleOp module, const CompileOptions &options,
                          StringRef input) {
  if (options.optLevel < 0 || options.optLevel > 3)
    return fileError(input, "optimization level must be 0..3");
  if (options.decodeSplits < 1 || options.decodeSplits > 64)
    return fileError(input, "--decode-splits must be 1..64");
  if (options.decodeSoftmax != "unified" && options.decodeSoftmax != "online")
    return fileError(input, "--softmax must be 'unified' or 'online', not '" +
                                options.decodeSoftmax + "'");
  if (options.kvCache != "f32" && options.kvCache != "int8")
    return fileError(input, "--kv-cache must be 'f32' or 'int8', not '" +
                                options.kvCache + "'");
  mlir::PassManager pm(module.getContext());
  // Early exits (and calibration's layer observations) go into the
  // imported graph, before fusion changes the layer structure they look for.
  if (options.observe)
    pm.addPass(mlir::llm::createObserveLayers());
  if (!options.skipLayers.empty()) {
    mlir::llm::SkipLayersOptions skip;
    skip.layers.assign(options.skipLayers.begin(), options.skipLayers.end());
    pm.addPass(mlir::llm::createSkipLayers(skip));
  }
  if (!options.earlyExit.empty()) {
    std::unique_ptr<mlir::Pass> exits = mlir::llm::createInsertEarlyExits();
    std::string why;
    if (failed(exits->initializeOptions(
            options.earlyExit, [&](const Twine &msg) {
              why = msg.str();
              return mlir::failure();
            })))
      return fileError(input, "bad --early-exit options '" +
                                  options.earlyExit + "': " + why +
                                  " (layers=1,3 metric=max-prob|entropy|"
                                  "margin threshold=T "
                                  "kv-policy=propagate|recompute)");
    pm.addPass(std::move(exits));
  }
  mlir::llm::QuantizeOptions q;
  q.scheme = options.quant;
  q.asymmetric = options.quantAsymmetric;
  q.clip = options.quantClip;
  q.keep.assign(options.quantKeep.begin(), options.quantKeep.end());
  const mlir::llm::QuantizeOptions *quant =
      options.quant.empty() ? nullptr : &q;
  // -O1: fusion; -O2 and up: also flash attention. Quantization runs inside
  // (after the Q/K/V concatenation, before norm gains are folded) or alone.
  if (options.optLevel >= 1 && options.llmOptimize) {
    mlir::llm::OptimizeOptions opt;
    // Flash attention's tiles are scheduled for the CPU (scf.forall tasks
    // with per-task buffers); the GPU backends take the reference form.
    opt.flash = options.optLevel >= 2 && options.target == "cpu";
    opt.decodeSplits = options.decodeSplits;
    opt.softmax = options.decodeSoftmax;
    mlir::llm::buildLLMOptimizePipeline(pm, opt, quant, options.observe);
  } else {
    if (quant)
      pm.addPass(mlir::llm::createQuantize(q));
    if (options.observe)
      pm.addPass(mlir::llm::createObserve());
  }
  if (options.kvCache == "int8")
    pm.addPass(mlir::llm::createQuantizeKVCache());
  if (!options.placeExperts.empty()) {
    std::unique_ptr<mlir::Pass> place = mlir::llm::createPlaceExperts();
    std::string why;
    if (failed(place->initializeOptions(
            options.placeExperts + " report=true",
            [&](const Twine &msg) {
              why = msg.str();
              return mlir::failure();
            })))
      return fileError(input, "bad --place-experts options '" +
                                  options.placeExperts + "': " + why +
                                  " (tiers=host=4GiB,storage budget=SIZE "
                                  "stats=stats.json)");
    pm.addPass(std::move(place));
  }
  // The GPU kernels do not read GGUF super-blocks: what the packer can
  // decode becomes f16 weights there.
  if (options.target != "cpu")
    pm.addPass(mlir::llm::createDecodeGGUFBlocks());
  if (pm.size() == 0)
    return Error::success();
  return runPasses(pm, module, input, "optimization");
}

/// Refuses a target, or options for it, that compileModel cannot honour.
static Error checkTargetOptions(const CompileOptions &options,
                                StringRef input) {
  bool vulkan = options.target == "vulkan", cuda = options.target == "cuda";
  if (options.target != "cpu" && !vulkan && !cuda)
    return fileError(input, "target '" + options.target +
                                "' is not supported (cpu, vulkan, cuda)");
  if (vulkan || cuda) {
    // What the GPU backends do not lower yet, refused up front.
    auto refuse = [&](StringRef what) {
      return fileError(input, what + " is not supported with --target " +
                                  options.target + " yet");
    };
    if (options.emit != "artifact")
      return refuse("--emit " + options.emit);
    if (!options.quant.empty())
      return refuse("--quant");
    if (options.kvCache != "f32")
      return refuse("--kv-cache " + options.kvCache);
    if (!options.earlyExit.empty())
      return refuse("--early-exit");
    if (!options.placeExperts.empty())
      return refuse("--place-experts");
    if (options.profile)
      return refuse("--profile");
    if (options.observe)
      return refuse("calibration (observation points)");
  }
  if (cuda) {
    std::string error;
    if (mlir::llm::parseCUDAArchs(options.cudaArch, error).empty())
      return fileError(input, "--cuda-arch: " + error);
  }
  if (vulkan) {
    if (mlir::llm::vulkanTargetOptions(options.vulkanTarget).empty())
      return fileError(input, "unknown --vulkan-target '" +
                                  options.vulkanTarget +
                                  "' (baseline, full)");
  }
  return Error::success();
}

/// Bufferizes, vectorizes and parallelizes `module` (lowered to the buffer
/// ABI), emits machine code and links it: a shared object for an artifact,
/// an executable (`linkedModel` with `options.emit` exe) or the object
/// itself (obj).
static Expected<GeneratedCode>
generateCode(mlir::ModuleOp module, const CompileOptions &options,
             const mlir::llm::CPUPipelineOptions &pipelineOptions,
             const mlir::llm::CPUTarget &cpuTarget,
             mlir::llm::LinkedModel *linkedModel, StringRef input,
             StringRef output, Progress &progress) {
  mlir::MLIRContext *ctx = module.getContext();
  bool vulkan = options.target == "vulkan", cuda = options.target == "cuda";
  bool exe = options.emit == "exe", obj = options.emit == "obj";
  progress.step("bufferizing and generating code");
  mlir::PassManager back(ctx);
  if (vulkan) {
    mlir::llm::VulkanPipelineOptions vulkanOptions;
    vulkanOptions.target = options.vulkanTarget;
    if (failed(mlir::llm::buildLLMToVulkanPipeline(back, vulkanOptions,
                                                   /*fromBufferABI=*/true)))
      return fileError(input, "cannot build the Vulkan pipeline");
  } else if (cuda) {
    mlir::llm::CUDAPipelineOptions cudaOptions;
    cudaOptions.archs = options.cudaArch;
    cudaOptions.mma = options.cudaMMA;
    std::string error;
    if (failed(mlir::llm::buildLLMToCUDAPipeline(back, cudaOptions,
                                                 /*fromBufferABI=*/true, error)))
      return fileError(input, "cannot build the CUDA pipeline: " + error);
  } else if (failed(mlir::llm::buildLLMToCPUPipeline(
                 back, pipelineOptions,
                 mlir::llm::CPUPipelineStage::FromBufferABI))) {
    return fileError(input, "cannot build the CPU pipeline");
  }
  GeneratedCode out;
  if (Error e = runPasses(back, module, input, "code generation"))
    return std::move(e);
  module.walk([&](mlir::gpu::BinaryOp) { ++out.kernelCount; });
  progress.step("emitting machine code");
  std::vector<std::string> objects;
  std::string err = mlir::llm::emitCPUObject(
      module, cpuTarget, options.optLevel, linkedModel, objects, out.arch,
      out.features, [&](StringRef phase) { progress.step(phase); },
      [&](unsigned done, unsigned total) {
        progress.percent("machine code: parts compiled", done, total);
      });
  if (!err.empty())
    return fileError(input, err);
  if (obj) {
    out.code = std::move(objects.front()); // one object for a program
    return out;
  }

  // Link the objects into a loadable shared library, or with the runtime
  // into an executable.
  std::vector<std::string> objPaths;
  SmallString<128> linkedPath;
  llvm::scope_exit cleanup([&] {
    for (const std::string &p : objPaths)
      sys::fs::remove(p);
    if (!linkedPath.empty())
      sys::fs::remove(linkedPath);
  });
  for (const std::string &object : objects) {
    SmallString<128> objPath;
    if (std::error_code ec =
            sys::fs::createTemporaryFile("llmc-model", "o", objPath))
      return fileError(objPath, "cannot create: " + ec.message());
    objPaths.push_back(objPath.str().str());
    std::error_code ec;
    raw_fd_ostream os(objPath, ec);
    if (ec)
      return fileError(objPath, ec.message());
    os << object;
  }
  if (std::error_code ec = sys::fs::createTemporaryFile(
          "llmc-model", exe ? "exe" : "so", linkedPath))
    return fileError(linkedPath, "cannot create: " + ec.message());
  if (exe) {
    progress.step("linking the executable");
    if (Error e = linkExecutable(objPaths.front(), linkedPath, options.triple))
      return fileError(output, toString(std::move(e)));
  } else {
    progress.step("linking");
    err = mlir::llm::linkSharedObject(objPaths, linkedPath);
    if (!err.empty())
      return fileError(input, err);
  }
  auto linked = MemoryBuffer::getFile(linkedPath, /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
  if (!linked)
    return fileError(linkedPath, "cannot read the linked code");
  out.code = (*linked)->getBuffer().str();
  return out;
}

Error llmc::compileModel(LoadedModel &model, const CompileOptions &options,
                         StringRef output) {
  Progress progress{options.progress};
  progress.timings = options.timings;
  scope_exit printTimings([&] { progress.finish(); });
  mlir::ModuleOp module = *model.module;
  mlir::MLIRContext *ctx = module.getContext();
  StringRef input = model.source->path;
  bool vulkan = options.target == "vulkan", cuda = options.target == "cuda";
  if (Error e = checkTargetOptions(options, input))
    return e;
  auto model_ = module->getAttrOfType<mlir::DictionaryAttr>("llm.model");
  if (!model_)
    return fileError(input, "module has no llm.model attribute");

  Calibration calibration;
  if (!options.calibration.empty()) {
    if (options.quant != "dgq-a8w4" && options.quant != "gqsa-w4s50" &&
        !StringRef(options.quant).starts_with("dgq-a8w4g"))
      return fileError(options.calibration,
                       "calibration statistics are used by --quant dgq-a8w4 "
                       "and gqsa-w4s50 only (got --quant '" +
                           options.quant + "')");
    if (Error e = loadCalibration(options.calibration, calibration))
      return e;
  }

  // 0. The llm-dialect optimization pipeline.
  if (options.optLevel >= 1 && options.llmOptimize)
    progress.step("optimizing " + input + " (llm-optimize)");
  if (Error e = optimizeModel(module, options, input))
    return e;

  // 1. Tensor-level lowering up to the buffer ABI: fixes the weight layout.
  progress.step("lowering " + input + " to linalg");
  mlir::llm::CPUPipelineOptions pipelineOptions;
  pipelineOptions.profile = options.profile;
  // The GPU backends map one entry function onto kernels: no calls.
  pipelineOptions.outlineLayers =
      options.outlineLayers && options.target == "cpu";
  mlir::llm::CPUTarget cpuTarget{options.triple, options.cpu};
  pipelineOptions.dotIsa = mlir::llm::targetDotIsa(cpuTarget);
  mlir::PassManager front(ctx);
  if (failed(mlir::llm::buildLLMToCPUPipeline(
          front, pipelineOptions, mlir::llm::CPUPipelineStage::ToBufferABI)))
    return fileError(input, "cannot build the CPU pipeline");
  if (Error e = runPasses(front, module, input, "lowering"))
    return e;
  auto entry = module.lookupSymbol<mlir::func::FuncOp>("forward");
  if (!entry || entry.getNumArguments() != 6)
    return fileError(input, "entry 'forward' does not have the llmc-buffer-v1 "
                            "signature (tokens, start_pos, kv, num_logits, "
                            "weights, logits)");
  auto weightTable = entry->getAttrOfType<mlir::ArrayAttr>("llm.weights");
  auto weightBytes = entry->getAttrOfType<mlir::IntegerAttr>("llm.weights_bytes");
  auto kvType = dyn_cast<mlir::MemRefType>(entry.getArgumentTypes()[2]);
  mlir::Attribute profileTable = module->getAttr("llm.profile");
  mlir::Attribute observeTable = module->getAttr("llm.observe");
  mlir::Attribute placement = module->getAttr("llm.expert_placement");
  bool kvInt8 = kvType && kvType.getElementType().isInteger(8);
  if (!weightTable || !weightBytes || !kvType)
    return fileError(input, "buffer ABI left no weight table");
  // Cache slots past the model's layers (early exit's pending state).
  auto layersAttr = model_.getAs<mlir::IntegerAttr>("n_layers");
  int64_t stateLayers =
      layersAttr ? kvType.getShape()[0] - layersAttr.getInt() : 0;

  // 2-3. The code: from the code cache, or generated and linked.
  bool exe = options.emit == "exe", obj = options.emit == "obj";
  if ((exe || obj) && model.tokenizer.formatName == "sentencepiece")
    return fileError(model.tokenizer.name,
                     "sentencepiece tokenizers cannot go into an executable "
                     "(it does not link libsentencepiece); compile from the "
                     "model's tokenizer.json or GGUF file instead");
  // Code linked into a program: an executable's descriptor, or one named
  // after the object for embedding (several models in one program).
  mlir::llm::LinkedModel linkedModel;
  if (exe && options.weights == "external")
    linkedModel.artifact = sys::path::filename(output).str() + ".llmc";
  if (obj) {
    linkedModel.symbol = linkedModelSymbol(output);
    linkedModel.artifact = sys::path::stem(output).str() + ".llmc";
  }
  std::string externalName = linkedModel.artifact;
  // Programs name their artifact inside the code: only artifacts' code is
  // cached.
  bool cacheable = options.codeCache && !exe && !obj;
  std::string key = cacheable ? codeCacheKey(module, options) : "";
  std::optional<GeneratedCode> cached =
      cacheable ? lookupCode(key) : std::nullopt;
  GeneratedCode generated;
  if (cached) {
    progress.step("code cache hit " + key + ": code generation skipped");
    progress.announce("llmc: code cache hit (" + key + ")");
    generated = std::move(*cached);
  } else {
    Expected<GeneratedCode> code = generateCode(
        module, options, pipelineOptions, cpuTarget,
        exe || obj ? &linkedModel : nullptr, input, output, progress);
    if (!code)
      return code.takeError();
    generated = std::move(*code);
    if (cacheable) {
      std::string at = storeCode(key, generated);
      progress.announce(at.empty() ? "llmc: code cache miss (" + key +
                                         "): cannot store the code"
                                   : "llmc: code cache miss (" + key +
                                         "): code stored");
    }
  }
  // An artifact carries its code; a program's code is linked into it.
  bool linkedCode = exe || obj;
  StringRef code = linkedCode ? StringRef() : StringRef(generated.code);

  // 4. Check every weight against the source before writing anything;
  // symbolic transforms are checked here and evaluated while writing.
  std::vector<WeightSlot> slots;
  json::Array tensors;
  if (Error e = planWeights(*model.source, weightTable, input, slots, tensors))
    return e;

  // 5. Layout: header, code, tokenizer, weights, manifest (last, so its size
  // does not move the sections).
  using namespace llmc::artifact;
  uint64_t codeOff = kHeaderSize;
  uint64_t tokOff = alignUp(codeOff + code.size());
  uint64_t wOff =
      alignUp(tokOff + model.tokenizer.bytes.size(), kWeightsAlignment);
  uint64_t wSize = weightBytes.getInt();
  uint64_t mOff = alignUp(wOff + wSize);

  json::Array sections;
  auto section = [&](StringRef name, uint64_t off, uint64_t size) {
    sections.push_back(json::Object{{"name", name}, {"offset", off},
                                    {"size", size}});
  };
  if (!linkedCode)
    section("code.cpu", codeOff, code.size());
  if (!model.tokenizer.bytes.empty())
    section("tokenizer", tokOff, model.tokenizer.bytes.size());
  section("weights", wOff, wSize);

  std::string triple = options.triple.empty()
                           ? sys::getDefaultTargetTriple()
                           : Triple::normalize(options.triple);
  TargetFacts facts{generated.arch, triple, generated.features, linkedCode,
                    generated.kernelCount};
  json::Object manifest{
      {"format", "llmc-artifact"},
      {"version", LLMC_ARTIFACT_VERSION},
      {"generator", "llmc"},
      {"model", toJSON(model_)},
      {"target", targetManifest(options, facts)},
      {"entry_points", entryPointsManifest(kvInt8)},
      {"kv_cache", kvCacheManifest(kvType.getShape(), kvInt8, stateLayers)},
      {"weights", json::Object{{"section", "weights"},
                               {"bytes", wSize},
                               {"alignment", kAlignment},
                               {"tensors", std::move(tensors)}}},
      {"sections", std::move(sections)}};
  if (profileTable)
    manifest["profile"] = toJSON(profileTable);
  if (observeTable)
    manifest["observe"] = toJSON(observeTable);
  if (placement)
    manifest["expert_placement"] = toJSON(placement);
  if (mlir::Attribute sites = module->getAttr("llm.moe_sites"))
    manifest["moe"] = toJSON(sites);
  if (model.tokenizer.format != TokenizerFormat::None)
    manifest["tokenizer"] =
        json::Object{{"format", model.tokenizer.formatName},
                     {"file", model.tokenizer.name},
                     {"section", "tokenizer"},
                     {"bos_id", model.tokenizer.bos},
                     {"eos_id", model.tokenizer.eos}};
  std::string manifestText;
  raw_string_ostream(manifestText) << json::Value(std::move(manifest));

  // 6. Write atomically (temporary file, then rename).
  progress.step("writing " + output);
  auto writeArtifact = [&](raw_ostream &os) -> Error {
    char header[kHeaderSize] = {};
    memcpy(header, kMagic, 8);
    uint32_t version = LLMC_ARTIFACT_VERSION;
    uint64_t mSize = manifestText.size();
    memcpy(header + 8, &version, 4);
    memcpy(header + 16, &mOff, 8);
    memcpy(header + 24, &mSize, 8);
    os.write(header, kHeaderSize);
    uint64_t at = kHeaderSize;
    os << code;
    at += code.size();
    pad(os, at, tokOff);
    os << model.tokenizer.bytes;
    at += model.tokenizer.bytes.size();
    pad(os, at, wOff);
    QuantCache quantCache;
    if (!options.calibration.empty())
      quantCache.calibration = &calibration;
    scope_exit warn([&] {
      for (const std::string &k : quantCache.uncalibrated)
        errs() << "llmc: warning: " << options.calibration
               << " has no statistics for the input of " << k
               << " (calibrated with other -O options?); quantized from the "
                  "weights alone\n";
    });
    uint64_t released = 0;
    for (const WeightSlot &s : slots) {
      pad(os, at, wOff + s.offset);
      std::vector<uint8_t> computed;
      ArrayRef<uint8_t> bytes = slotBytes(*model.source, s, quantCache, computed);
      os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
      at += bytes.size();
      // Every 256 MB packed: the model's pages read so far are released.
      if ((released += bytes.size()) >= (uint64_t(256) << 20)) {
        model.source->releaseMappedPages();
        released = 0;
      }
      progress.percent("packing weights", at - wOff, wSize);
    }
    pad(os, at, mOff);
    os << manifestText;
    return Error::success();
  };
  if (!linkedCode)
    return writeToOutput(output, writeArtifact);
  if (obj) {
    // The object, its header, the artifact and the runtime archive, side
    // by side (docs/deploy.md).
    auto archive = runtimeArchive(options.triple);
    if (!archive)
      return fileError(output, toString(archive.takeError()));
    auto runtime = MemoryBuffer::getFile(*archive);
    if (!runtime)
      return fileError(*archive, "cannot read: " + runtime.getError().message());
    auto sibling = [&](StringRef name) {
      SmallString<128> path = sys::path::parent_path(output);
      sys::path::append(path, name);
      return std::string(path);
    };
    std::string stem = sys::path::stem(output).str();
    if (Error e = writeToOutput(sibling(externalName), writeArtifact))
      return e;
    std::string header = linkedModelHeader(
        linkedModel.symbol, externalName, input, triple,
        options.cpu == "native" && options.triple.empty()
            ? "native (" + sys::getHostCPUName().str() + ")"
            : options.cpu);
    for (auto [path, bytes] :
         {std::pair<std::string, StringRef>{sibling(stem + ".h"), header},
          {sibling("libllmc_runtime.a"), (*runtime)->getBuffer()},
          {output.str(), StringRef(generated.code)}})
      if (Error e = writeToOutput(path, [&](raw_ostream &os) {
            os << bytes;
            return Error::success();
          }))
        return e;
    return Error::success();
  }

  // An executable: the linked image, then (embedded weights) the artifact
  // at a 64 KiB boundary and the trailer that locates it
  // (runtime/src/ArtifactFormat.h), or the artifact in its own file.
  StringRef image = generated.code;
  if (options.weights == "external") {
    SmallString<128> artifactPath = sys::path::parent_path(output);
    sys::path::append(artifactPath, externalName);
    if (Error e = writeToOutput(artifactPath, writeArtifact))
      return e;
  }
  if (Error e = writeToOutput(output, [&](raw_ostream &os) -> Error {
        os << image;
        if (options.weights == "external")
          return Error::success();
        uint64_t at = image.size();
        uint64_t start = alignUp(at, kExeAlignment);
        pad(os, at, start);
        if (Error e = writeArtifact(os))
          return e;
        uint64_t trailer[2] = {start, mOff + manifestText.size()};
        os.write(reinterpret_cast<const char *>(trailer), 16);
        os.write(kExeMagic, 8);
        return Error::success();
      }))
    return e;
  if (std::error_code ec = sys::fs::setPermissions(
          output, sys::fs::all_read | sys::fs::all_exe | sys::fs::owner_write))
    return fileError(output, "cannot make executable: " + ec.message());
  return Error::success();
}
