//===- Api.cpp - what the Python module calls in the compiler -------------===//

#include "Api.h"
#include "importers/BuildIR.h"
#include "importers/ModelSource.h"
#include "importers/Tokenizer.h"
#include "lowering/cpu/CPUPipeline.h"
#include "passes/Optimize.h"
#include "passes/Passes.h"
#include "tools/llmc/Compile.h"
#include "tools/llmc/HostBench.h"
#include "tools/llmc/Roofline.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <mutex>

using namespace llvm;

namespace llmc::api {

struct Module::Impl {
  std::shared_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

Module::Module(std::unique_ptr<Impl> impl) : p(std::move(impl)) {}
Module::~Module() {
  // The module must die before the context it lives in.
  p->module = nullptr;
}

std::string Module::str() const {
  std::string s;
  raw_string_ostream os(s);
  p->module->print(os);
  return s;
}

namespace {
/// "file:line:col" for file locations (as mlir-opt prints them), else the
/// location as MLIR prints it.
void printLoc(raw_ostream &os, mlir::Location loc) {
  if (auto fl = dyn_cast<mlir::FileLineColLoc>(loc))
    os << fl.getFilename().getValue() << ":" << fl.getLine() << ":"
       << fl.getColumn();
  else
    os << loc;
}

/// Every error diagnostic of a context while alive, "loc: message" each.
struct DiagnosticCollector {
  std::string text;
  mlir::ScopedDiagnosticHandler handler;
  explicit DiagnosticCollector(mlir::MLIRContext *ctx)
      : handler(ctx, [this](mlir::Diagnostic &d) {
          if (d.getSeverity() != mlir::DiagnosticSeverity::Error)
            return mlir::success();
          raw_string_ostream os(text);
          if (!text.empty())
            os << "\n";
          printLoc(os, d.getLocation());
          os << ": error: " << d;
          for (mlir::Diagnostic &note : d.getNotes()) {
            os << "\n";
            printLoc(os, note.getLocation());
            os << ": note: " << note;
          }
          return mlir::success();
        }) {}
};

std::shared_ptr<mlir::MLIRContext> newContext() {
  static std::once_flag registered;
  std::call_once(registered, [] {
    mlir::registerAllPasses();
    mlir::llm::registerLLMPasses();
    mlir::llm::registerLLMToCPUPipeline();
    mlir::llm::registerLLMOptimizePipeline();
  });
  auto ctx = std::make_shared<mlir::MLIRContext>(
      mlir::MLIRContext::Threading::DISABLED);
  prepareContext(*ctx);
  ctx->loadAllAvailableDialects();
  return ctx;
}

std::string message(Error e, const std::string &diagnostics = "") {
  std::string m = toString(std::move(e));
  if (!diagnostics.empty() && m.find(diagnostics) == std::string::npos)
    m += "\n" + diagnostics;
  return m;
}

std::unique_ptr<Module> wrap(std::shared_ptr<mlir::MLIRContext> ctx,
                             mlir::OwningOpRef<mlir::ModuleOp> module) {
  auto impl = std::make_unique<Module::Impl>();
  impl->context = std::move(ctx);
  impl->module = std::move(module);
  return std::make_unique<Module>(std::move(impl));
}

CompileOptions toOptions(const CompileArgs &a) {
  CompileOptions o;
  o.target = a.target;
  o.cpu = a.cpu;
  o.optLevel = a.optLevel;
  o.llmOptimize = a.llmOptimize;
  o.decodeSplits = a.decodeSplits;
  o.decodeSoftmax = a.softmax;
  o.progress = a.progress;
  o.quant = a.quant;
  o.quantAsymmetric = a.quantAsymmetric;
  o.quantClip = a.quantClip;
  o.quantKeep = a.quantKeep;
  o.calibration = a.calibration;
  o.kvCache = a.kvCache;
  o.earlyExit = a.earlyExit;
  o.skipLayers = a.skipLayers;
  o.cudaArch = a.cudaArch;
  return o;
}

bool finishCompile(LoadedModel &model, const CompileArgs &args,
                   const std::string &out, StringRef stem,
                   std::string &artifactPath, std::string &error,
                   DiagnosticCollector &diags) {
  CompileOptions options = toOptions(args);
  if (out.empty()) {
    auto path = compileWithCache(model, options, stem);
    if (!path) {
      error = message(path.takeError(), diags.text);
      return false;
    }
    artifactPath = *path;
    return true;
  }
  if (Error e = compileModel(model, options, out)) {
    error = message(std::move(e), diags.text);
    return false;
  }
  artifactPath = out;
  return true;
}

bool roofline(mlir::ModuleOp module, StringRef input, const RooflineArgs &args,
              std::vector<RooflineRow> &rows, std::string &error) {
  DiagnosticCollector diags(module.getContext());
  CompileOptions copts;
  copts.optLevel = args.optLevel;
  if (Error e = optimizeModel(module, copts, input)) {
    error = message(std::move(e), diags.text);
    return false;
  }
  mlir::llm::RooflineOptions options;
  options.hardware = args.hardware;
  if (args.hardware == "host") {
    auto file = hostHardwareFile(false);
    if (!file) {
      error = toString(file.takeError());
      return false;
    }
    options.hardwareFile = *file;
  }
  options.phase = args.phase;
  options.batch = args.batch;
  options.seq = args.seq;
  options.kvLen = args.kvLen;
  options.logitsRows = args.logitsRows;
  auto analyzed = analyzeRoofline(module, options, input);
  if (!analyzed) {
    error = message(analyzed.takeError(), diags.text);
    return false;
  }
  rows.clear();
  for (const llmc::RooflineRow &r : *analyzed)
    rows.push_back({r.op, r.weight, r.bound, r.layer, r.flops, r.weightBytes,
                    r.actLoadBytes, r.actStoreBytes, r.kvLoadBytes,
                    r.kvStoreBytes, r.intensity, r.attainableFlops, r.timeS});
  return true;
}
} // namespace

std::unique_ptr<Module> importModel(const std::string &path,
                                    const std::string &tokenizer,
                                    std::string &error) {
  auto source = openModel(path, tokenizer);
  if (!source) {
    error = toString(source.takeError());
    return nullptr;
  }
  auto ctx = newContext();
  DiagnosticCollector diags(ctx.get());
  mlir::OwningOpRef<mlir::ModuleOp> module = buildModule(*ctx, **source);
  if (!module || failed(mlir::verify(*module))) {
    error = path + ": the imported IR does not verify (an importer bug)\n" +
            diags.text;
    return nullptr;
  }
  return wrap(std::move(ctx), std::move(module));
}

std::unique_ptr<Module> parseModule(const std::string &text,
                                    std::string &error) {
  auto ctx = newContext();
  DiagnosticCollector diags(ctx.get());
  mlir::ParserConfig config(ctx.get());
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(text, config, "<text>");
  if (!module) {
    error = "the IR text could not be parsed\n" + diags.text;
    return nullptr;
  }
  if (failed(mlir::verify(*module))) {
    error = "the IR does not verify\n" + diags.text;
    return nullptr;
  }
  return wrap(std::move(ctx), std::move(module));
}

std::unique_ptr<Module> runPipeline(const Module &module,
                                    const std::string &pipeline,
                                    std::string &error) {
  const Module::Impl &in = module.impl();
  mlir::MLIRContext *ctx = in.context.get();
  DiagnosticCollector diags(ctx);
  std::string parseErrors;
  raw_string_ostream parseOs(parseErrors);
  mlir::PassManager pm(ctx);
  // "builtin.module(a,b)" and "a,b" both mean: run a, b on the module.
  StringRef text = StringRef(pipeline).trim();
  if (text.consume_front("builtin.module(") && !text.consume_back(")")) {
    error = "invalid pass pipeline '" + pipeline + "': unbalanced parentheses";
    return nullptr;
  }
  if (failed(mlir::parsePassPipeline(text, pm, parseOs))) {
    error = "invalid pass pipeline '" + pipeline + "': " + parseErrors;
    return nullptr;
  }
  mlir::OwningOpRef<mlir::ModuleOp> copy = in.module.get().clone();
  if (failed(pm.run(*copy))) {
    error = "pass pipeline '" + pipeline + "' failed" +
            (diags.text.empty() ? std::string() : ":\n" + diags.text);
    return nullptr;
  }
  return wrap(in.context, std::move(copy));
}

bool compilePath(const std::string &input, const CompileArgs &args,
                 const std::string &out, std::string &artifactPath,
                 std::string &error) {
  auto ctx = newContext();
  DiagnosticCollector diags(ctx.get());
  LoadedModel model;
  if (Error e = loadModel(*ctx, input, args.tokenizer, model)) {
    error = message(std::move(e), diags.text);
    return false;
  }
  return finishCompile(model, args, out, sys::path::stem(input), artifactPath,
                       error, diags);
}

bool compileModule(const Module &module, const CompileArgs &args,
                   const std::string &out, std::string &artifactPath,
                   std::string &error) {
  const Module::Impl &in = module.impl();
  DiagnosticCollector diags(in.context.get());
  LoadedModel model;
  if (Error e = loadModule(in.module.get().clone(), "<module>", args.tokenizer,
                           model)) {
    error = message(std::move(e), diags.text);
    return false;
  }
  return finishCompile(model, args, out, "module", artifactPath, error, diags);
}

bool rooflinePath(const std::string &input, const RooflineArgs &args,
                  std::vector<RooflineRow> &rows, std::string &error) {
  auto ctx = newContext();
  DiagnosticCollector diags(ctx.get());
  auto module = loadAnalysisModule(*ctx, input);
  if (!module) {
    error = message(module.takeError(), diags.text);
    return false;
  }
  return roofline(**module, input, args, rows, error);
}

bool rooflineModule(const Module &module, const RooflineArgs &args,
                    std::vector<RooflineRow> &rows, std::string &error) {
  mlir::OwningOpRef<mlir::ModuleOp> copy = module.impl().module.get().clone();
  return roofline(*copy, "<module>", args, rows, error);
}

struct Tokenizer::Impl {
  std::unique_ptr<llmc::Tokenizer> tok;
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : p(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::vector<int32_t> Tokenizer::encode(const std::string &text,
                                       bool addBos) const {
  return p->tok->encode(text, addBos);
}
std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  return p->tok->decode(ids);
}
std::string Tokenizer::decodeToken(int32_t prev, int32_t id) const {
  return p->tok->decodeToken(prev, id);
}
int64_t Tokenizer::vocabSize() const { return p->tok->vocabSize(); }
int32_t Tokenizer::bos() const { return p->tok->bos(); }
int32_t Tokenizer::eos() const { return p->tok->eos(); }

std::unique_ptr<Tokenizer> parseTokenizer(const std::string &format,
                                          const std::string &path,
                                          const std::string &bytes,
                                          std::string &error) {
  if (format.empty() || format == "none") {
    error = path + ": carries no tokenizer (recompile with a tokenizer)";
    return nullptr;
  }
  auto tok = llmc::tokenizer::parseSection(format, path, bytes, error);
  if (!tok)
    return nullptr;
  auto impl = std::make_unique<Tokenizer::Impl>();
  impl->tok = std::move(tok);
  return std::make_unique<Tokenizer>(std::move(impl));
}

} // namespace llmc::api
