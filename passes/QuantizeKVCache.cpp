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

namespace {
struct QuantizeKVCachePass
    : llm::impl::QuantizeKVCacheBase<QuantizeKVCachePass> {
  void runOnOperation() override {
    Builder b(&getContext());
    auto convert = [&](Type t) -> Type {
      auto kv = dyn_cast<KVCacheType>(t);
      if (!kv || !isa<FloatType>(kv.getElementType()))
        return t;
      return KVCacheType::get(&getContext(), kv.getLayers(), kv.getMaxSeq(),
                              kv.getKvHeads(), kv.getHeadDim(), b.getI8Type());
    };
    getOperation().walk([&](Operation *op) {
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
};
} // namespace
