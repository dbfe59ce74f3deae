//===- KernelABI.cpp - flat buffers and scalars at the kernel boundary ----===//
//
// Outlined kernels take memrefs of any layout (dynamic sizes, strides and
// offsets from the host's slicing). SPIR-V storage buffers and the runtimes'
// launch paths want flat arrays, so every kernel memref argument becomes
//
//   buffer: memref<?xT>   the allocation the memref views (its descriptor's
//                         size holds the extent the view can reach)
//   offset: index         element offset of the view (the runtime adds the
//                         offset at which it binds the buffer)
//   one index per dynamic stride, and per dynamic size read in the kernel
//
// and loads/stores index the buffer with the linearized index. Scalars
// narrower than 32 bits travel as i32/f32. Small constant globals (RoPE
// frequencies) are copied into a private array in the kernel instead of
// being passed. The kernel gets `llm.kernel_abi`, one entry per argument
// ("buf:<bytes>", "off", "idx", "i32", "f32"), which the backends embed for
// the runtime, and a SPIR-V entry point ABI with its workgroup size.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVAttributes.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVDialect.h"
#include "mlir/Dialect/SPIRV/IR/SPIRVEnums.h"
#include "mlir/Dialect/Utils/IndexingUtils.h"
#include "mlir/Dialect/SPIRV/IR/TargetAndABI.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/BitVector.h"

