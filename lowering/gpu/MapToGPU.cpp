//===- MapToGPU.cpp - buffer-level loops onto GPU workgroups --------------===//
//
// After bufferization, every host-side buffer access of the model entry
// becomes a parallel loop nest mapped onto the GPU grid, so that
// `convert-parallel-loops-to-gpu` turns the whole function into kernel
// launches and the host code only allocates, slices and launches:
//
//   - `memref.copy` becomes `linalg.copy`;
//   - every linalg op becomes an `scf.parallel` over its parallel dims with
//     its reductions as sequential loops inside (an op with no parallel dim
//     runs as one invocation);
//   - host allocations become device allocations (`gpu.alloc`/`gpu.dealloc`
//     on a stream, as `gpu-to-llvm` lowers them to the runtime's mgpu*
//     calls);
//   - each outermost parallel nest is tiled: the innermost dim by the
//     workgroup width (threads), the rest one per workgroup, on a grid of
//     up to three dims (x = innermost; dims beyond three are first
//     collapsed into the outermost one); nested parallel loops run
//     sequentially inside an invocation.
//
// Anything left that reads or writes a buffer outside a mapped loop is an
// error: the host cannot touch device memory.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::llm {
#define GEN_PASS_DEF_GPUMAPLOOPS
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
using gpu::Processor;

/// Whether `op` reads or writes buffer contents (as opposed to only
/// handling descriptors: views, casts, allocation).
bool touchesMemory(Operation *op) {
  if (isa<memref::LoadOp, memref::StoreOp, memref::AtomicRMWOp,
          memref::GenericAtomicRMWOp, memref::CopyOp>(op))
    return true;
  if (isa<linalg::LinalgOp>(op))
    return true;
  return op->getDialect() &&
         op->getDialect()->getNamespace() ==
             vector::VectorDialect::getDialectNamespace() &&
         !isa<vector::BroadcastOp>(op);
}

gpu::ParallelLoopDimMappingAttr dimMapping(MLIRContext *ctx, Processor p) {
  AffineMap id = AffineMap::getMultiDimIdentityMap(1, ctx);
  return gpu::ParallelLoopDimMappingAttr::get(ctx, p, id, id);
}

/// Marks every dim of `loop` and of the parallel loops nested in it
/// sequential.
void mapSequential(scf::ParallelOp loop) {
  MLIRContext *ctx = loop.getContext();
  loop.walk([&](scf::ParallelOp inner) {
    SmallVector<gpu::ParallelLoopDimMappingAttr> m(
        inner.getNumLoops(), dimMapping(ctx, Processor::Sequential));
    (void)gpu::setMappingAttr(inner, m);
  });
}


/// What a reduction generic folds into its accumulator per iteration and
/// how (arith::AtomicRMWKind::addf, or maximumf as softmax's row max).
struct Reduced {
  Value term;
  arith::AtomicRMWKind kind;
};

/// The reduction of a generic whose body is `yield addf(acc, expr)` or
/// `yield maximumf(acc, expr)` (f32) with `expr` independent of the
/// accumulator.
std::optional<Reduced> reducedTerm(linalg::GenericOp op) {
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  if (yield.getNumOperands() != 1)
    return std::nullopt;
  Operation *def = yield.getOperand(0).getDefiningOp();
  arith::AtomicRMWKind kind;
  if (isa_and_nonnull<arith::AddFOp>(def))
    kind = arith::AtomicRMWKind::addf;
  else if (isa_and_nonnull<arith::MaximumFOp>(def))
    kind = arith::AtomicRMWKind::maximumf;
  else
    return std::nullopt;
  BlockArgument acc = body.getArguments().back();
  if (!def->getResult(0).getType().isF32() || !acc.hasOneUse())
    return std::nullopt;
  if (def->getOperand(0) == acc)
    return Reduced{def->getOperand(1), kind};
  if (def->getOperand(1) == acc)
    return Reduced{def->getOperand(0), kind};
  return std::nullopt;
}

