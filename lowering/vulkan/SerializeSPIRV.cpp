//===- SerializeSPIRV.cpp - SPIR-V kernels into gpu.binary objects --------===//
//
// `convert-gpu-to-spirv` leaves each kernel module's `spirv.module` beside
// its `gpu.module`. This pass serializes it and replaces the `gpu.module`
// with a `gpu.binary` whose object is the runtime's kernel module format:
//
//   "LLMCSPV1"  u32 JSON length (little endian)  JSON  zero padding to 4
//   SPIR-V words
//
// The JSON lists the module's kernels: name, workgroup size and the ABI of
// each argument (binding i = argument i, set 0) from `llm.kernel_abi`.
// `gpu-to-llvm` and the LLVM translation then embed the object and lower
// launches to the runtime's mgpu* calls.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVOps.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Target/SPIRV/Serialization.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::llm {
#define GEN_PASS_DEF_VULKANSERIALIZE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
struct VulkanSerialize
    : mlir::llm::impl::VulkanSerializeBase<VulkanSerialize> {
  using VulkanSerializeBase::VulkanSerializeBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    for (gpu::GPUModuleOp gm : gpuModules) {
      auto spv = module.lookupSymbol<spirv::ModuleOp>(
          ("__spv__" + gm.getName()).str());
      if (!spv) {
        gm.emitError("has no SPIR-V module (run convert-gpu-to-spirv first)");
        return signalPassFailure();
      }
      SmallVector<uint32_t> words;
      if (failed(spirv::serialize(spv, words))) {
        spv.emitError("cannot be serialized");
        return signalPassFailure();
      }
      llvm::json::Array kernels;
      for (auto fn : gm.getOps<gpu::GPUFuncOp>()) {
        if (!fn.isKernel())
          continue;
        auto abi = fn->getAttrOfType<ArrayAttr>("llm.kernel_abi");
        auto wg = fn.getKnownBlockSize();
        if (!abi || !wg) {
          fn.emitError("has no llm.kernel_abi / static workgroup size (run "
                       "llm-gpu-kernel-abi first)");
          return signalPassFailure();
        }
        llvm::json::Array args, size;
        for (Attribute a : abi)
          args.push_back(cast<StringAttr>(a).getValue().str());
        for (int32_t v : *wg)
          size.push_back(v);
        kernels.push_back(llvm::json::Object{{"name", fn.getName().str()},
                                             {"workgroup", std::move(size)},
                                             {"args", std::move(args)}});
      }
      std::string json;
      llvm::raw_string_ostream(json)
          << llvm::json::Value(llvm::json::Object{{"kernels", std::move(kernels)}});
      std::string blob = "LLMCSPV1";
      uint32_t n = json.size();
      for (int i = 0; i < 4; ++i)
        blob.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
      blob += json;
      while (blob.size() % 4)
        blob.push_back('\0');
      blob.append(reinterpret_cast<const char *>(words.data()),
                  words.size() * sizeof(uint32_t));

      if (!dumpDir.empty()) {
        SmallString<128> path(dumpDir);
        llvm::sys::path::append(path, gm.getName() + ".spv");
        std::error_code ec;
        llvm::raw_fd_ostream os(path, ec);
        if (ec) {
          gm.emitError("cannot write ") << path << ": " << ec.message();
          return signalPassFailure();
        }
        os.write(reinterpret_cast<const char *>(words.data()),
                 words.size() * sizeof(uint32_t));
      }

      Attribute target = spv->getAttr(spirv::getTargetEnvAttrName());
      if (!target)
        target = spirv::getDefaultTargetEnv(ctx);
      OpBuilder b(gm);
      auto object = gpu::ObjectAttr::get(ctx, target,
                                         gpu::CompilationTarget::Binary,
                                         StringAttr::get(ctx, blob), nullptr,
                                         nullptr);
      gpu::BinaryOp::create(b, gm.getLoc(), gm.getName(), nullptr,
                            ArrayRef<Attribute>{object});
      spv.erase();
      gm.erase();
    }
  }
};
} // namespace
