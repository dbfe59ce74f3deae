//===- Builders.h - helpers shared by the llm -> linalg patterns -*- C++ -*-===//

#ifndef LLMC_LOWERING_LLMTOLINALG_BUILDERS_H
#define LLMC_LOWERING_LLMTOLINALG_BUILDERS_H

#include "dialects/llm/BlockLayout.h"
#include "dialects/llm/LLMOps.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
class TypeConverter;
namespace llm::lowering {

using utils::IteratorType;
constexpr IteratorType par = IteratorType::parallel;
constexpr IteratorType red = IteratorType::reduction;
using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

Value fconst(OpBuilder &b, Location loc, Type type, double v);
Value iconst(OpBuilder &b, Location loc, int64_t v);
Value castFloat(OpBuilder &b, Location loc, Value v, Type to);
Value empty(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elt,
            ValueRange dynSizes);
Value emptyLike(OpBuilder &b, Location loc, Value like, Type elt = {});
Value fill(OpBuilder &b, Location loc, Value init, double v);
SmallVector<Value> dynamicSizes(OpBuilder &b, Location loc, Value v);
Value withRows(OpBuilder &b, Location loc, Value v, Value rows);
AffineMap map(MLIRContext *ctx, unsigned numDims, ArrayRef<unsigned> dims);
Value generic(OpBuilder &b, Location loc, ValueRange inputs, Value init,
              ArrayRef<AffineMap> maps, ArrayRef<IteratorType> iters,
              BodyFn body);
Value tag(Value v, StringRef schedule);
/// 1 / d for the 8-bit step d = amax / 127 of a block, token or head (0
/// when amax is 0), as a scalar: quantizing is then one multiply per
/// element.
Value inverseStep(OpBuilder &b, Location loc, Value amax);
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs, Type elt,
                  BodyFn body);
Value reduceLast(OpBuilder &b, Location loc, Value x, double initValue,
                 BodyFn combine);
/// Sum over the last dimension.
Value sumLast(OpBuilder &b, Location loc, Value x);
AffineMap rowMap(MLIRContext *ctx, unsigned rank);
/// Softmax over the last dimension: max, exp(x - max), sum, divide.
Value softmaxLast(OpBuilder &b, Location loc, Value x,
                  StringRef schedule = "rows");

/// A parallel task's output rows: a multiple of `rowTile` dividing `out`,
/// at most `limit`.
int64_t taskRows(int64_t out, int64_t rowTile, int64_t limit);
/// `x` ([T, in]) with zero rows after the T real ones up to a multiple of
/// `multiple`, written by one generic (a pad or a copy into a slice would
/// become a strided memref.copy).
Value padRows(OpBuilder &b, Location loc, Value x, int64_t multiple);

/// silu / gelu / gelu_tanh of a scalar.
Value activate(OpBuilder &b, Location l, Activation act, Value x);

/// `cap * tanh(x / cap)` of a float scalar or vector (Gemma 2's attention
/// and final-logit soft-capping).
Value softcap(OpBuilder &b, Location l, Value x, double cap);

/// linear, qlinear and GGUF dequantize (Linear.cpp).
void populateLinearPatterns(TypeConverter &converter,
                            RewritePatternSet &patterns);
/// A GGUF block-quantized tensor `packed` as its flat block bytes (a cast
/// `--llm-buffer-abi` binds); `tile` > 0: to be packed interleaved by 8
/// rows, `tile` groups per tile (see interleaveTile; K-quants: always
/// kquantTile's, whatever `tile` says, so every reader agrees).
Value ggufBytes(OpBuilder &b, Location loc, Value packed, QuantAttr q,
                int64_t tile = 0);
/// Element `flat` (row-major index) of GGUF blocks `bytes` as f32.
Value blockElement(OpBuilder &b, Location loc, Value bytes, QuantAttr q,
                   Value flat);
/// Element (row, col) of a [rows, cols] GGUF block-quantized weight given as
/// `bytes` (ggufBytes), as f32: any block scheme ggufBytes takes, K-quants
/// in either layout.
Value blockElementAt(OpBuilder &b, Location loc, Value bytes, QuantAttr q,
                     Value row, Value col, int64_t cols);
/// The layout of a K-quant scheme (gguf_q2_k .. gguf_q6_k), null for the
/// other schemes.
const llmc::kquant::Format *kquantFormat(QuantScheme s);
/// Groups of 8 rows per tile in which a K-quant weight is interleaved
/// (dialects/llm/BlockLayout.h; always 1, "rows8": each group's units
/// together, read as one stream), or 0 for the rows as stored (a reader
/// other than the K-quant kernel, embedding gathers and llm.moe's experts
/// of a stacked [experts, rows, cols] weight, or a shape the kernel does
/// not take).
int64_t kquantTile(Value weight);
/// The same for a stacked [experts, rows, cols] weight of GGUF blocks `q`
/// read only by llm.moe: K-quants (and Q5_0 / Q5_1 / IQ4_NL) as kquantTile,
/// q8_0 / q4_0 in groups of 8 rows (1, "rows8"), else 0 (row-major blocks).
int64_t stackedExpertTile(Value weight, QuantAttr q);
/// The [rows, cols] f32 values of GGUF blocks given as their flat bytes.
Value dequantizeBlockBytes(OpBuilder &b, Location loc, Value bytes, QuantAttr q,
                           RankedTensorType resultType);