/// Whether `op` is a sum or max over its last (reduction) dim, dynamic or
/// of at least `minLength` static elements, all of whose operands are
/// buffers: the ops (matrix-vector products, norms, softmax's row max and
/// sum, attention's weighted sum over positions) whose reduction is split
/// across a workgroup.
bool isWorkgroupReducible(linalg::GenericOp op, int64_t minLength) {
  if (op.getNumReductionLoops() != 1 || op.getNumDpsInits() != 1 ||
      op.getNumParallelLoops() < 1 ||
      !linalg::isReductionIterator(op.getIteratorTypesArray().back()))
    return false;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  if (!ShapedType::isDynamic(ranges.back()) && ranges.back() < minLength)
    return false;
  for (OpOperand &o : op->getOpOperands())
    if (!isa<MemRefType>(o.get().getType()))
      return false;
  unsigned last = op.getNumLoops() - 1;
  if (op.getMatchingIndexingMap(op.getDpsInitOperand(0))
          .isFunctionOfDim(last))
    return false;
  // A short static reduction over an input laid out along the innermost
  // parallel dim (attention's q.k over head_dim, with keys stored along
  // positions) runs best as one thread per output: neighbouring threads
  // then read neighbouring addresses, and no exchange is needed.
  if (!ShapedType::isDynamic(ranges.back()) && ranges.back() <= 256 && last >= 1)
    for (OpOperand *in : op.getDpsInputOperands()) {
      AffineMap map = op.getMatchingIndexingMap(in);
      if (!map.isFunctionOfDim(last) || map.getNumResults() == 0)
        continue;
      auto inner = dyn_cast<AffineDimExpr>(map.getResults().back());
      if (inner && inner.getPosition() == last - 1)
        return false;
    }
  return reducedTerm(op).has_value();
}

/// How a workgroup reduction is built (the pass options).
struct ReductionStyle {
  int64_t width = 64;     ///< threads per workgroup
  bool allReduce = false; ///< gpu.all_reduce instead of a workgroup-memory tree
  int64_t vector = 1;     ///< elements per load of the reduced operands
};

/// The inputs of `op` a vectorized reduction loads `vector` elements of at
/// once: those indexed by the reduction dim in their innermost (unit
/// stride) dim only. Empty if some input is indexed by it elsewhere.
std::optional<SmallVector<OpOperand *>> vectorOperands(linalg::GenericOp op) {
  unsigned last = op.getNumLoops() - 1;
  SmallVector<OpOperand *> vec;
  for (OpOperand *in : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(in);
    if (!map.isFunctionOfDim(last))
      continue;
    auto type = cast<MemRefType>(in->get().getType());
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) || strides.empty() ||
        strides.back() != 1 || !type.getElementType().isF32())
      return std::nullopt;
    ArrayRef<AffineExpr> results = map.getResults();
    auto d = dyn_cast<AffineDimExpr>(results.back());
    if (!d || d.getPosition() != last)
      return std::nullopt;
    for (AffineExpr e : results.drop_back())
      if (e.isFunctionOfDim(last))
        return std::nullopt;
    vec.push_back(in);
  }
  return vec;
}

/// The parallel dims a workgroup reduction computes all of at once (each
/// thread keeping one accumulator per combination): static dims of at most
/// 8 iterations (together) that some reduced input does not index, so the
/// thread reads that input once for all of them. The linear projection's
/// 4-token block is one: a decode step reads each weight row once, not
/// once per (padding) token.
SmallVector<unsigned> foldedDims(linalg::GenericOp op) {
  unsigned numLoops = op.getNumLoops(), last = numLoops - 1;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<unsigned> folded;
  int64_t product = 1;
  // The last parallel dim stays on the grid (it is the widest in practice).
  for (unsigned d = 0; d + 2 < numLoops; ++d) {
    if (ShapedType::isDynamic(ranges[d]) || product * ranges[d] > 8)
      continue;
    bool reused = llvm::any_of(op.getDpsInputOperands(), [&](OpOperand *in) {
      AffineMap map = op.getMatchingIndexingMap(in);
      return map.isFunctionOfDim(last) && !map.isFunctionOfDim(d);
    });
    if (!reused)
      continue;
    folded.push_back(d);
    product *= ranges[d];
  }
  return folded;
}

