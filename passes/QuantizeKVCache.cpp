//===- QuantizeKVCache.cpp - the KV cache stored as int8 ------------------===//
//
// Every float !llm.kv_cache becomes i8 (see Passes.td); the lowering of
// llm.attention quantizes on write and dequantizes on read.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::llm {
#define GEN_PASS_DEF_QUANTIZEKVCACHE
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

void mlir::llm::retypeKVCaches(Operation *root,
                               function_ref<Type(KVCacheType)> retype) {
  Builder b(root->getContext());
  auto convert = [&](Type t) -> Type {
    auto kv = dyn_cast<KVCacheType>(t);
    return kv ? retype(kv) : t;
  };
  root->walk([&](Operation *op) {
    for (Region &r : op->getRegions())
      for (Block &block : r)
        for (BlockArgument arg : block.getArguments())
          arg.setType(convert(arg.getType()));
    for (Value v : op->getResults())
      v.setType(convert(v.getType()));
    if (auto f = dyn_cast<func::FuncOp>(op)) {
      FunctionType ft = f.getFunctionType();
      SmallVector<Type> ins, outs;
      for (Type t : ft.getInputs())
        ins.push_back(convert(t));
      for (Type t : ft.getResults())
        outs.push_back(convert(t));
      f.setFunctionType(b.getFunctionType(ins, outs));
    }
  });
}

namespace {
struct QuantizeKVCachePass
    : llm::impl::QuantizeKVCacheBase<QuantizeKVCachePass> {
  void runOnOperation() override {
    bool pending = false;
    getOperation().walk([&](func::FuncOp f) {
      for (Type t : f.getArgumentTypes())
        if (auto kv = dyn_cast<KVCacheType>(t); kv && kv.getPending())
          pending = true;
    });
    if (pending) {
      getOperation().emitError(
          "llm-quantize-kv-cache: the KV cache holds early exit's pending "
          "hidden states (kv-policy=recompute), which need an f32 cache; use "
          "kv-policy=propagate with an int8 cache");
      return signalPassFailure();
    }
    Type i8 = IntegerType::get(&getContext(), 8);
    retypeKVCaches(getOperation(), [&](KVCacheType kv) -> Type {
      if (!isa<FloatType>(kv.getElementType()))
        return kv;
      return kv.withElementType(i8);
    });
  }
};
} // namespace
