//===- CPUPipeline.cpp - llm -> LLVM -> object for the host CPU -----------===//

#include "lowering/cpu/CPUPipeline.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "passes/Passes.h"
#include "runtime/src/ArtifactFormat.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/OpenMP/OpenMPToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DerivedTypes.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/Threading.h"
#include "llvm/Transforms/Utils/SplitModule.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include <mutex>

using namespace mlir;
using namespace mlir::llm;

LogicalResult mlir::llm::buildLLMToCPUPipeline(OpPassManager &pm,
                                               const CPUPipelineOptions &o,
                                               CPUPipelineStage stage) {
  // The pipeline is written as text (readable, and the same string
  // llmc-opt accepts), so the passes it names must be registered.
  static std::once_flag registered;
  std::call_once(registered, [] {
    registerAllPasses();
    registerLLMPasses();
  });
  std::string p;
  llvm::raw_string_ostream os(p);
  // Per-op profiling counts each layer's ops apart: no outlining then.
  if (stage != CPUPipelineStage::FromBufferABI)
    os << (o.outlineLayers && !o.profile ? "llm-outline-layers," : "")
       << "convert-llm-to-linalg{profile=" << (o.profile ? "true" : "false")
       << " dot-isa=" << o.dotIsa << "},llm-buffer-abi";
  if (stage == CPUPipelineStage::ToBufferABI)
    return parsePassPipeline(p, pm);
  if (stage == CPUPipelineStage::All)
    os << ",";
  // No CSE before bufferization: merging identical fills would make
  // several ops write one buffer and force copies.
  os << "canonicalize,";
  if (o.vectorize)
    os << "llm-cpu-schedule,canonicalize,";
  // canonicalize after cse too: cse exposes self-copies it then erases.
  // Function boundaries: outlined layers take and return tensors.
  os << "eliminate-empty-tensors,one-shot-bufferize{bufferize-function-"
        "boundaries=1 function-boundary-type-conversion=identity-layout-map},"
     // A layer function's KV cache result is its argument, updated in
     // place: dropped, not handed back (ownership would clone the cache).
     << "drop-equivalent-buffer-results,"
     << "canonicalize,cse,canonicalize,"
     // Module-wide: deallocation across layer calls needs a helper function.
     << "buffer-deallocation-pipeline,func.func(llm-early-dealloc),"
     << "func.func(llm-cpu-prefetch),";
  // After bufferization: the intrinsic calls it creates have no declared
  // memory effects, which the deallocation pipeline rejects.
  if (!o.dotIsa.empty())
    os << "func.func(llm-cpu-vnni{isa=" << o.dotIsa << "}),";
  // Parallel tasks become OpenMP work-sharing loops; without `parallel`
  // they run in order.
  os << (o.parallel ? "scf-forall-to-parallel," : "scf-forall-to-for,")
     << "func.func(convert-linalg-to-loops),convert-vector-to-scf{full-unroll=true},"
     << "func.func(lower-vector-multi-reduction),canonicalize,"
     // Vector exps inline (not one libm call per lane).
     << "func.func(llm-cpu-vector-math),";
  if (o.parallel)
    os << "convert-scf-to-openmp,canonicalize,func.func(llm-cpu-openmp-loops),";
  // The conversions that may run per function do (MLIR threads them over
  // the functions: the layer functions, forward); the others need the
  // module (declarations, signatures).
  os << "func.func(expand-strided-metadata),lower-affine,convert-scf-to-cf,"
     // Allocations go through the runtime's caching allocator.
     << "finalize-memref-to-llvm{use-generic-functions=true},"
     << "func.func(convert-vector-to-llvm{reassociate-fp-reductions=true},"
     << "convert-math-to-llvm),convert-math-to-libm,"
     << "func.func(convert-arith-to-llvm,convert-index-to-llvm,"
     << "convert-ub-to-llvm),";
  if (o.parallel)
    os << "convert-openmp-to-llvm,";
  os << "convert-func-to-llvm,convert-cf-to-llvm,reconcile-unrealized-casts";
  return parsePassPipeline(p, pm);
}

