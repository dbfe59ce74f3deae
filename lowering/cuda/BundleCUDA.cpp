//===- BundleCUDA.cpp - PTX and cubins of a kernel module in one object ---===//
//
// gpu-module-to-binary leaves one PTX object per `#nvvm.target` (one per
// --cuda-arch). MLIR's default offloading handler embeds only one object
// of a gpu.binary, so this pass packs them all (and, with ptxas, a cubin
// per architecture) into one object the runtime picks from at load time.
// Layout: see the pass description in passes/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"
#include <nlohmann/json.hpp>

namespace mlir::llm {
#define GEN_PASS_DEF_CUDABUNDLE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
struct Image {
  std::string arch, format, bytes;
};

/// The names of the kernels (`.entry`) a PTX module defines.
std::vector<std::string> entryNames(StringRef ptx) {
  std::vector<std::string> names;
  size_t pos = 0;
  while ((pos = ptx.find(".entry ", pos)) != StringRef::npos) {
    pos += 7;
    size_t end = ptx.find_first_of("( \n", pos);
    names.push_back(ptx.slice(pos, end).str());
  }
  return names;
}

/// Assembles `ptx` for `arch` with `ptxas`; the cubin, or an error message.
FailureOr<std::string> assemble(StringRef ptxas, StringRef ptx, StringRef arch,
                                std::string &error) {
  SmallString<128> in, out, log;
  if (llvm::sys::fs::createTemporaryFile("llmc-kernel", "ptx", in) ||
      llvm::sys::fs::createTemporaryFile("llmc-kernel", "cubin", out) ||
      llvm::sys::fs::createTemporaryFile("llmc-ptxas", "log", log)) {
    error = "cannot create temporary files for ptxas";
    return failure();
  }
  llvm::FileRemover rmIn(in), rmOut(out), rmLog(log);
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in, ec);
    if (ec) {
      error = "cannot write " + in.str().str() + ": " + ec.message();
      return failure();
    }
    os << ptx;
  }
  std::string archFlag = "-arch=" + arch.str();
  SmallVector<StringRef> args = {ptxas, archFlag, "-O3", in, "-o", out};
  std::optional<StringRef> redirects[] = {std::nullopt, log, log};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(ptxas, args, std::nullopt, redirects, 0, 0,
                                     &execError);
  if (rc != 0) {
    auto msg = llvm::MemoryBuffer::getFile(log);
    error = "ptxas -arch=" + arch.str() + " failed" +
            (execError.empty() ? "" : ": " + execError) +
            (msg ? ": " + (*msg)->getBuffer().trim().str() : "");
    return failure();
  }
  auto bin = llvm::MemoryBuffer::getFile(out, /*IsText=*/false);
  if (!bin) {
    error = "ptxas wrote no cubin";
    return failure();
  }
  return (*bin)->getBuffer().str();
}

void writeFile(const std::string &path, StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (!ec)
    os << bytes;
}

struct CUDABundle : mlir::llm::impl::CUDABundleBase<CUDABundle> {
  using CUDABundleBase::CUDABundleBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    if (!dumpDir.empty())
      (void)llvm::sys::fs::create_directories(dumpDir);
    WalkResult r = module.walk([&](gpu::BinaryOp bin) {
      std::vector<Image> images;
      std::vector<std::string> kernels;
      Attribute firstTarget;
      for (Attribute a : bin.getObjects()) {
        auto obj = cast<gpu::ObjectAttr>(a);
        auto target = dyn_cast<NVVM::NVVMTargetAttr>(obj.getTarget());
        if (!target || obj.getFormat() != gpu::CompilationTarget::Assembly) {
          bin.emitError("expected PTX objects of #nvvm.target (run "
                        "gpu-module-to-binary{format=isa} first)");
          return WalkResult::interrupt();
        }
        if (!firstTarget)
          firstTarget = target;
        // The embedded PTX is NUL-terminated; ptxas and the driver take it
        // as text.
        StringRef ptx = obj.getObject().getValue();
        while (ptx.ends_with(StringRef("\0", 1)))
          ptx = ptx.drop_back();
        std::string arch = target.getChip().str();
        // Math functions become libdevice calls (__nv_expf, ...), which
        // gpu-module-to-binary links from the CUDA toolkit; left unresolved
        // they would fail at load time.
        for (StringRef line : llvm::split(ptx, '\n')) {
          size_t nv = line.find("__nv_");
          if (!line.starts_with(".extern") || nv == StringRef::npos)
            continue;
          bin.emitError("kernel module '")
              << bin.getSymName() << "' for " << arch
              << " calls libdevice functions that were not linked ("
              << line.substr(nv).take_until([](char c) { return c == '('; })
              << "): install the CUDA toolkit (nvvm/libdevice) or set "
                 "CUDA_PATH";
          return WalkResult::interrupt();
        }
        if (kernels.empty())
          kernels = entryNames(ptx);
        std::string base = dumpDir.empty()
                               ? ""
                               : dumpDir + "/" + bin.getSymName().str() + "." + arch;
        if (!base.empty())
          writeFile(base + ".ptx", ptx);
        if (!ptxas.empty()) {
          std::string error;
          FailureOr<std::string> cubin = assemble(ptxas, ptx, arch, error);
          if (failed(cubin)) {
            bin.emitError("kernel module '")
                << bin.getSymName() << "' for " << arch << ": " << error;
            return WalkResult::interrupt();
          }
          if (!base.empty())
            writeFile(base + ".cubin", *cubin);
          images.push_back({arch, "cubin", std::move(*cubin)});
        }
        // PTX null-terminated for cuModuleLoadData.
        images.push_back({arch, "ptx", ptx.str() + std::string(1, '\0')});
      }
      if (images.empty()) {
        bin.emitError("has no objects");
        return WalkResult::interrupt();
      }
      nlohmann::json table = {{"kernels", kernels},
                              {"images", nlohmann::json::array()}};
      uint64_t offset = 0;
      for (const Image &im : images) {
        table["images"].push_back({{"arch", im.arch},
                                   {"format", im.format},
                                   {"offset", offset},
                                   {"size", im.bytes.size()}});
        offset += (im.bytes.size() + 7) / 8 * 8;
      }
      std::string json = table.dump();
      std::string blob = "LLMCCUDA";
      uint32_t n = json.size();
      for (int i = 0; i < 4; ++i)
        blob.push_back(char((n >> (8 * i)) & 0xff));
      blob += json;
      blob.resize((blob.size() + 7) / 8 * 8, '\0');
      for (const Image &im : images) {
        blob += im.bytes;
        blob.resize((blob.size() + 7) / 8 * 8, '\0');
      }
      if (!dumpDir.empty())
        writeFile(dumpDir + "/" + bin.getSymName().str() + ".llmccuda", blob);
      auto obj = gpu::ObjectAttr::get(ctx, firstTarget,
                                      gpu::CompilationTarget::Binary,
                                      StringAttr::get(ctx, blob), nullptr,
                                      nullptr);
      bin.setObjectsAttr(ArrayAttr::get(ctx, {obj}));
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
