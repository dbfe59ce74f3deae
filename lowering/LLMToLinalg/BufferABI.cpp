//===- BufferABI.cpp - the runtime's calling convention for the entry -----===//
//
// Gives the model entry the buffer ABI every backend's runtime calls:
//
//   forward(args as memrefs..., weights: memref<?xi8>, results as memrefs...)
//
// Tensor arguments become memrefs read through `to_tensor restrict`; the KV
// cache argument is also writable and the updated cache is materialized into
// it (in place after one-shot bufferization); every other result becomes an
// out-parameter filled with `materialize_in_destination`. Each `llm.param`
// becomes a typed `memref.view` at a fixed, aligned offset of the one packed
// weight buffer; the layout is recorded on the function (`llm.weights`) and
// `llmc compile` packs the weights to match it.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "dialects/llm/BlockLayout.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "dialects/llm/LLMAttrs.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::llm {
#define GEN_PASS_DEF_BUFFERABI
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;
using namespace mlir::llm;

namespace {
/// Alignment of paged expert weights: a page (4 KiB; 16 KiB and 64 KiB
/// page systems see expert slices split at their own page boundaries).
constexpr int64_t kPageAlignment = 4096;

MemRefType memrefOf(RankedTensorType t) {
  return MemRefType::get(t.getShape(), t.getElementType());
}

/// "concat(a, b)" / "scale_columns(w, g)": the packed name of a weight
/// transform.
std::string expressionName(Operation *op) {
  if (auto p = dyn_cast<ParamOp>(op))
    return p.getName().str();
  std::string s;
  llvm::raw_string_ostream os(s);
  os << op->getName().stripDialect() << "(";
  llvm::interleave(
      op->getOperands(), os,
      [&](Value v) { os << expressionName(v.getDefiningOp()); }, ", ");
  os << ")";
  return s;
}

} // namespace

std::string mlir::llm::lowering::packedWeightName(Value weight) {
  while (auto e = weight.getDefiningOp<tensor::ExpandShapeOp>())
    weight = e.getSrc();
  Operation *def = weight.getDefiningOp();
  return def ? expressionName(def) : std::string();
}