void mlir::llm::registerCPUPipelineDialects(DialectRegistry &registry) {
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // gpu-module-to-binary translates kernel modules (LLVM, NVVM) to LLVM IR.
  registerAllToLLVMIRTranslations(registry);
  registry.insert<LLMDialect>();
}

void mlir::llm::registerLLMToCPUPipeline() {
  PassPipelineRegistration<CPUPipelineOptions>(
      "llm-to-cpu",
      "Lower an llm-dialect model to the LLVM dialect for the CPU: linalg, "
      "buffer ABI, one-shot bufferization, tiling/vectorization, OpenMP",
      [](OpPassManager &pm, const CPUPipelineOptions &o) {
        (void)buildLLMToCPUPipeline(pm, o);
      });
}

namespace {
/// The target machine for `target`; null with `error` set if there is none.
std::unique_ptr<llvm::TargetMachine>
makeTargetMachine(const CPUTarget &target, llvm::CodeGenOptLevel level,
                  std::string &error) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
  });
  std::string host = llvm::sys::getDefaultTargetTriple();
  llvm::Triple triple(target.triple.empty()
                          ? host
                          : llvm::Triple::normalize(target.triple));
  bool isHost = triple == llvm::Triple(host);
  const llvm::Target *llvmTarget =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!llvmTarget) {
    error = "unknown target triple '" + triple.str() + "': " + error;
    return nullptr;
  }
  std::string cpuName = target.cpu;
  std::string featureString;
  if (cpuName.empty() || cpuName == "native") {
    if (isHost) {
      cpuName = llvm::sys::getHostCPUName().str();
      llvm::SubtargetFeatures f;
      for (auto &feature : llvm::sys::getHostCPUFeatures())
        f.AddFeature(feature.first(), feature.second);
      featureString = f.getString();
    } else {
      cpuName = "generic";
    }
  }
  // Fuse multiply-adds (the contractions are written as mulf + addf).
  llvm::TargetOptions targetOptions;
  targetOptions.AllowFPOpFusion = llvm::FPOpFusion::Fast;
  // Constructors (GPU host code loads its kernel modules in one) go in
  // .init_array, which the dynamic loader runs; .ctors it does not.
  targetOptions.UseInitArray = true;
  std::unique_ptr<llvm::TargetMachine> tm(llvmTarget->createTargetMachine(
      triple, cpuName, featureString, targetOptions, llvm::Reloc::PIC_,
      std::nullopt, level));
  if (!tm) {
    error = "cannot create a target machine for CPU '" + cpuName + "'";
    return nullptr;
  }
  if (!tm->getMCSubtargetInfo()->isCPUStringValid(cpuName)) {
    error = "unknown CPU '" + cpuName + "' for " + triple.str();
    return nullptr;
  }
  return tm;
}
} // namespace

std::string mlir::llm::targetDotIsa(const CPUTarget &target) {
  std::string error;
  std::unique_ptr<llvm::TargetMachine> tm =
      makeTargetMachine(target, llvm::CodeGenOptLevel::Default, error);
  if (!tm)
    return "";
  const llvm::MCSubtargetInfo *sti = tm->getMCSubtargetInfo();
  if (tm->getTargetTriple().isX86()) {
    if (sti->checkFeatures("+avxvnni") ||
        sti->checkFeatures("+avx512vnni,+avx512vl"))
      return "vnni";
    return sti->checkFeatures("+avx2") ? "avx2" : "";
  }
  if (tm->getTargetTriple().isAArch64() && sti->checkFeatures("+dotprod"))
    return sti->checkFeatures("+i8mm") ? "neon-i8mm" : "neon-dot";
  return "";
}