/// Replaces a workgroup-reducible generic by a gpu.launch: one workgroup
/// per output element (or per group of outputs over the folded dims, see
/// foldedDims; grid x/y = the last two other parallel dims, z = the rest
/// linearized), its threads striding over the reduction, partial results
/// combined either in workgroup memory by a tree of halvings with barriers
/// or by a `gpu.all_reduce` (warp shuffles on NVVM), and thread 0 folding
/// the totals into the outputs. With `style.vector` > 1, each thread loads
/// that many consecutive elements of the reduced operands at once (128-bit
/// loads for 4 x f32) when, at run time, every such operand's offset and
/// outer strides are multiples of it (the loads are then aligned); other
/// launches take the scalar loop.
void buildWorkgroupReduction(IRRewriter &rewriter, linalg::GenericOp op,
                             ReductionStyle style) {
  Location loc = op.getLoc();
  int64_t width = style.width;
  rewriter.setInsertionPoint(op);
  SmallVector<Range> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(rewriter, loc);
  unsigned numLoops = op.getNumLoops(), numPar = numLoops - 1;
  SmallVector<Value> sizes;
  for (Range r : ranges)
    sizes.push_back(getValueOrCreateConstantIndexOp(rewriter, loc, r.size));
  SmallVector<int64_t> staticRanges = op.getStaticLoopRanges();
  SmallVector<unsigned> folded = foldedDims(op), grid;
  for (unsigned d = 0; d < numPar; ++d)
    if (!llvm::is_contained(folded, d))
      grid.push_back(d);
  // Every combination of the folded dims' values (one accumulator each).
  SmallVector<SmallVector<int64_t>> combos = {{}};
  for (unsigned d : folded) {
    SmallVector<SmallVector<int64_t>> next;
    for (const auto &c : combos)
      for (int64_t i = 0; i < staticRanges[d]; ++i) {
        next.push_back(c);
        next.back().push_back(i);
      }
    combos = std::move(next);
  }
  size_t numAcc = combos.size();
  Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
  unsigned g = grid.size();
  Value gx = g >= 1 ? sizes[grid[g - 1]] : c1;
  Value gy = g >= 2 ? sizes[grid[g - 2]] : c1;
  Value gz = c1;
  for (unsigned i = 0; i + 2 < g; ++i)
    gz = arith::MulIOp::create(rewriter, loc, gz, sizes[grid[i]]);
  Value wg = arith::ConstantIndexOp::create(rewriter, loc, width);
  Type f32 = rewriter.getF32Type();
  // Vectorized only if the static length splits evenly into vectors per
  // thread and the reduced operands are contiguous along it.
  int64_t vec = style.vector;
  std::optional<SmallVector<OpOperand *>> vecOps;
  int64_t length = staticRanges.back();
  if (vec > 1 && !ShapedType::isDynamic(length) && length % (vec * width) == 0)
    vecOps = vectorOperands(op);
  if (!vecOps || vecOps->empty())
    vec = 1;
  auto launch = gpu::LaunchOp::create(rewriter, loc, gx, gy, gz, wg, c1, c1);
  rewriter.setInsertionPointToStart(&launch.getBody().front());
  gpu::KernelDim3 bid = launch.getBlockIds(), tid = launch.getThreadIds();
  // The outputs this workgroup computes: grid dims from the block ids, one
  // index vector per folded combination.
  SmallVector<Value> ivs(numLoops);
  if (g >= 1)
    ivs[grid[g - 1]] = bid.x;
  if (g >= 2)
    ivs[grid[g - 2]] = bid.y;
  Value rest = bid.z;
  for (int i = int(g) - 3; i >= 0; --i) {
    ivs[grid[i]] = arith::RemUIOp::create(rewriter, loc, rest, sizes[grid[i]]);
    rest = arith::DivUIOp::create(rewriter, loc, rest, sizes[grid[i]]);
  }
  SmallVector<SmallVector<Value>> accIvs;
  for (const auto &c : combos) {
    accIvs.push_back(ivs);
    for (auto [d, v] : llvm::zip(folded, c))
      accIvs.back()[d] = arith::ConstantIndexOp::create(rewriter, loc, v);
  }
  auto indices = [&](OpBuilder &b, OpOperand &o, ValueRange iv) {
    AffineMap map = op.getMatchingIndexingMap(&o);
    SmallVector<Value> idx;
    for (AffineExpr e : map.getResults())
      idx.push_back(affine::AffineApplyOp::create(
          b, loc, AffineMap::get(numLoops, 0, e), iv));
    return idx;
  };
  auto loadOperand = [&](OpBuilder &b, OpOperand &o, ValueRange iv) -> Value {
    return memref::LoadOp::create(b, loc, o.get(), indices(b, o, iv));
  };
  Reduced red = *reducedTerm(op);
  Value term = red.term;
  Value init =
      arith::getIdentityValue(red.kind, rewriter.getF32Type(), rewriter, loc);
  SmallVector<Value> inits(numAcc, init);
  Block &body = op.getRegion().front();
  Operation *combineOp = body.getTerminator()->getOperand(0).getDefiningOp();
  // The body's term at the index vector `iv`, inputs given by `inputAt`.
  auto emitTerm = [&](OpBuilder &b, ArrayRef<Value> iv,
                      llvm::function_ref<Value(OpOperand &)> inputAt) {
    IRMapping map;
    for (OpOperand *in : op.getDpsInputOperands())
      map.map(body.getArgument(in->getOperandNumber()), inputAt(*in));
    for (Operation &bop : body.without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(bop)) {
        map.map(index.getResult(), iv[index.getDim()]);
        continue;
      }
      if (&bop != combineOp)
        b.clone(bop, map);
    }
    return map.lookupOrDefault(term);
  };
  auto withK = [&](size_t a, Value k) {
    SmallVector<Value> iv(accIvs[a]);
    iv.back() = k;
    return iv;
  };
  // Each thread's partial results over k = tid, tid + width, ... (scalar)
  // or k = vec * tid + [0, vec), then + vec * width, ... (vectorized).
  auto scalarLoop = [&](OpBuilder &b) {
    auto loop = scf::ForOp::create(
        b, loc, tid.x, sizes.back(), wg, inits,
        [&](OpBuilder &lb, Location l, Value k, ValueRange iter) {
          SmallVector<Value> next;
          for (size_t a = 0; a < numAcc; ++a) {
            SmallVector<Value> iv = withK(a, k);
            Value t = emitTerm(lb, iv, [&](OpOperand &in) {
              return loadOperand(lb, in, iv);
            });
            next.push_back(arith::getReductionOp(red.kind, lb, l, iter[a], t));
          }
          scf::YieldOp::create(lb, l, next);
        });
    return SmallVector<Value>(loop.getResults());
  };
  auto vectorLoop = [&](OpBuilder &b) {
    Value v = arith::ConstantIndexOp::create(b, loc, vec);
    Value start = arith::MulIOp::create(b, loc, tid.x, v);
    Value step = arith::ConstantIndexOp::create(b, loc, vec * width);
    auto vecTy = VectorType::get({vec}, f32);
    auto loop = scf::ForOp::create(
        b, loc, start, sizes.back(), step, inits,
        [&](OpBuilder &lb, Location l, Value k, ValueRange iter) {
          SmallVector<Value> acc(iter);
          for (size_t a = 0; a < numAcc; ++a) {
            // Vector loads per accumulator; an operand that does not depend
            // on the folded dims loads the same vector for each (LLVM keeps
            // one load).
            SmallVector<Value> iv = withK(a, k);
            DenseMap<OpOperand *, Value> loaded;
            for (OpOperand *in : *vecOps) {
              auto load = vector::LoadOp::create(lb, l, vecTy, in->get(),
                                                 indices(lb, *in, iv));
              load.setAlignment(vec * 4);
              loaded[in] = load;
            }
            for (int64_t j = 0; j < vec; ++j) {
              Value kj = arith::AddIOp::create(
                  lb, l, k, arith::ConstantIndexOp::create(lb, l, j));
              SmallVector<Value> ivj = withK(a, kj);
              Value t = emitTerm(lb, ivj, [&](OpOperand &in) -> Value {
                auto it = loaded.find(&in);
                if (it != loaded.end())
                  return vector::ExtractOp::create(lb, l, it->second,
                                                   ArrayRef<int64_t>{j});
                return loadOperand(lb, in, ivj);
              });
              acc[a] = arith::getReductionOp(red.kind, lb, l, acc[a], t);
            }
          }
          scf::YieldOp::create(lb, l, acc);
        });
    return SmallVector<Value>(loop.getResults());
  };
  SmallVector<Value> partial;
  if (vec > 1) {
    // Aligned iff each vector operand's offset and outer strides are
    // multiples of `vec` (the buffers themselves are 64-byte aligned).
    Value cv = arith::ConstantIndexOp::create(rewriter, loc, vec);
    Value c0i = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value aligned;
    for (OpOperand *in : *vecOps) {
      auto md = memref::ExtractStridedMetadataOp::create(rewriter, loc, in->get());
      SmallVector<Value> parts{md.getOffset()};
      for (Value st : md.getStrides().drop_back())
        parts.push_back(st);
      for (Value p : parts) {
        Value rem = arith::RemUIOp::create(rewriter, loc, p, cv);
        Value ok = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                         rem, c0i);
        aligned = aligned ? arith::AndIOp::create(rewriter, loc, aligned, ok)
                                .getResult()
                          : ok;
      }
    }
    SmallVector<Type> types(numAcc, f32);
    auto ifOp = scf::IfOp::create(rewriter, loc, types, aligned,
                                  /*withElseRegion=*/true);
    OpBuilder tb = ifOp.getThenBodyBuilder();
    scf::YieldOp::create(tb, loc, vectorLoop(tb));
    OpBuilder eb = ifOp.getElseBodyBuilder();
    scf::YieldOp::create(eb, loc, scalarLoop(eb));
    partial = SmallVector<Value>(ifOp.getResults());
  } else {
    partial = scalarLoop(rewriter);
  }

  Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
  SmallVector<Value> totals;
  if (style.allReduce) {
    auto kind = gpu::AllReduceOperationAttr::get(
        rewriter.getContext(), red.kind == arith::AtomicRMWKind::addf
                                   ? gpu::AllReduceOperation::ADD
                                   : gpu::AllReduceOperation::MAXIMUMF);
    for (Value p : partial)
      totals.push_back(gpu::AllReduceOp::create(rewriter, loc, p, kind,
                                                /*uniform=*/true)
                           .getResult());
  } else {
    // Workgroup memory as an allocation in memory space 3, which the
    // SPIR-V lowering maps to the Workgroup storage class; one row per
    // accumulator, all reduced by the same tree.
    auto shared = MemRefType::get({int64_t(numAcc), width}, f32,
                                  MemRefLayoutAttrInterface(),
                                  rewriter.getI64IntegerAttr(3));
    Value sh = memref::AllocOp::create(rewriter, loc, shared);
    SmallVector<Value> rows;
    for (size_t a = 0; a < numAcc; ++a) {
      rows.push_back(arith::ConstantIndexOp::create(rewriter, loc, a));
      memref::StoreOp::create(rewriter, loc, partial[a], sh,
                              ValueRange{rows[a], tid.x});
    }
    gpu::BarrierOp::create(rewriter, loc);
    for (int64_t half = width / 2; half >= 1; half /= 2) {
      Value h = arith::ConstantIndexOp::create(rewriter, loc, half);
      Value active = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::ult, tid.x, h);
      scf::IfOp::create(rewriter, loc, active, [&](OpBuilder &b, Location l) {
        Value other = arith::AddIOp::create(b, l, tid.x, h);
        for (Value r : rows) {
          Value x = memref::LoadOp::create(b, l, sh, ValueRange{r, tid.x});
          Value y = memref::LoadOp::create(b, l, sh, ValueRange{r, other});
          memref::StoreOp::create(b, l, arith::getReductionOp(red.kind, b, l, x, y), sh,
                                  ValueRange{r, tid.x});
        }
        scf::YieldOp::create(b, l);
      });
      gpu::BarrierOp::create(rewriter, loc);
    }
    for (Value r : rows)
      totals.push_back(memref::LoadOp::create(rewriter, loc, sh, ValueRange{r, c0}));
  }
  Value first = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq,
                                      tid.x, c0);
  scf::IfOp::create(rewriter, loc, first, [&](OpBuilder &b, Location l) {
    OpOperand *out = op.getDpsInitOperand(0);
    for (size_t a = 0; a < numAcc; ++a) {
      // The output does not depend on the reduction dim.
      SmallVector<Value> iv = withK(a, c0);
      Value old = loadOperand(b, *out, iv);
      Value sum = arith::getReductionOp(red.kind, b, l, old, totals[a]);
      memref::StoreOp::create(b, l, sum, out->get(), indices(b, *out, iv));
    }
    scf::YieldOp::create(b, l);
  });
  gpu::TerminatorOp::create(rewriter, loc);
  rewriter.eraseOp(op);
}

