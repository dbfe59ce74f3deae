//===- ScheduleCPU.cpp - tile, parallelize and vectorize for the CPU ------===//
//
// The tensor lowering tags the ops that dominate run time with
// `llm.schedule` and their tile sizes (`llm.tiles`). This pass writes one
// transform-dialect schedule for every distinct tag in the module and
// applies it with the transform interpreter, so the schedule is ordinary
// upstream transform IR (printable with `print-schedule`):
//
//   linear [task, rows, width]: an scf.forall over output-row tasks (one per
//     OpenMP work item), register tiles of 1 x 4 tokens x `rows` output rows,
//     and the input-feature reduction split into `width`-lane partial sums
//     that stay in vector registers (tile_reduction_using_for + hoisting).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Transform/IR/TransformDialect.h"
#include "mlir/Dialect/Transform/IR/TransformOps.h"
#include "mlir/Dialect/Transform/Interfaces/TransformInterfaces.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::llm {
#define GEN_PASS_DEF_SCHEDULECPU
#include "passes/Passes.h.inc"
} // namespace mlir::llm

using namespace mlir;

namespace {
constexpr const char *kOp = "!transform.any_op";

/// The transform IR for one tagged variant; handles are numbered by `n`.
void emitVariant(llvm::raw_ostream &os, StringRef kind, ArrayRef<int64_t> t,
                 unsigned n) {
  std::string tiles;
  if (!t.empty()) {
    llvm::raw_string_ostream ts(tiles);
    ts << ", llm.tiles = array<i64: ";
    llvm::interleaveComma(t, ts);
    ts << ">";
  }
  os << "    %m" << n << " = transform.structured.match ops{[\"linalg.generic\"]}"
     << " attributes {llm.schedule = \"" << kind << "\"" << tiles
     << "} in %root : (" << kOp << ") -> " << kOp << "\n";
  auto forall = [&](StringRef sizes) {
    os << "    %a" << n << ", %f" << n
       << " = transform.structured.tile_using_forall %m" << n << " tile_sizes ["
       << sizes << "] : (" << kOp << ") -> (" << kOp << ", " << kOp << ")\n";
  };
  auto tileFor = [&](StringRef sizes, unsigned loops) {
    os << "    %b" << n << ", %l" << n << ":" << loops
       << " = transform.structured.tile_using_for %a" << n << " tile_sizes ["
       << sizes << "] : (" << kOp << ") -> (" << kOp;
    for (unsigned i = 0; i < loops; ++i)
      os << ", " << kOp;
    os << ")\n";
  };
  // Partial sums of `width` lanes over the last (reduction) dimension.
  auto splitReduction = [&](StringRef sizes) {
    os << "    %fill" << n << ", %split" << n << ", %comb" << n << ", %loop" << n
       << " = transform.structured.tile_reduction_using_for %b" << n
       << " by tile_sizes = [" << sizes << "] : (" << kOp << ") -> (" << kOp
       << ", " << kOp << ", " << kOp << ", " << kOp << ")\n";
  };
  // A plain reduction loop of `width`-wide steps (each step reduced
  // horizontally): the partial-sum split does not re-offset linalg.index
  // in the op it creates, which the quantized bodies read.
  auto reductionLoop = [&](StringRef sizes) {
    os << "    %split" << n << ", %loop" << n
       << " = transform.structured.tile_using_for %b" << n << " tile_sizes ["
       << sizes << "] : (" << kOp << ") -> (" << kOp << ", " << kOp << ")\n";
  };
  // Quantized contractions read scales / packed nibbles by index in their
  // body (tensor.extract): vectorized as gathers or broadcast loads.
  // Grouped 4-bit contractions reduce over (group, half, byte): the
  // partial sums span one whole group (tiles[2] = the group size).
  bool grouped = kind.consume_front("q4");
  bool extracts = !grouped && kind.consume_front("q");
  auto vectorize = [&](StringRef handle) {
    os << "    transform.structured.vectorize %" << handle << n
       << (extracts ? " {vectorize_nd_extract}" : "") << " : " << kOp << "\n";
  };
  // The reduction over input features in `width`-lane steps, vectorized.
  auto reduceIn = [&](std::string sizes) {
    if (grouped) {
      // The last size is the group: split as (1 group, 2 halves, g/2).
      size_t comma = sizes.rfind(", ");
      sizes = sizes.substr(0, comma + 2) + "1, 2, " + std::to_string(t[2] / 2);
    }
    if (extracts) {
      reductionLoop(sizes);
      vectorize("split");
      return;
    }
    splitReduction(sizes);
    for (const char *h : {"split", "comb", "fill"})
      vectorize(h);
  };
  if (kind == "linear") {
    // dims: (token blocks, 4 tokens, out, in)
    forall("0, 0, " + std::to_string(t[0]));
    tileFor("1, 0, " + std::to_string(t[1]), 2);
    reduceIn("0, 0, 0, " + std::to_string(t[2]));
  } else if (kind == "matvec") {
    // dims: (1 token, out, in)
    forall("0, " + std::to_string(t[0]));
    tileFor("0, " + std::to_string(t[1]), 1);
    reduceIn("0, 0, " + std::to_string(t[2]));
  } else if (kind == "attn_qk") {
    // dims: (kv head, group, token, position block, lane, head_dim): one task
    // per query head; for each token and block of positions, a vector of
    // scores accumulates q[d] * keysT[d, block] over head_dim (keys are
    // stored transposed), with no horizontal reductions.
    forall("1, 1");
    tileFor("0, 0, 1, 1, 0, 1", 3);
    vectorize("b");
  } else if (kind == "attn_pv") {
    // dims: (token, kv head, group, head_dim, position): one task per query
    // head; acc[head_dim] += p * v[position] with the accumulator in
    // registers across the position loop.
    forall("0, 1, 1");
    tileFor("1, 0, 0, 0, 1", 2);
    vectorize("b");
  } else if (kind == "heads") {
    forall("1, 1"); // dims (kv head, group, ...): one task per query head
  } else if (kind == "rows") {
    forall("16"); // 16 tokens per task
  }
}

struct ScheduleCPU : llm::impl::ScheduleCPUBase<ScheduleCPU> {
  using ScheduleCPUBase::ScheduleCPUBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::SetVector<std::pair<StringRef, ArrayRef<int64_t>>> variants;
    bool bad = false;
    module.walk([&](linalg::GenericOp op) {
      auto kind = op->getAttrOfType<StringAttr>("llm.schedule");
      if (!kind)
        return;
      auto tiles = op->getAttrOfType<DenseI64ArrayAttr>("llm.tiles");
      StringRef k = kind.getValue();
      bool linear = k == "linear" || k == "matvec" || k == "qlinear" ||
                    k == "qmatvec" || k == "q4linear" || k == "q4matvec";
      bool known = linear || k == "attn_qk" || k == "attn_pv" ||
                   k == "heads" || k == "rows";
      if (!known || linear != static_cast<bool>(tiles) ||
          (tiles && (tiles.size() != 3 ||
                     llvm::any_of(tiles.asArrayRef(),
                                  [](int64_t v) { return v < 1; })))) {
        op.emitError("unknown llm.schedule or malformed llm.tiles");
        bad = true;
        return;
      }
      variants.insert({k, tiles ? tiles.asArrayRef() : ArrayRef<int64_t>()});
    });
    if (bad)
      return signalPassFailure();
    if (variants.empty())
      return;