namespace {
/// Threads (and module parts) for code generation: this machine's cores,
/// at most 8 (beyond that the parts are too small to gain), or
/// LLMC_CODEGEN_THREADS.
unsigned codeGenerationParts() {
  if (const char *env = getenv("LLMC_CODEGEN_THREADS"))
    if (int n = atoi(env); n >= 1)
      return std::min(n, 64);
  return std::min(llvm::hardware_concurrency().compute_thread_count(), 8u);
}

/// Optimizes `m` at `optLevel` (none at 0) and emits its object code.
std::string optimizeAndEmit(llvm::Module &m, llvm::TargetMachine &tm,
                            int optLevel, std::string &object,
                            llvm::function_ref<void(llvm::StringRef)> phase) {
  if (optLevel > 0) {
    if (phase)
      phase("optimizing LLVM IR");
    auto optimize = makeOptimizingTransformer(optLevel, 0, &tm);
    if (llvm::Error e = optimize(&m))
      return llvm::toString(std::move(e));
  }
  if (phase)
    phase("generating machine code");
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::ObjectFile))
    return "the target cannot emit object files";
  pm.run(m);
  object.assign(buffer.begin(), buffer.end());
  return "";
}
} // namespace

std::string mlir::llm::emitCPUObject(ModuleOp module, const CPUTarget &target,
                                     int optLevel,
                                     const LinkedModel *linked,
                                     std::vector<std::string> &objects,
                                     std::string &arch,
                                     std::vector<std::string> &features,
                                     llvm::function_ref<void(llvm::StringRef)> phase,
                                     llvm::function_ref<void(unsigned, unsigned)> partDone) {
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerOpenMPDialectTranslation(registry);
  // GPU host code: gpu.binary objects are embedded, launches become the
  // runtime's mgpu* calls.
  registerGPUDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  module->getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext, "llmc-model");
  if (!llvmModule)
    return "translation to LLVM IR failed";

  llvm::CodeGenOptLevel level = optLevel >= 3   ? llvm::CodeGenOptLevel::Aggressive
                                : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                                : optLevel == 1 ? llvm::CodeGenOptLevel::Less
                                                : llvm::CodeGenOptLevel::None;
  std::string error;
  std::unique_ptr<llvm::TargetMachine> tm =
      makeTargetMachine(target, level, error);
  if (!tm)
    return error;
  llvm::Triple triple = tm->getTargetTriple();
  arch = triple.getArchName().str();
  features.clear();
  if (triple.isX86())
    for (const char *f : llmc::artifact::kCheckedX86Features)
      if (tm->getMCSubtargetInfo()->checkFeatures(std::string("+") + f))
        features.push_back(f);
  llvmModule->setDataLayout(tm->createDataLayout());
  llvmModule->setTargetTriple(triple);
  if (linked) {
    // llmc_linked_model_t {u32 abi_version, u32 reserved, ptr forward,
    // ptr artifact} (runtime.h), for the executable's main().
    llvm::LLVMContext &c = llvmModule->getContext();
    llvm::Function *entry = llvmModule->getFunction("_mlir_ciface_forward");
    if (!entry)
      return "the module has no _mlir_ciface_forward to link";
    auto *i32 = llvm::Type::getInt32Ty(c);
    auto *ptr = llvm::PointerType::getUnqual(c);
    // Only the descriptor stays visible.
    for (llvm::Function &f : *llvmModule)
      if (!f.isDeclaration())
        f.setLinkage(llvm::GlobalValue::InternalLinkage);
    for (llvm::GlobalVariable &g : llvmModule->globals())
      if (!g.isDeclaration() && !g.getName().starts_with("llvm."))
        g.setLinkage(llvm::GlobalValue::InternalLinkage);
    llvm::Constant *nameData =
        llvm::ConstantDataArray::getString(c, linked->artifact);
    auto *name = new llvm::GlobalVariable(
        *llvmModule, nameData->getType(), /*isConstant=*/true,
        llvm::GlobalValue::PrivateLinkage, nameData, "llmc.artifact_name");
    auto *type = llvm::StructType::get(c, {i32, i32, ptr, ptr});
    new llvm::GlobalVariable(
        *llvmModule, type, /*isConstant=*/true,
        llvm::GlobalValue::ExternalLinkage,
        llvm::ConstantStruct::get(
            type, {llvm::ConstantInt::get(i32, 1), llvm::ConstantInt::get(i32, 0),
                   entry, name}),
        linked->symbol);
  }

  // Outlined decoder layers stay functions: inlining them back would
  // bring the per-layer copies (and their compile time) back.
  for (llvm::Function &f : *llvmModule)
    if (f.getName().starts_with("llm_layer_"))
      f.addFnAttr(llvm::Attribute::NoInline);
  objects.clear();
  unsigned parts = linked ? 1 : codeGenerationParts();
  if (parts <= 1) {
    objects.emplace_back();
    return optimizeAndEmit(*llvmModule, *tm, optLevel, objects.back(), phase);
  }
  // The functions split among `parts` modules (SplitModule: locals made
  // external, each function in one part), each optimized and compiled in
  // its own thread and LLVM context; the linker joins the objects. Calls
  // between parts are not inlined: the decoder layers are not (NoInline)
  // and the parallel loops' bodies are only called through OpenMP.
  if (phase)
    phase("optimizing LLVM IR and generating machine code (" +
          std::to_string(parts) + " threads)");
  std::vector<llvm::SmallString<0>> bitcode;
  llvm::SplitModule(
      *llvmModule, parts,
      [&](std::unique_ptr<llvm::Module> part) {
        bitcode.emplace_back();
        llvm::raw_svector_ostream os(bitcode.back());
        llvm::WriteBitcodeToFile(*part, os);
      },
      /*PreserveLocals=*/false);
  objects.resize(bitcode.size());
  std::vector<std::string> errors(bitcode.size());
  std::mutex doneMutex;
  unsigned done = 0;
  {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(parts));
    for (size_t i = 0; i < bitcode.size(); ++i)
      pool.async([&, i] {
        llvm::LLVMContext context;
        auto part = llvm::parseBitcodeFile(
            llvm::MemoryBufferRef(llvm::StringRef(bitcode[i].data(),
                                                  bitcode[i].size()),
                                  "llmc-model-part"),
            context);
        if (!part) {
          errors[i] = llvm::toString(part.takeError());
          return;
        }
        std::unique_ptr<llvm::TargetMachine> partTM =
            makeTargetMachine(target, level, errors[i]);
        if (partTM)
          errors[i] = optimizeAndEmit(**part, *partTM, optLevel, objects[i], {});
        std::lock_guard<std::mutex> lock(doneMutex);
        if (partDone)
          partDone(++done, bitcode.size());
      });
    pool.wait();
  }
  for (const std::string &e : errors)
    if (!e.empty())
      return e;
  return "";
}

