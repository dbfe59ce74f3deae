//===- llmc.cpp - the llmc driver -----------------------------------------===//
//
//   llmc import <model> [--tokenizer T] -o model.mlir
//   llmc tokenize --tokenizer <path> "text"   |   --decode ID...
//   llmc inspect <model> [--dump DIR]
//
// Every failure prints one "llmc: error: <file>: <problem>" line and exits
// non-zero; outputs are written to a temporary file and renamed, so a
// failed run never leaves a partial file behind.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "importers/BuildIR.h"
#include "importers/ModelSource.h"
#include "importers/Tokenizer.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;
using namespace llmc;

static cl::SubCommand importCmd("import", "Import a model into the llm dialect");
static cl::SubCommand tokenizeCmd("tokenize", "Encode text or decode ids");
static cl::SubCommand inspectCmd("inspect",
                                 "List a model's config and tensors");

static cl::opt<std::string> importInput(cl::Positional, cl::Required,
                                        cl::desc("<model>"),
                                        cl::sub(importCmd));
static cl::opt<std::string> importOutput("o", cl::desc("Output .mlir file"),
                                         cl::value_desc("file"), cl::init("-"),
                                         cl::sub(importCmd));
static cl::opt<std::string>
    tokenizerOpt("tokenizer",
                 cl::desc("Tokenizer file (llama2.c .bin, tokenizer.json, "
                          "tokenizer.model or a GGUF file)"),
                 cl::sub(importCmd), cl::sub(tokenizeCmd), cl::sub(inspectCmd));

static cl::opt<std::string> tokenizeModel(
    "model", cl::desc("Use this model's tokenizer instead of --tokenizer"),
    cl::sub(tokenizeCmd));
static cl::opt<bool> decodeOpt("decode", cl::desc("Decode token ids to text"),
                               cl::sub(tokenizeCmd));
static cl::opt<bool> noBos("no-bos", cl::desc("Do not prepend BOS"),
                           cl::sub(tokenizeCmd));
static cl::list<std::string> tokenizeArgs(cl::Positional, cl::OneOrMore,
                                          cl::desc("<text> | <id>..."),
                                          cl::sub(tokenizeCmd));

static cl::opt<std::string> inspectInput(cl::Positional, cl::Required,
                                         cl::desc("<model>"),
                                         cl::sub(inspectCmd));
static cl::opt<std::string>
    dumpDir("dump",
            cl::desc("Write every tensor, converted to float32 little-endian, "
                     "to DIR/<name>.f32"),
            cl::value_desc("dir"), cl::sub(inspectCmd));

static int fail(Error e) {
  WithColor::error(errs(), "llmc") << toString(std::move(e)) << "\n";
  return 1;
}

/// Writes `path` atomically (temp file + rename); "-" is stdout.
static Error writeAtomically(StringRef path,
                             function_ref<Error(raw_ostream &)> write) {
  return writeToOutput(path, write);
}

static int runImport() {
  auto source = openModel(importInput, tokenizerOpt);
  if (!source)
    return fail(source.takeError());
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = buildModule(context, **source);
  if (failed(mlir::verify(*module)))
    return fail(fileError(importInput, "the imported IR does not verify "
                                       "(an importer bug; see above)"));
  if (Error e = writeAtomically(importOutput, [&](raw_ostream &os) {
        module->print(os);
        return Error::success();
      }))
    return fail(std::move(e));
  return 0;
}

static int runTokenize() {
  Expected<std::unique_ptr<Tokenizer>> tok =
      createStringError(inconvertibleErrorCode(),
                        "pass --tokenizer <file> or --model <model>");
  if (!tokenizeModel.empty()) {
    consumeError(tok.takeError());
    auto source = openModel(tokenizeModel, tokenizerOpt);
    if (!source)
      return fail(source.takeError());
    tok = loadTokenizer((*source)->tokenizer);
  } else if (!tokenizerOpt.empty()) {
    consumeError(tok.takeError());
    tok = loadTokenizerFile(tokenizerOpt);
  }
  if (!tok)
    return fail(tok.takeError());
  if (decodeOpt) {
    std::vector<int32_t> ids;
    for (const std::string &arg : tokenizeArgs) {
      int64_t id;
      if (StringRef(arg).getAsInteger(10, id) || id < 0 ||
          id >= (*tok)->vocabSize())
        return fail(createStringError(
            inconvertibleErrorCode(),
            "'%s' is not a token id (vocabulary of %lld)", arg.c_str(),
            static_cast<long long>((*tok)->vocabSize())));
      ids.push_back(static_cast<int32_t>(id));
    }
    outs() << (*tok)->decode(ids) << "\n";
    return 0;
  }
  std::string text;
  for (size_t i = 0; i < tokenizeArgs.size(); ++i)
    text += (i ? " " : "") + tokenizeArgs[i];
  std::vector<int32_t> ids = (*tok)->encode(text, !noBos);
  for (size_t i = 0; i < ids.size(); ++i)
    outs() << (i ? " " : "") << ids[i];
  outs() << "\n";
  return 0;
}

static int runInspect() {
  auto source = openModel(inspectInput, tokenizerOpt);
  if (!source)
    return fail(source.takeError());
  const ModelSource &s = **source;
  const ModelConfig &c = s.config;
  outs() << "format " << s.format << ", arch " << c.arch << ": dim " << c.dim
         << ", hidden " << c.hiddenDim << ", layers " << c.numLayers
         << ", heads " << c.numHeads << ", kv_heads " << c.numKvHeads
         << ", head_dim " << c.headDim << ", vocab " << c.vocabSize
         << ", max_seq " << c.maxSeq << ", tied " << c.tiedEmbeddings;
  if (c.numExperts)
    outs() << ", experts " << c.numExperts << " (top " << c.expertsPerToken
           << ")";
  outs() << "\n";
  if (!dumpDir.empty())
    if (std::error_code ec = sys::fs::create_directories(dumpDir))
      return fail(fileError(dumpDir, "cannot create: " + ec.message()));
  for (const TensorInfo &t : s.tensors()) {
    outs() << t.name << " " << dtypeName(t.dtype) << " "
           << formatShape(t.shape) << "\n";
    if (dumpDir.empty())
      continue;
    SmallString<256> out(dumpDir);
    sys::path::append(out, t.name + ".f32");
    std::vector<float> values = s.readF32(t);
    if (Error e = writeAtomically(out, [&](raw_ostream &os) {
          os.write(reinterpret_cast<const char *>(values.data()),
                   values.size() * sizeof(float));
          return Error::success();
        }))
      return fail(std::move(e));
  }
  return 0;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(
      argc, argv,
      "llmc: ahead-of-time compiler for transformer LLMs\n\n"
      "  llmc import <model> [--tokenizer T] -o model.mlir\n"
      "  llmc tokenize --tokenizer <file> \"text\" | --decode ID...\n"
      "  llmc inspect <model> [--dump DIR]\n");
  if (importCmd)
    return runImport();
  if (tokenizeCmd)
    return runTokenize();
  if (inspectCmd)
    return runInspect();
  errs() << "llmc: no subcommand; see llmc --help\n";
  return 1;
}