namespace mlir::llm {
#define GEN_PASS_DEF_GPUKERNELABI
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
/// Largest constant global copied into a kernel (elements).
constexpr int64_t kMaxInlinedConstant = 4096;

/// How one original kernel argument is passed.
struct ArgPlan {
  enum Kind { Memref, Scalar, InlineConstant } kind = Scalar;
  MemRefType type;            // Memref / InlineConstant
  SmallVector<int64_t> strides;
  int64_t offset = 0;
  SmallVector<unsigned> sizeDims; // dynamic sizes the kernel reads
  Type passedType;            // Scalar: the type on the wire
  memref::GlobalOp global;    // InlineConstant
};

/// A constant global small enough to copy into the kernel, or null.
memref::GlobalOp inlinableGlobal(Value v, SymbolTable &symbols) {
  auto get = v.getDefiningOp<memref::GetGlobalOp>();
  if (!get)
    return nullptr;
  auto global = symbols.lookup<memref::GlobalOp>(get.getName());
  if (!global || !global.getConstant() || !global.getInitialValue())
    return nullptr;
  auto init = dyn_cast<DenseElementsAttr>(*global.getInitialValue());
  MemRefType t = global.getType();
  if (!init || !t.hasStaticShape() || t.getNumElements() > kMaxInlinedConstant)
    return nullptr;
  return global;
}

Type wireScalarType(Type t) {
  if (t.isIndex() || t.isInteger(32) || t.isF32())
    return t;
  if (auto i = dyn_cast<IntegerType>(t); i && i.getWidth() < 32)
    return IntegerType::get(t.getContext(), 32);
  if (isa<FloatType>(t) && t.getIntOrFloatBitWidth() < 32)
    return Float32Type::get(t.getContext());
  if (t.isInteger(64))
    return IndexType::get(t.getContext());
  return nullptr;
}

std::string abiName(Type t) {
  if (t.isIndex())
    return "idx";
  if (t.isF32())
    return "f32";
  return "i32";
}

struct GPUKernelABI : mlir::llm::impl::GPUKernelABIBase<GPUKernelABI> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    // Launches by kernel.
    llvm::DenseMap<Operation *, SmallVector<gpu::LaunchFuncOp>> launches;
    SymbolTableCollection tables;
    module.walk([&](gpu::LaunchFuncOp l) {
      if (auto k = tables.lookupNearestSymbolFrom<gpu::GPUFuncOp>(
              l, l.getKernel()))
        launches[k].push_back(l);
    });
    WalkResult r = module.walk([&](gpu::GPUFuncOp kernel) {
      if (!kernel.isKernel())
        return WalkResult::advance();
      if (failed(rewrite(kernel, launches[kernel], symbols)))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }

  LogicalResult rewrite(gpu::GPUFuncOp kernel,
                        ArrayRef<gpu::LaunchFuncOp> calls,
                        SymbolTable &symbols) {
    MLIRContext *ctx = kernel.getContext();
    if (calls.size() != 1)
      return kernel.emitError("expected exactly one launch of each outlined "
                              "kernel, found ")
             << calls.size();
    gpu::LaunchFuncOp launch = calls.front();
    unsigned numArgs = kernel.getNumArguments();
    if (launch.getKernelOperands().size() != numArgs)
      return launch.emitError("operand count differs from the kernel's");

    // 1. Plan every argument.
    SmallVector<ArgPlan> plans(numArgs);
    for (unsigned i = 0; i < numArgs; ++i) {
      BlockArgument arg = kernel.getArgument(i);
      ArgPlan &p = plans[i];
      if (auto mt = dyn_cast<MemRefType>(arg.getType())) {
        p.type = mt;
        if ((p.global = inlinableGlobal(launch.getKernelOperands()[i],
                                        symbols))) {
          p.kind = ArgPlan::InlineConstant;
          continue;
        }
        p.kind = ArgPlan::Memref;
        if (failed(mt.getStridesAndOffset(p.strides, p.offset)))
          return kernel.emitError("kernel argument #")
                 << i << " has a non-strided layout: " << mt;
        unsigned bits = mt.getElementTypeBitWidth();
        if (!mt.getElementType().isIntOrFloat() || bits % 8 || bits > 64)
          return kernel.emitError("kernel argument #")
                 << i << " has an unsupported element type: " << mt;
        for (Operation *user : arg.getUsers()) {
          if (auto dim = dyn_cast<memref::DimOp>(user)) {
            std::optional<int64_t> d = dim.getConstantIndex();
            if (!d)
              return dim.emitError("dimension index must be a constant in a "
                                   "kernel");
            if (mt.isDynamicDim(*d) && !llvm::is_contained(p.sizeDims, *d))
              p.sizeDims.push_back(*d);
          } else if (!isa<memref::LoadOp, memref::StoreOp>(user)) {
            return user->emitError("kernel buffers may only be loaded, "
                                   "stored and measured (memref.dim), not "
                                   "used by this op");
          }
        }
        continue;
      }
      p.kind = ArgPlan::Scalar;
      p.passedType = wireScalarType(arg.getType());
      if (!p.passedType)
        return kernel.emitError("kernel argument #")
               << i << " has an unsupported scalar type " << arg.getType();
    }

    // 2. New kernel arguments (appended, the old ones erased below) and the
    // matching launch operands.
    SmallVector<Type> newTypes;
    SmallVector<std::string> abi;
    SmallVector<Value> newOperands;
    OpBuilder hb(launch);
    Location loc = launch.getLoc();
    IndexType indexTy = hb.getIndexType();
    for (unsigned i = 0; i < numArgs; ++i) {
      ArgPlan &p = plans[i];
      Value operand = launch.getKernelOperands()[i];
      if (p.kind == ArgPlan::InlineConstant)
        continue;
      if (p.kind == ArgPlan::Scalar) {
        Value v = operand;
        Type from = v.getType(), to = p.passedType;
        if (from != to) {
          if (to.isIndex())
            v = arith::IndexCastOp::create(hb, loc, to, v);
          else if (isa<IntegerType>(to))
            v = arith::ExtUIOp::create(hb, loc, to, v);
          else
            v = arith::ExtFOp::create(hb, loc, to, v);
        }
        newTypes.push_back(to);
        newOperands.push_back(v);
        abi.push_back(abiName(to));
        continue;
      }
      MemRefType mt = p.type;
      Type elem = mt.getElementType();
      auto meta = memref::ExtractStridedMetadataOp::create(hb, loc, operand);
      // Extent in elements: 1 + sum((size - 1) * stride).
      Value one = arith::ConstantIndexOp::create(hb, loc, 1);
      Value zero = arith::ConstantIndexOp::create(hb, loc, 0);
      Value extent = one;
      for (unsigned d = 0; d < mt.getRank(); ++d) {
        Value last = arith::SubIOp::create(hb, loc, meta.getSizes()[d], one);
        last = arith::MaxSIOp::create(hb, loc, last, zero);
        extent = arith::AddIOp::create(
            hb, loc, extent,
            arith::MulIOp::create(hb, loc, last, meta.getStrides()[d]));
      }
      auto flatTy = MemRefType::get({ShapedType::kDynamic}, elem);
      auto baseTy = cast<MemRefType>(meta.getBaseBuffer().getType());
      Value base = meta.getBaseBuffer();
      if (baseTy.getMemorySpace())
        return kernel.emitError("kernel argument #")
               << i << " is in a non-default memory space";
      Value flat = memref::ReinterpretCastOp::create(
          hb, loc, flatTy, base, OpFoldResult(hb.getIndexAttr(0)),
          ArrayRef<OpFoldResult>{extent},
          ArrayRef<OpFoldResult>{hb.getIndexAttr(1)});
      newTypes.push_back(flatTy);
      newOperands.push_back(flat);
      abi.push_back("buf:" + std::to_string(mt.getElementTypeBitWidth() / 8));
      newTypes.push_back(indexTy);
      newOperands.push_back(meta.getOffset());
      abi.push_back("off");
      for (unsigned d = 0; d < mt.getRank(); ++d)
        if (ShapedType::isDynamic(p.strides[d])) {
          newTypes.push_back(indexTy);
          newOperands.push_back(meta.getStrides()[d]);
          abi.push_back("idx");
        }
      for (unsigned d : p.sizeDims) {
        newTypes.push_back(indexTy);
        newOperands.push_back(meta.getSizes()[d]);
        abi.push_back("idx");
      }
    }

    SmallVector<unsigned> at(newTypes.size(), numArgs);
    SmallVector<DictionaryAttr> attrs(newTypes.size(),
                                      DictionaryAttr::get(ctx, {}));
    SmallVector<Location> locs(newTypes.size(), kernel.getLoc());
    if (failed(kernel.insertArguments(at, newTypes, attrs, locs)))
      return kernel.emitError("cannot rewrite the kernel signature");

    // 3. Rewrite the body.
    Block &entry = kernel.getBody().front();
    OpBuilder kb = OpBuilder::atBlockBegin(&entry);
    unsigned next = numArgs;
    for (unsigned i = 0; i < numArgs; ++i) {
      ArgPlan &p = plans[i];
      BlockArgument old = kernel.getArgument(i);
      Location aloc = old.getLoc();
      if (p.kind == ArgPlan::Scalar) {
        Value v = kernel.getArgument(next++);
        Type want = old.getType();
        if (v.getType() != want) {
          if (v.getType().isIndex())
            v = arith::IndexCastOp::create(kb, aloc, want, v);
          else if (isa<IntegerType>(want))
            v = arith::TruncIOp::create(kb, aloc, want, v);
          else
            v = arith::TruncFOp::create(kb, aloc, want, v);
        }
        old.replaceAllUsesWith(v);
        continue;
      }
      if (p.kind == ArgPlan::InlineConstant) {
        // A function-local array (spirv.Variable of Function storage).
        auto privTy = MemRefType::get(
            p.type.getShape(), p.type.getElementType(),
            MemRefLayoutAttrInterface(),
            spirv::StorageClassAttr::get(ctx, spirv::StorageClass::Function));
        Value priv = memref::AllocaOp::create(kb, aloc, privTy);
        auto init = cast<DenseElementsAttr>(*p.global.getInitialValue());
        SmallVector<int64_t> strides = computeStrides(p.type.getShape());
        int64_t n = 0;
        for (Attribute value : init.getValues<Attribute>()) {
          SmallVector<Value> idx;
          int64_t rem = n++;
          for (int64_t s : strides) {
            idx.push_back(arith::ConstantIndexOp::create(kb, aloc, rem / s));
            rem %= s;
          }
          Value c = arith::ConstantOp::create(kb, aloc, cast<TypedAttr>(value));
          memref::StoreOp::create(kb, aloc, c, priv, idx);
        }
        // The private array has the global's identity layout.
        for (OpOperand &use : llvm::make_early_inc_range(old.getUses()))
          use.set(priv);
        continue;
      }
      Value buf = kernel.getArgument(next++);
      Value off = kernel.getArgument(next++);
      SmallVector<Value> strides, sizes(p.type.getRank());
      for (unsigned d = 0; d < p.type.getRank(); ++d)
        strides.push_back(
            ShapedType::isDynamic(p.strides[d])
                ? Value(kernel.getArgument(next++))
                : Value(arith::ConstantIndexOp::create(kb, aloc, p.strides[d])));
      for (unsigned d : p.sizeDims)
        sizes[d] = kernel.getArgument(next++);
      for (Operation *user : llvm::make_early_inc_range(old.getUsers())) {
        IRRewriter rw(user);
        auto linear = [&](ValueRange indices) {
          Value l = off;
          for (auto [ix, s] : llvm::zip(indices, strides))
            l = arith::AddIOp::create(
                rw, user->getLoc(), l,
                arith::MulIOp::create(rw, user->getLoc(), ix, s));
          return l;
        };
        if (auto load = dyn_cast<memref::LoadOp>(user)) {
          rw.replaceOpWithNewOp<memref::LoadOp>(
              load, buf, ValueRange{linear(load.getIndices())});
        } else if (auto store = dyn_cast<memref::StoreOp>(user)) {
          rw.replaceOpWithNewOp<memref::StoreOp>(
              store, store.getValueToStore(), buf,
              ValueRange{linear(store.getIndices())});
        } else {
          auto dim = cast<memref::DimOp>(user);
          int64_t d = *dim.getConstantIndex();
          Value size = p.type.isDynamicDim(d)
                           ? sizes[d]
                           : Value(arith::ConstantIndexOp::create(
                                 rw, dim.getLoc(), p.type.getDimSize(d)));
          rw.replaceOp(dim, size);
        }
      }
    }
    llvm::BitVector erase(kernel.getNumArguments());
    erase.set(0, numArgs);
    if (failed(kernel.eraseArguments(erase)))
      return kernel.emitError("cannot rewrite the kernel signature");
    launch.getKernelOperandsMutable().assign(newOperands);

    // Index is 32-bit on the device: casts of an index to i64 that only
    // feed int-to-float conversions become i32 casts (no Int64 needed).
    SmallVector<Operation *> casts;
    kernel.walk([&](Operation *op) {
      if (isa<arith::IndexCastOp, arith::IndexCastUIOp>(op) &&
          op->getResult(0).getType().isInteger(64) &&
          llvm::all_of(op->getUsers(), [](Operation *u) {
            return isa<arith::UIToFPOp, arith::SIToFPOp>(u);
          }))
        casts.push_back(op);
    });
    for (Operation *op : casts) {
      IRRewriter rw(op);
      Type i32 = rw.getI32Type();
      Value narrow =
          isa<arith::IndexCastOp>(op)
              ? Value(arith::IndexCastOp::create(rw, op->getLoc(), i32,
                                                 op->getOperand(0)))
              : Value(arith::IndexCastUIOp::create(rw, op->getLoc(), i32,
                                                   op->getOperand(0)));
      for (Operation *user : llvm::make_early_inc_range(op->getUsers())) {
        rw.setInsertionPoint(user);
        Type f = user->getResult(0).getType();
        Value conv = isa<arith::UIToFPOp>(user)
                         ? Value(arith::UIToFPOp::create(rw, user->getLoc(), f,
                                                         narrow))
                         : Value(arith::SIToFPOp::create(rw, user->getLoc(), f,
                                                         narrow));
        rw.replaceOp(user, conv);
      }
      rw.eraseOp(op);
    }

    SmallVector<Attribute> abiAttrs;
    for (const std::string &s : abi)
      abiAttrs.push_back(StringAttr::get(ctx, s));
    kernel->setAttr("llm.kernel_abi", ArrayAttr::get(ctx, abiAttrs));
    if (std::optional<ArrayRef<int32_t>> wg = kernel.getKnownBlockSize())
      kernel->setAttr(spirv::getEntryPointABIAttrName(),
                      spirv::getEntryPointABIAttr(ctx, *wg));
    else
      return kernel.emitError("kernel has no static workgroup size");
    return success();
  }
};
} // namespace