std::string
mlir::llm::linkSharedObject(llvm::ArrayRef<std::string> objectPaths,
                            llvm::StringRef outputPath) {
  // ld.lld of the same LLVM release; libomp and libm resolve at dlopen time
  // (the runtime's RPATH-free search uses the recorded absolute path).
  std::string lld = LLMC_LLVM_BIN_DIR "/ld.lld";
  if (!llvm::sys::fs::can_execute(lld)) {
    auto found = llvm::sys::findProgramByName("ld.lld");
    if (!found)
      return "ld.lld not found (install lld-22)";
    lld = *found;
  }
  std::string libDir = LLMC_LLVM_LIB_DIR;
  std::string rpath = "-rpath=" + libDir;
  std::string libPath = "-L" + libDir;
  // The C runtime's shared objects by soname, so no -dev package is needed.
  std::string multiarch =
      "-L/usr/lib/" + llvm::Triple(llvm::sys::getDefaultTargetTriple())
                          .getArchName()
                          .str() +
      "-linux-gnu";
  std::string multiarchLib = "-L/lib/" + multiarch.substr(11);
  llvm::SmallVector<llvm::StringRef> args = {lld, "-shared", "--as-needed",
                                             "-o", outputPath};
  for (const std::string &o : objectPaths)
    args.push_back(o);
  args.append({libPath, rpath, multiarch, multiarchLib, "-lomp",
               "-l:libm.so.6", "-l:libc.so.6"});
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(lld, args, std::nullopt, {}, 0, 0,
                                     &error);
  if (rc != 0)
    return "linking with " + lld + " failed" +
           (error.empty() ? std::string() : ": " + error);
  return "";
}