/// Whether `op` is a q8_0 / q4_0 / GQSA / DGQ linear the block kernel runs.
bool isBlockDotLinear(QLinearOp op);
/// The attribute on a weight's byte cast (see ggufBytes) naming the layout
/// `--llm-buffer-abi` records for the packer: q8_0 / q4_0 blocks
/// interleaved by 8 rows (llmc::interleaveBlockRows), "rows8" with the
/// units of each group together, "rows64" with those of 8 groups per
/// block column together.
inline constexpr llvm::StringLiteral kBlockLayoutAttr = "llm.block_layout";
/// The module attribute naming the target's byte dot product
/// (convert-llm-to-linalg's dot-isa: vnni, avx2, neon-dot, neon-i8mm).
inline constexpr llvm::StringLiteral kDotIsaAttr = "llm.dot_isa";
/// Whether the module holding `b`'s insertion point targets a byte dot
/// product that takes unsigned bytes up to 255 at no extra cost (vnni's
/// vpdpbusd, i8mm's usdot; AVX2's vpmaddubsw saturates, sdot is signed).
bool hasWideUnsignedDots(OpBuilder &b);
/// (The names and their tiles: llmc::blockLayoutName / blockLayoutTile,
/// dialects/llm/BlockLayout.h.)
/// Groups of 8 rows per tile of the interleaved layout the block kernel
/// reads `op`'s q8_0 / q4_0 weight in (8 where out is a multiple of 64,
/// else 1), or 0 for the rows as stored (out not a multiple of 8, or
/// another reader wants them so).
int64_t interleaveTile(QLinearOp op);
/// y = x w^T ([T, out], no epilogue) for a q8_0 / q4_0 / GQSA / DGQ weight
/// given as its flat bytes, on 8-bit activations (BlockDot.cpp);
/// `inputScales` (DGQ only) multiplies the input features first; `tile` >
/// 0: the q8_0 / q4_0 blocks are interleaved by 8 rows, `tile` groups per
/// tile.
Value buildBlockDotLinear(OpBuilder &b, Location loc, Value x, Value bytes,
                          QuantAttr quant, int64_t out,
                          Value inputScales = Value(), int64_t tile = 0);
/// y = x w^T ([T, out]) for float weights `w` ([out, in]) with the linear
/// kernels (matrix-vector for one token, blocked for several).
Value buildFloatLinear(OpBuilder &b, Location loc, Value x, Value w,
                       RankedTensorType resultType);
/// The name `--llm-buffer-abi` gives the weight slot of a pack-time value
/// (through tensor.expand_shape views): a param's name or the transform's
/// expression, e.g. "concat(a, b)".
std::string packedWeightName(Value weight);
/// Whether `op` is an llm.moe the lowering handles (f32, [tokens, dim]).
bool isLowerableMoE(Operation *op);
/// A run-time llm.concat of floats whose inputs' sizes along the axis are
/// static (LLMToLinalg.cpp).
bool isLowerableConcat(ConcatOp op);
/// llm.moe (MoE.cpp).
void populateMoEPatterns(TypeConverter &converter,
                         RewritePatternSet &patterns);
/// Whether `op` is a GGUF-block dequantize/qlinear the lowering handles.
bool isLowerableGGUF(Operation *op);
/// Whether `op` is an llm.qlinear over symmetric/asymmetric 8- or 4-bit
/// integers (per channel or per group) the lowering handles.
bool isLowerableQLinear(Operation *op);
/// The flash attention kernel (FlashAttention.cpp) over the updated cache
/// tensor (see cacheTensorType); returns the [T, heads * hd] output.
/// `flash` is the op's llm.flash attribute; `layer` the cache layer.
Value buildFlashAttention(OpBuilder &b, Location loc, AttentionOp op,
                          DictionaryAttr flash, Value q, Value cache,
                          Value pos, Value t, Value len, OpFoldResult layer);
/// The cache layer an llm.attention reads and writes: its `layer`, or the
/// (converted) `layer_index` operand of an outlined layer.
OpFoldResult cacheLayer(OpBuilder &b, AttentionOp op, Value layerIndex);
/// Early exit's pending state in the KV cache (PendingState.cpp).
void populatePendingStatePatterns(TypeConverter &converter,
                                  RewritePatternSet &patterns);
/// llm.rms_norm, llm.add_rms_norm, llm.layer_norm (Norms.cpp).
void populateNormPatterns(TypeConverter &converter,
                          RewritePatternSet &patterns);
/// rope and attention (Attention.cpp).
void populateAttentionPatterns(TypeConverter &converter,
                               RewritePatternSet &patterns);

} // namespace llm::lowering
} // namespace mlir

#endif