    std::string text;
    llvm::raw_string_ostream os(text);
    os << "module attributes {transform.with_named_sequence} {\n"
       << "  transform.named_sequence @__transform_main(%root: "
          "!transform.any_op {transform.readonly}) {\n";
    for (auto [i, v] : llvm::enumerate(variants))
      emitVariant(os, v.first, v.second, i);
    // Canonicalize on its own (mixing it with vector lowering patterns can
    // run away), then keep loop-carried accumulators in registers.
    os << "    %funcs = transform.structured.match ops{[\"func.func\"]} in %root"
          " : (!transform.any_op) -> !transform.any_op\n"
       << "    transform.apply_patterns to %funcs {\n"
       << "      transform.apply_patterns.canonicalization\n"
       << "    } : !transform.any_op\n"
       << "    %loops = transform.structured.match ops{[\"scf.for\"]} in %root"
          " : (!transform.any_op) -> !transform.any_op\n"
       << "    transform.loop.hoist_loop_invariant_subsets %loops"
          " : !transform.any_op\n"
       << "    transform.yield\n  }\n}\n";
    if (printSchedule)
      llvm::errs() << text;

    OwningOpRef<ModuleOp> schedule =
        parseSourceString<ModuleOp>(text, module.getContext());
    if (!schedule) {
      module.emitError("internal error: the generated CPU schedule does not "
                       "parse");
      return signalPassFailure();
    }
    auto entry = schedule->lookupSymbol<transform::NamedSequenceOp>(
        "__transform_main");
    if (failed(transform::applyTransforms(
            module, cast<transform::TransformOpInterface>(entry.getOperation()),
            {}, transform::TransformOptions(), /*enforceToplevel=*/false)))
      return signalPassFailure();
  }
};
} // namespace