struct GPUMapLoops : mlir::llm::impl::GPUMapLoopsBase<GPUMapLoops> {
  using GPUMapLoopsBase::GPUMapLoopsBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    MLIRContext *ctx = &getContext();
    IRRewriter rewriter(ctx);
    if (workgroupSize < 1 || workgroupSize > 1024) {
      func.emitError("workgroup-size must be in [1, 1024], got ")
          << static_cast<int64_t>(workgroupSize);
      return signalPassFailure();
    }

    // Copies become linalg so that they lower like every other op.
    SmallVector<memref::CopyOp> copies;
    func.walk([&](memref::CopyOp c) { copies.push_back(c); });
    for (memref::CopyOp c : copies) {
      rewriter.setInsertionPoint(c);
      linalg::CopyOp::create(rewriter, c.getLoc(), c.getSource(),
                             c.getTarget());
      rewriter.eraseOp(c);
    }

    // Long sum reductions (matrix-vector products, norms): one workgroup
    // per output, the reduction split across its threads.
    if (reduceLength > 0 && !llvm::isPowerOf2_64(workgroupSize)) {
      func.emitError("workgroup-size must be a power of two to split "
                     "reductions (reduce-length > 0), got ")
          << static_cast<int64_t>(workgroupSize);
      return signalPassFailure();
    }
    if (reduction != "tree" && reduction != "all-reduce") {
      func.emitError("reduction must be 'tree' or 'all-reduce', got '")
          << reduction << "'";
      return signalPassFailure();
    }
    if (vectorWidth < 1 || vectorWidth > 4 || !llvm::isPowerOf2_64(vectorWidth)) {
      func.emitError("vector-width must be 1, 2 or 4, got ") << static_cast<int64_t>(vectorWidth);
      return signalPassFailure();
    }
    if (reduceLength > 0) {
      SmallVector<linalg::GenericOp> reducible;
      func.walk([&](linalg::GenericOp op) {
        if (!op->getParentOfType<scf::ParallelOp>() &&
            isWorkgroupReducible(op, reduceLength))
          reducible.push_back(op);
      });
      ReductionStyle style{workgroupSize, reduction == "all-reduce",
                           vectorWidth};
      for (linalg::GenericOp op : reducible)
        buildWorkgroupReduction(rewriter, op, style);
    }

