//===- LoadModel.cpp - a model, its weights and tokenizer, ready to compile ===//
//
// An llm-dialect .mlir file (weights and tokenizer from its llm.model /
// llm.tokenizer paths) or a model path (imported by importers/), checked
// and with its tokenizer read (Compile.h: loadModel, loadModule).
//
//===----------------------------------------------------------------------===//

#include "Compile.h"
#include "dialects/llm/LLMOps.h"
#include "importers/BuildIR.h"
#include "importers/Tokenizer.h"
#include "lowering/cpu/CPUPipeline.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace llmc;

namespace {
Error readTokenizer(const ModelSource &source, TokenizerPayload &out) {
  if (source.tokenizer.format == TokenizerFormat::None)
    return Error::success();
  auto buffer = readFile(source.tokenizer.path);
  if (!buffer)
    return buffer.takeError();
  auto tok = parseTokenizer(source.tokenizer.format, source.tokenizer.path,
                            (*buffer)->getBuffer());
  if (!tok)
    return tok.takeError();
  out.format = source.tokenizer.format;
  out.name = sys::path::filename(source.tokenizer.path).str();
  if (Error e = tokenizerSection(source.tokenizer.format,
                                 source.tokenizer.path, (*buffer)->getBuffer(),
                                 out.formatName, out.bytes))
    return e;
  out.bos = (*tok)->bos();
  out.eos = (*tok)->eos();
  return Error::success();
}
} // namespace

void llmc::prepareContext(mlir::MLIRContext &context) {
  mlir::DialectRegistry registry;
  mlir::llm::registerCPUPipelineDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadDialect<mlir::llm::LLMDialect, mlir::func::FuncDialect,
                      mlir::tensor::TensorDialect, mlir::arith::ArithDialect>();
}

/// Checks what every loaded model needs and reads its tokenizer.
static Error finishLoad(StringRef input, LoadedModel &out) {
  if (!out.source->hasWeights())
    return fileError(out.source->path,
                     "has no weights (a bare config.json describes shapes "
                     "only); compile needs the model's weight files");
  if (failed(mlir::verify(*out.module)))
    return fileError(input, "the llm IR does not verify (see above)");
  return readTokenizer(*out.source, out.tokenizer);
}

Error llmc::loadModule(mlir::OwningOpRef<mlir::ModuleOp> module,
                       StringRef name, StringRef tokenizerPath,
                       LoadedModel &out) {
  out.module = std::move(module);
  auto model = out.module->getOperation()->getAttrOfType<mlir::DictionaryAttr>(
      "llm.model");
  auto path = model ? model.getAs<mlir::StringAttr>("path") : nullptr;
  if (!path)
    return fileError(name, "has no llm.model {path = ...} attribute naming "
                           "the weights to pack");
  std::string tok = tokenizerPath.str();
  if (tok.empty())
    if (auto t = out.module->getOperation()->getAttrOfType<mlir::DictionaryAttr>(
            "llm.tokenizer"))
      if (auto p = t.getAs<mlir::StringAttr>("path"))
        tok = p.getValue().str();
  auto source = openModel(path.getValue(), tok);
  if (!source)
    return source.takeError();
  out.source = std::move(*source);
  return finishLoad(name, out);
}

Expected<mlir::OwningOpRef<mlir::ModuleOp>>
llmc::parseModuleFile(mlir::MLIRContext &context, StringRef input) {
  prepareContext(context);
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(input, &context);
  if (!module)
    return fileError(input, "could not be parsed (see above)");
  return std::move(module);
}

Error llmc::loadModel(mlir::MLIRContext &context, StringRef input,
                      StringRef tokenizerPath, LoadedModel &out) {
  if (sys::path::extension(input) == ".mlir") {
    auto module = parseModuleFile(context, input);
    if (!module)
      return module.takeError();
    return loadModule(std::move(*module), input, tokenizerPath, out);
  }
  prepareContext(context);
  auto source = openModel(input, tokenizerPath);
  if (!source)
    return source.takeError();
  out.source = std::move(*source);
  out.module = buildModule(context, *out.source);
  return finishLoad(input, out);
}