namespace {
/// Pack-time ops `llmc compile` evaluates: symbolic weight transforms.
bool isTransformOp(Operation *op) {
  return isa<ConcatOp, ScaleColumnsOp, QuantizeOp, TransposeOp>(op) ||
         isPackTimeDequantize(op);
}

/// A use that is itself part of a pack-time transform (not compute).
bool isTransformUse(Operation *user) { return isPackTimeTransform(user); }

/// How `llmc compile` computes a pack-time value's bytes: {param = name},
/// or {op, inputs, ...} with the inputs described the same way. A
/// quantize result adds which result, the scheme and the input's shape.
FailureOr<DictionaryAttr> describeValue(OpBuilder &b, Value v) {
  Operation *op = v.getDefiningOp();
  if (auto p = dyn_cast<ParamOp>(op)) {
    if (p.getQuantAttr())
      return op->emitError("symbolic transforms of quantized weights have no "
                           "buffer ABI yet");
    return b.getDictionaryAttr(b.getNamedAttr("param", p.getNameAttr()));
  }
  if (!isTransformOp(op))
    return op->emitError() << "weight transform '" << op->getName()
                           << "' has no buffer ABI";
  if (auto d = dyn_cast<DequantizeOp>(op)) {
    // GGUF blocks decoded while packing: the packer reads the param's
    // format from the model file.
    auto p = d.getInput().getDefiningOp<ParamOp>();
    if (!p)
      return op->emitError("only a weight's blocks are dequantized at pack "
                           "time");
    return b.getDictionaryAttr(
        {b.getNamedAttr("op", b.getStringAttr("dequantize")),
         b.getNamedAttr("inputs",
                        b.getArrayAttr({b.getDictionaryAttr(b.getNamedAttr(
                            "param", p.getNameAttr()))}))});
  }
  SmallVector<Attribute> inputs;
  for (Value in : op->getOperands()) {
    FailureOr<DictionaryAttr> inner = describeValue(b, in);
    if (failed(inner))
      return failure();
    inputs.push_back(*inner);
  }
  SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr("op", b.getStringAttr(op->getName().stripDialect())),
      b.getNamedAttr("inputs", b.getArrayAttr(inputs))};
  if (auto c = dyn_cast<ConcatOp>(op)) {
    if (c.getAxis() != 0)
      return op->emitError("only row (axis 0) concatenation of weights has a "
                           "buffer ABI");
    attrs.push_back(b.getNamedAttr("axis", c.getAxisAttr()));
  }
  if (auto t = dyn_cast<TransposeOp>(op)) {
    auto in = t.getInput().getType();
    if (!in.hasStaticShape())
      return op->emitError("only static weight transposes have a buffer ABI");
    attrs.push_back(b.getNamedAttr("rows", b.getI64IntegerAttr(in.getDimSize(0))));
    attrs.push_back(b.getNamedAttr("cols", b.getI64IntegerAttr(in.getDimSize(1))));
  }
  if (isa<ScaleColumnsOp>(op))
    for (Value in : op->getOperands())
      if (!cast<RankedTensorType>(in.getType()).getElementType().isF32())
        return op->emitError("scale_columns is packed for f32 weights only");
  if (auto q = dyn_cast<QuantizeOp>(op)) {
    QuantAttr quant = q.getQuant();
    auto in = q.getInput().getType();
    bool block = quant.isBlockScheme();
    int64_t unit = quant.getScheme() == QuantScheme::gqsa_q4_0_s50 ? 64
                   : quant.hasInputScales()                        ? quant.getGroup()
                                                                   : 32;
    bool packable =
        block ? (quant.getScheme() == QuantScheme::gguf_q8_0 ||
                 quant.getScheme() == QuantScheme::gguf_q4_0 ||
                 quant.getScheme() == QuantScheme::gqsa_q4_0_s50 ||
                 quant.getScheme() == QuantScheme::dgq_a8w4) &&
                    in.getRank() == 2 && in.hasStaticShape() &&
                    in.getShape()[1] % unit == 0
              : in.getRank() == 2 && in.hasStaticShape() &&
                    (quant.getBits() == 8 || quant.getBits() == 4) &&
                    (quant.getBits() == 8 || in.getShape()[1] % 2 == 0);
    if (!packable)
      return op->emitError() << "llm.quantize with " << quant << " of "
                             << in
                             << " has no buffer ABI (2-D, 4 or 8 bits, or "
                                "q8_0 / q4_0 / GQSA / DGQ blocks)";
    if (block) {
      StringRef scheme = stringifyQuantScheme(quant.getScheme());
      scheme.consume_front("gguf_");
      attrs.push_back(b.getNamedAttr("blocks", b.getStringAttr(scheme)));
    }
    attrs.push_back(b.getNamedAttr(
        "result",
        b.getI64IntegerAttr(cast<OpResult>(v).getResultNumber())));
    attrs.push_back(b.getNamedAttr("bits", b.getI64IntegerAttr(quant.getBits())));
    attrs.push_back(b.getNamedAttr("group", b.getI64IntegerAttr(quant.getGroup())));
    attrs.push_back(b.getNamedAttr("asymmetric",
                                   b.getBoolAttr(quant.hasZeroPoints())));
    if (op->hasAttr("llm.clip_search"))
      attrs.push_back(b.getNamedAttr("clip_search", b.getBoolAttr(true)));
    attrs.push_back(b.getNamedAttr("rows", b.getI64IntegerAttr(in.getShape()[0])));
    attrs.push_back(b.getNamedAttr("cols", b.getI64IntegerAttr(in.getShape()[1])));
  }
  return b.getDictionaryAttr(attrs);
}

/// Weights read as packed bytes inside an outlined layer function: the
/// lowering cast the function's argument to its bytes, but the weight is
/// bound in the caller. Each such argument takes the bytes type instead,
/// and every call site casts its weight (so the weight's only readers are
/// byte casts, as when it is read in place).
void hoistByteCastsToCallers(ModuleOp module, func::FuncOp entry) {
  SmallVector<func::CallOp> calls;
  entry.walk([&](func::CallOp c) { calls.push_back(c); });
  llvm::SmallPtrSet<Operation *, 4> done;
  for (func::CallOp call : calls) {
    auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal() || !done.insert(callee).second)
      continue;
    Block &body = callee.getBody().front();
    SmallVector<Type> argTypes(callee.getArgumentTypes());
    for (BlockArgument arg : body.getArguments()) {
      auto users = llvm::to_vector(arg.getUsers());
      if (users.empty() || !llvm::all_of(users, [&](Operation *u) {
            return isa<UnrealizedConversionCastOp>(u) &&
                   u->getNumResults() == 1 &&
                   u->getResult(0).getType() ==
                       users[0]->getResult(0).getType() &&
                   u->getAttr(lowering::kBlockLayoutAttr) ==
                       users[0]->getAttr(lowering::kBlockLayoutAttr);
          }))
        continue;
      Operation *cast = users[0];
      Type bytes = cast->getResult(0).getType();
      for (func::CallOp site : calls) {
        if (site.getCallee() != callee.getName())
          continue;
        OpBuilder b(site);
        Operation *copy = b.clone(*cast);
        copy->setOperand(0, site.getOperand(arg.getArgNumber()));
        site->setOperand(arg.getArgNumber(), copy->getResult(0));
      }
      arg.setType(bytes);
      for (Operation *u : users) {
        u->getResult(0).replaceAllUsesWith(arg);
        u->erase();
      }
      argTypes[arg.getArgNumber()] = bytes;
    }
    callee.setType(FunctionType::get(module.getContext(), argTypes,
                                     callee.getResultTypes()));
  }
}