    // Linalg ops become parallel loops; those without a parallel dim get a
    // one-iteration loop around them so they still run as a kernel.
    SmallVector<linalg::LinalgOp> linalgOps;
    func.walk([&](linalg::LinalgOp op) { linalgOps.push_back(op); });
    for (linalg::LinalgOp op : linalgOps) {
      if (!op.hasPureBufferSemantics()) {
        op->emitError("is not bufferized: cannot map it to GPU kernels");
        return signalPassFailure();
      }
      rewriter.setInsertionPoint(op);
      if (op.getNumParallelLoops() == 0 &&
          !op->getParentOfType<scf::ParallelOp>()) {
        Location loc = op.getLoc();
        Value c0 = arith::ConstantIndexOp::create(rewriter, loc, 0);
        Value c1 = arith::ConstantIndexOp::create(rewriter, loc, 1);
        auto one = scf::ParallelOp::create(rewriter, loc, ValueRange{c0},
                                           ValueRange{c1}, ValueRange{c1});
        rewriter.moveOpBefore(op, one.getBody()->getTerminator());
        rewriter.setInsertionPoint(op);
      }
      if (failed(linalg::linalgOpToParallelLoops(rewriter, op))) {
        op->emitError("cannot be lowered to parallel loops");
        return signalPassFailure();
      }
      rewriter.eraseOp(op);
    }

