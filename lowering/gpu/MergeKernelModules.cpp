//===- MergeKernelModules.cpp - all kernels of a model in one gpu.module --===//
//
// gpu-kernel-outlining gives every kernel its own gpu.module; a model has
// hundreds. One module per model means one PTX per architecture, one
// ptxas run, one cuModuleLoadData at load time and no repeated module
// preamble. Symbols that outlining copied into several modules (constant
// globals) are kept once when the copies are identical.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::llm {
#define GEN_PASS_DEF_GPUMERGEMODULES
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
struct GPUMergeModules
    : mlir::llm::impl::GPUMergeModulesBase<GPUMergeModules> {
  using GPUMergeModulesBase::GPUMergeModulesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.size() < 2)
      return;
    if (module.lookupSymbol(name)) {
      module.emitError("a symbol named '") << name << "' exists already";
      return signalPassFailure();
    }
    OpBuilder b(modules.front());
    auto merged = gpu::GPUModuleOp::create(b, modules.front().getLoc(), name);
    SymbolTable table(merged);
    llvm::DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    for (gpu::GPUModuleOp m : modules) {
      if (m.getTargetsAttr() || m.getOffloadingHandlerAttr()) {
        m.emitError("has targets or an offloading handler already: merge "
                    "kernel modules before attaching targets");
        return signalPassFailure();
      }
      for (Operation &op : llvm::make_early_inc_range(*m.getBody())) {
        if (op.hasTrait<OpTrait::IsTerminator>())
          continue;
        auto sym = dyn_cast<SymbolOpInterface>(op);
        // Kernels take their (unique) module's name: outlining names them
        // after the function they came from.
        if (auto fn = dyn_cast<gpu::GPUFuncOp>(op); fn && fn.isKernel()) {
          renamed[{m.getNameAttr(), fn.getNameAttr()}] = m.getNameAttr();
          fn.setName(m.getName());
        }
        if (Operation *prev = sym ? table.lookup(sym.getName()) : nullptr) {
          if (!OperationEquivalence::isEquivalentTo(
                  prev, &op, OperationEquivalence::ignoreValueEquivalence,
                  nullptr, OperationEquivalence::IgnoreLocations)) {
            op.emitError("symbol '")
                << sym.getName() << "' differs between kernel modules";
            return signalPassFailure();
          }
          continue;
        }
        op.moveBefore(merged.getBody(), merged.getBody()->end());
        if (sym)
          table.insert(&op);
      }
    }
    // Launches name @merged::@kernel.
    module.walk([&](gpu::LaunchFuncOp launch) {
      SymbolRefAttr k = launch.getKernel();
      StringAttr leaf = k.getLeafReference();
      auto it = renamed.find({k.getRootReference(), leaf});
      if (it != renamed.end())
        leaf = it->second;
      launch.setKernelAttr(SymbolRefAttr::get(merged.getNameAttr(),
                                              {FlatSymbolRefAttr::get(leaf)}));
    });
    for (gpu::GPUModuleOp m : modules)
      m.erase();
  }
};
} // namespace