/// Erases the pack-time ops nothing uses any more (all bound).
void eraseDeadTransforms(func::FuncOp func) {
  for (bool changed = true; changed;) {
    SmallVector<Operation *> dead;
    func.walk([&](Operation *op) {
      if ((isa<ParamOp>(op) || isTransformOp(op)) && op->use_empty())
        dead.push_back(op);
    });
    for (Operation *op : dead)
      op->erase();
    changed = !dead.empty();
  }
}

struct BufferABI : llm::impl::BufferABIBase<BufferABI> {
  using BufferABIBase::BufferABIBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto func = module.lookupSymbol<func::FuncOp>(entry);
    if (!func || func.isExternal()) {
      module.emitError() << "no entry function '" << entry << "' with a body";
      return signalPassFailure();
    }
    if (alignment <= 0 || (alignment & (alignment - 1))) {
      module.emitError("alignment must be a power of two");
      return signalPassFailure();
    }
    if (!func.getBody().hasOneBlock()) {
      func.emitError("entry function must have a single block");
      return signalPassFailure();
    }
    hoistByteCastsToCallers(module, func);
    if (failed(rewrite(func)))
      signalPassFailure();
  }

  LogicalResult rewrite(func::FuncOp func) {
    MLIRContext *ctx = func.getContext();
    OpBuilder b(ctx);
    Block &body = func.front();
    Location loc = func.getLoc();
    FunctionType fnType = func.getFunctionType();

    // Which argument the KV cache result is written back into.
    int cacheArg = -1;
    for (unsigned i = 0; i < fnType.getNumInputs(); ++i)
      if (func.getArgAttr(i, "llm.kv_cache"))
        cacheArg = i;

    SmallVector<Type> inputs;
    for (Type t : fnType.getInputs()) {
      if (auto tt = dyn_cast<RankedTensorType>(t))
        inputs.push_back(memrefOf(tt));
      else if (t.isIntOrIndexOrFloat())
        inputs.push_back(t);
      else
        return func.emitError() << "entry argument of type " << t
                                << " has no buffer ABI";
    }
    unsigned weightsArg = inputs.size();
    auto bytes = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
    inputs.push_back(bytes);
    SmallVector<int> resultSlot; // argument index each result is written to
    for (unsigned r = 0; r < fnType.getNumResults(); ++r) {
      auto tt = dyn_cast<RankedTensorType>(fnType.getResult(r));
      if (!tt)
        return func.emitError() << "entry result " << r
                                << " is not a ranked tensor";
      if (func.getResultAttr(r, "llm.kv_cache") && cacheArg >= 0 &&
          fnType.getInput(cacheArg) == tt) {
        resultSlot.push_back(cacheArg);
        continue;
      }
      resultSlot.push_back(inputs.size());
      inputs.push_back(memrefOf(tt));
    }

    // New block arguments; the old tensor arguments read them.
    SmallVector<BlockArgument> oldArgs(body.getArguments());
    SmallVector<Value> newArgs;
    for (Type t : inputs)
      newArgs.push_back(body.addArgument(t, loc));
    b.setInsertionPointToStart(&body);
    for (auto [i, old] : llvm::enumerate(oldArgs)) {
      Value replacement = newArgs[i];
      if (auto tt = dyn_cast<RankedTensorType>(old.getType()))
        replacement = bufferization::ToTensorOp::create(
            b, loc, tt, newArgs[i], /*restrict=*/true,
            /*writable=*/static_cast<int>(i) == cacheArg);
      old.replaceAllUsesWith(replacement);
    }

    // Weights: one aligned slot per pack-time value that compute ops use
    // (a param, or a result of a symbolic transform of params), in
    // first-use order.
    llvm::StringMap<std::pair<int64_t, Type>> slots;
    llvm::StringSet<> pagedWeights;
    if (auto sites = func->getParentOfType<ModuleOp>()->getAttrOfType<ArrayAttr>(
            "llm.moe_sites"))
      for (auto site : sites.getAsRange<DictionaryAttr>())
        if (auto names = site.getAs<ArrayAttr>("weights"))
          for (auto n : names.getAsRange<StringAttr>())
            pagedWeights.insert(n.getValue());
    SmallVector<Attribute> table;
    int64_t offset = 0;
    SmallVector<Value> roots;
    func.walk([&](Operation *op) {
      if (!isa<ParamOp>(op) && !isTransformOp(op))
        return;
      for (Value v : op->getResults())
        if (isPackTimeWeight(v) &&
            llvm::any_of(v.getUsers(),
                         [](Operation *u) { return !isTransformUse(u); }))
          roots.push_back(v);
    });
    for (Value root : roots) {
      Operation *def = root.getDefiningOp();
      auto type = cast<RankedTensorType>(root.getType());
      // A value read as packed bytes (GGUF blocks, 4-bit integers) has only
      // casts to one flat i8 tensor as users (see LLMToLinalg); it is bound
      // as those bytes.
      auto users = llvm::to_vector(root.getUsers());
      auto bytesType = users.empty() ? RankedTensorType() :
          dyn_cast<RankedTensorType>(users[0]->getResultTypes().empty()
                                         ? Type()
                                         : users[0]->getResult(0).getType());
      bool asBytes = bytesType && bytesType.getRank() == 1 &&
                     bytesType.getElementType().isInteger(8) &&
                     llvm::all_of(users, [&](Operation *u) {
                       return isa<UnrealizedConversionCastOp>(u) &&
                              u->getNumResults() == 1 &&
                              u->getResult(0).getType() == bytesType;
                     });
      RankedTensorType bound = asBytes ? bytesType : type;
      // The layout the readers want the bytes in (all alike).
      StringAttr layout;
      if (asBytes) {
        layout = users[0]->getAttrOfType<StringAttr>(lowering::kBlockLayoutAttr);
        for (Operation *u : users)
          if (u->getAttrOfType<StringAttr>(lowering::kBlockLayoutAttr) != layout)
            return def->emitError("weight is read in two block layouts");
      }
      std::string dtype;
      auto p = dyn_cast<ParamOp>(def);
      llm::QuantAttr q = p ? p.getQuantAttr() : llm::QuantAttr();
      if (q) {
        StringRef scheme = llm::stringifyQuantScheme(q.getScheme());
        if (!asBytes || !scheme.consume_front("gguf_"))
          return p.emitError("quantized weights have no buffer ABI yet");
        dtype = scheme.str();
      } else if (auto qz = dyn_cast<QuantizeOp>(def);
                 qz && root == qz.getQuantized() &&
                 qz.getQuant().isBlockScheme()) {
        StringRef scheme = llm::stringifyQuantScheme(qz.getQuant().getScheme());
        if (!asBytes)
          return qz.emitError("block-quantized weights are bound as their "
                              "blocks: the users must read them so");
        scheme.consume_front("gguf_");
        dtype = scheme.str();
      } else if (auto qz = dyn_cast<QuantizeOp>(def);
                 qz && root == qz.getQuantized()) {
        unsigned bits = qz.getQuant().getBits();
        if (bits != 8 && !asBytes)
          return qz.emitError() << "i" << bits << " weights are bound as "
                                   "packed bytes: the users must read them so";
        dtype = (qz.getQuant().hasZeroPoints() ? "u" : "i") +
                std::to_string(bits);
      } else if (!isa<FloatType>(type.getElementType()) || asBytes) {
        return def->emitError("quantized weights have no buffer ABI yet");
      } else {
        llvm::raw_string_ostream(dtype) << type.getElementType();
      }
      DictionaryAttr transform;
      if (!p) {
        FailureOr<DictionaryAttr> t = describeValue(b, root);
        if (failed(t))
          return failure();
        transform = *t;
      }
      std::string name = p ? p.getName().str() : expressionName(def);
      if (def->getNumResults() > 1)
        name += "#" + std::to_string(cast<OpResult>(root).getResultNumber());
      auto it = slots.find(name);
      if (it == slots.end()) {
        int64_t size = bound.getNumElements() *
                       (bound.getElementTypeBitWidth() / 8);
        // Paged experts' weights start on a page (the runtime maps each
        // expert's whole pages in and out).
        int64_t align = pagedWeights.contains(name)
                            ? std::max<int64_t>(alignment, kPageAlignment)
                            : alignment;
        offset = (offset + align - 1) / align * align;
        it = slots.try_emplace(name, offset, type).first;
        SmallVector<Attribute> shape;
        for (int64_t d : type.getShape())
          shape.push_back(b.getI64IntegerAttr(d));
        SmallVector<NamedAttribute> entry = {
            b.getNamedAttr("name", b.getStringAttr(name)),
            b.getNamedAttr("offset", b.getI64IntegerAttr(offset)),
            b.getNamedAttr("bytes", b.getI64IntegerAttr(size)),
            b.getNamedAttr("shape", b.getArrayAttr(shape)),
            b.getNamedAttr("dtype", b.getStringAttr(dtype))};
        if (transform)
          entry.push_back(b.getNamedAttr("transform", transform));
        if (layout) {
          int64_t tile = llmc::blockLayoutTile(layout.getValue());
          bool kquant = llmc::kquant::formatNamed(dtype) != nullptr;
          // Stacked experts [E, rows, cols]: E * rows rows.
          int64_t rank = type.getRank(),
                  rows = rank >= 2 ? type.getNumElements() / type.getShape().back()
                                   : 0;
          if (!tile || rank < 2 || rank > 3 || (rank == 3 && tile != 1) ||
              rows % (8 * tile) ||
              (dtype != "q8_0" && dtype != "q4_0" && !kquant) ||
              (kquant && type.getShape().back() % 256))
            return def->emitError()
                   << "block layout " << layout
                   << " needs q8_0 / q4_0 / q2_k .. q6_k / q5_0 / q5_1 / "
                      "iq4_nl rows in groups of 8 (rows8) or 64 (rows64)";
          entry.push_back(b.getNamedAttr("layout", layout));
        }
        table.push_back(b.getDictionaryAttr(entry));
        offset += size;
      } else if (it->second.second != type) {
        return def->emitError() << "weight '" << name
                                << "' is used with types "
                                << it->second.second << " and " << type;
      }
      b.setInsertionPoint(def);
      Location loc = def->getLoc();
      Value shift = arith::ConstantIndexOp::create(b, loc, it->second.first);
      Value view = memref::ViewOp::create(b, loc, memrefOf(bound),
                                          newArgs[weightsArg], shift,
                                          ValueRange{});
      Value tensor = bufferization::ToTensorOp::create(
                         b, loc, bound, view, /*restrict=*/true)
                         .getResult();
      if (asBytes) {
        for (Operation *u : users) {
          u->getResult(0).replaceAllUsesWith(tensor);
          u->erase();
        }
      } else {
        // Transforms of this value that other roots consume keep reading
        // the symbolic value until they are bound themselves.
        root.replaceUsesWithIf(tensor, [](OpOperand &use) {
          return !isTransformUse(use.getOwner());
        });
      }
    }
    // The symbolic values are all bound now.
    eraseDeadTransforms(func);

    // Results go to their buffers.
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    b.setInsertionPoint(ret);
    for (auto [r, value] : llvm::enumerate(ret.getOperands())) {
      Value result = value;
      if (resultSlot[r] != cacheArg) {
        // Out-parameters are filled by an explicit linalg.copy (which
        // bufferization writes in place), never by a library memref copy.
        auto type = cast<RankedTensorType>(value.getType());
        Value dest = bufferization::ToTensorOp::create(
            b, ret.getLoc(), type, newArgs[resultSlot[r]], /*restrict=*/true,
            /*writable=*/true);
        result = linalg::CopyOp::create(b, ret.getLoc(), value, dest)
                     .getResult(0);
      }
      auto mat = bufferization::MaterializeInDestinationOp::create(
          b, ret.getLoc(), TypeRange{}, result, newArgs[resultSlot[r]]);
      mat.setRestrict(true);
      mat.setWritable(true);
    }
    func::ReturnOp::create(b, ret.getLoc());
    ret.erase();
    body.eraseArguments(0, oldArgs.size());

    func.setType(FunctionType::get(ctx, inputs, {}));
    func.setAllArgAttrs(SmallVector<DictionaryAttr>(inputs.size(),
                                                    b.getDictionaryAttr({})));
    func.setAllResultAttrs(ArrayRef<DictionaryAttr>{});
    func->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    func->setAttr("llm.weights", b.getArrayAttr(table));
    func->setAttr("llm.weights_bytes", b.getI64IntegerAttr(offset));
    return success();
  }
};
} // namespace