    // Tile and map every outermost parallel nest.
    SmallVector<scf::ParallelOp> roots;
    func.walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        roots.push_back(loop);
    });
    for (scf::ParallelOp root : roots) {
      // More than three dims: the outer ones fold into one grid dim (a
      // sequential dim would make every invocation loop over it).
      if (root.getNumLoops() > 3) {
        unsigned n = root.getNumLoops();
        std::vector<unsigned> outerDims;
        for (unsigned d = 0; d + 2 < n; ++d)
          outerDims.push_back(d);
        Operation *prev = root->getPrevNode();
        Block *block = root->getBlock();
        rewriter.setInsertionPoint(root);
        mlir::collapseParallelLoops(rewriter, root,
                                   {outerDims, {n - 2}, {n - 1}});
        Operation *it = prev ? prev->getNextNode() : &block->front();
        while (it && !isa<scf::ParallelOp>(it))
          it = it->getNextNode();
        root = cast<scf::ParallelOp>(it);
      }
      unsigned n = root.getNumLoops();
      // The innermost dim is split across the workgroup's threads; a
      // statically shorter dim gets a workgroup of its own width.
      int64_t width = workgroupSize;
      if (std::optional<int64_t> trip = constantTripCount(root, n - 1))
        width = std::max<int64_t>(1, std::min<int64_t>(width, *trip));
      SmallVector<int64_t> tiles(n, 1);
      tiles[n - 1] = width;
      // Nested loops (the reductions and inner parallel dims) run inside
      // one invocation.
      for (Operation &op : root.getBody()->without_terminator())
        op.walk([&](scf::ParallelOp inner) { mapSequential(inner); });
      auto [outer, inner] =
          scf::tileParallelLoop(root, tiles, /*noMinMaxBounds=*/true);
      SmallVector<gpu::ParallelLoopDimMappingAttr> outerMap, innerMap;
      const Processor blocks[] = {Processor::BlockX, Processor::BlockY,
                                  Processor::BlockZ};
      for (unsigned d = 0; d < n; ++d) {
        unsigned fromInner = n - 1 - d;
        outerMap.push_back(dimMapping(
            ctx, fromInner < 3 ? blocks[fromInner] : Processor::Sequential));
        innerMap.push_back(dimMapping(
            ctx, d == n - 1 ? Processor::ThreadX : Processor::Sequential));
      }
      (void)gpu::setMappingAttr(outer, outerMap);
      (void)gpu::setMappingAttr(inner, innerMap);
    }

    // Buffers live on the device: allocations and frees on a stream
    // (gpu.wait async ... gpu.wait), as gpu-to-llvm lowers them.
    auto onStream = [&](Operation *at, auto build) {
      rewriter.setInsertionPoint(at);
      Location loc = at->getLoc();
      auto tokTy = gpu::AsyncTokenType::get(ctx);
      Value t = gpu::WaitOp::create(rewriter, loc, tokTy, ValueRange{})
                    .getAsyncToken();
      auto op = build(loc, tokTy, t);
      gpu::WaitOp::create(rewriter, loc, Type(),
                          ValueRange{op.getAsyncToken()});
      return op;
    };
    SmallVector<memref::AllocOp> allocs;
    func.walk([&](memref::AllocOp a) {
      if (!a->getParentOfType<scf::ParallelOp>() &&
          !a->getParentOfType<gpu::LaunchOp>())
        allocs.push_back(a);
    });
    for (memref::AllocOp a : allocs) {
      auto g = onStream(a, [&](Location loc, Type tokTy, Value t) {
        return gpu::AllocOp::create(rewriter, loc, a.getType(), tokTy,
                                    ValueRange{t}, a.getDynamicSizes(),
                                    a.getSymbolOperands(),
                                    /*hostShared=*/false);
      });
      rewriter.replaceOp(a, g.getMemref());
    }
    SmallVector<memref::DeallocOp> deallocs;
    func.walk([&](memref::DeallocOp d) { deallocs.push_back(d); });
    for (memref::DeallocOp d : deallocs) {
      onStream(d, [&](Location loc, Type tokTy, Value t) {
        return gpu::DeallocOp::create(rewriter, loc, tokTy, ValueRange{t},
                                      d.getMemref());
      });
      rewriter.eraseOp(d);
    }

    // Nothing may touch a buffer from the host.
    WalkResult r = func.walk([&](Operation *op) {
      if (!touchesMemory(op) || op->getParentOfType<scf::ParallelOp>() ||
          op->getParentOfType<gpu::LaunchOp>())
        return WalkResult::advance();
      op->emitError("reads or writes a buffer outside a parallel loop: it "
                    "cannot run on the GPU");
      return WalkResult::interrupt();
    });
    if (r.wasInterrupted())
      signalPassFailure();
  }

  static std::optional<int64_t> constantTripCount(scf::ParallelOp loop,
                                                  unsigned dim) {
    auto lb = getConstantIntValue(loop.getLowerBound()[dim]);
    auto ub = getConstantIntValue(loop.getUpperBound()[dim]);
    auto step = getConstantIntValue(loop.getStep()[dim]);
    if (!lb || !ub || !step || *step <= 0)
      return std::nullopt;
    return (*ub - *lb + *step - 1) / *step;
  }
};
} // namespace
