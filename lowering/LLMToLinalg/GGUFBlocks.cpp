//===- GGUFBlocks.cpp - GGUF block-quantized weights read in place --------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp): a GGUF weight as
// its flat block bytes, and any element of it decoded from those bytes (for
// embedding gathers of quantized tables and the dequantize-then-matmul
// fallback; the CPU kernels that run on the bytes are BlockDot.cpp and
// KQuantDot.cpp).
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/BlockLayout.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::llm;
using namespace mlir::llm::lowering;
namespace kq = llmc::kquant;

namespace {
/// GGUF block layouts: weights and bytes per block, and where the quantized
/// values start (after the f16 scale, and for q4_1 the f16 min).
struct BlockLayout {
  int64_t bytes, dataOffset, elements = 32;
};
std::optional<BlockLayout> ggufBlockLayout(QuantAttr q) {
  switch (q.getScheme()) {
  case QuantScheme::gguf_q8_0: return BlockLayout{34, 2};
  case QuantScheme::gguf_q4_0: return BlockLayout{18, 2};
  case QuantScheme::gguf_q4_1: return BlockLayout{20, 4};
  default: break;
  }
  if (const kq::Format *f = kquantFormat(q.getScheme()))
    return BlockLayout{f->bytes, 0, kq::kSuperBlock};
  return std::nullopt;
}

bool isKQuant(QuantAttr q) { return kquantFormat(q.getScheme()) != nullptr; }

/// The little-endian f16 of the bytes `lo`, `hi` (i8 scalars) as f32.
Value halfOfBytes(OpBuilder &b, Location l, Value lo, Value hi) {
  Type i16 = b.getIntegerType(16);
  Value bits = arith::OrIOp::create(
      b, l, arith::ExtUIOp::create(b, l, i16, lo),
      arith::ShLIOp::create(b, l, arith::ExtUIOp::create(b, l, i16, hi),
                            arith::ConstantIntOp::create(b, l, i16, 8)));
  Value h = arith::BitcastOp::create(b, l, b.getF16Type(), bits);
  return arith::ExtFOp::create(b, l, b.getF32Type(), h);
}

/// Weight `e` (< 32) of a Q5_0 / Q5_1 / IQ4_NL block of 32, as f32, its
/// bytes read by `byte(kind, i)` (byte i of region `kind` of the block, in
/// Format::block32's order): the nibble of qs[e % 16] (the high one for
/// e >= 16) with, for Q5_x, bit e of qh as its fifth bit; Q5_0: d (q - 16),
/// Q5_1: d q + m, IQ4_NL: d kIQ4NLValues[q] (dequantize_row_q5_0 / _q5_1 /
/// _iq4_nl of ggml-quants.c).
Value block32Element(OpBuilder &b, Location l, const kq::Format &f, Value e,
                     function_ref<Value(int64_t, Value)> byte) {
  Type f32 = b.getF32Type(), i8 = b.getI8Type();
  auto i8c = [&](int64_t v) { return arith::ConstantIntOp::create(b, l, i8, v); };
  auto half = [&](int64_t kind) {
    return halfOfBytes(b, l, byte(kind, iconst(b, l, 0)),
                       byte(kind, iconst(b, l, 1)));
  };
  bool q51 = &f == &kq::kQ5_1Format, iq4 = &f == &kq::kIQ4NLFormat;
  int64_t qsKind = f.numBlock32 - 1;
  Value k = arith::RemUIOp::create(b, l, e, iconst(b, l, 16));
  Value qs = byte(qsKind, k);
  Value high =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, e, iconst(b, l, 16));
  Value q = arith::SelectOp::create(
      b, l, high, arith::ShRUIOp::create(b, l, qs, i8c(4)),
      arith::AndIOp::create(b, l, qs, i8c(15)));
  Value d = half(0);
  if (iq4) {
    SmallVector<int8_t> values(std::begin(kq::kIQ4NLValues),
                               std::end(kq::kIQ4NLValues));
    Value table = arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(RankedTensorType::get({16}, i8),
                                     ArrayRef<int8_t>(values)));
    Value v = tensor::ExtractOp::create(
        b, l, table,
        ValueRange{arith::IndexCastUIOp::create(b, l, b.getIndexType(), q)});
    return arith::MulFOp::create(b, l, d,
                                 arith::SIToFPOp::create(b, l, f32, v));
  }
  // Bit e of the little-endian qh: bit e % 8 of byte e / 8.
  Value qh = byte(q51 ? 2 : 1, arith::DivUIOp::create(b, l, e, iconst(b, l, 8)));
  Value bit = arith::AndIOp::create(
      b, l,
      arith::ShRUIOp::create(
          b, l, qh,
          arith::IndexCastUIOp::create(
              b, l, i8, arith::RemUIOp::create(b, l, e, iconst(b, l, 8)))),
      i8c(1));
  q = arith::OrIOp::create(b, l, q, arith::ShLIOp::create(b, l, bit, i8c(4)));
  Value qf = arith::UIToFPOp::create(b, l, f32, q);
  if (q51)
    return arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, d, qf),
                                 half(1));
  return arith::MulFOp::create(
      b, l, d, arith::SubFOp::create(b, l, qf, fconst(b, l, f32, 16.0)));
}
} // namespace

const kq::Format *mlir::llm::lowering::kquantFormat(QuantScheme s) {
  // gguf_q4_k -> "q4_k", the weight-table dtype the format table is keyed by.
  StringRef name = stringifyQuantScheme(s);
  return name.consume_front("gguf_") ? kq::formatNamed(name) : nullptr;
}

Value mlir::llm::lowering::ggufBytes(OpBuilder &b, Location loc, Value packed,
                                     QuantAttr q, int64_t tile) {
  auto type = cast<RankedTensorType>(packed.getType());
  if (isKQuant(q))
    tile = kquantTile(packed);
  const kq::Format *f = kquantFormat(q.getScheme());
  // Formats of blocks of 32 count them so (a row need not hold whole
  // super-blocks when no kernel reads it interleaved).
  int64_t blocks = type.getNumElements() /
                   (f && !f->block32 ? kq::kSuperBlock : 32);
  // GQSA: half the blocks, each with a 2-byte index. DGQ: per row an f32
  // scale, a u8 per group and the nibbles.
  int64_t bytes =
      q.getScheme() == QuantScheme::gqsa_q4_0_s50 ? blocks / 2 * 20
      : q.hasInputScales()
          ? type.getDimSize(0) * (4 + type.getDimSize(1) / q.getGroup() +
                                  type.getDimSize(1) / 2)
          : f && f->block32 ? blocks * (f->bytes / kq::kBlocksPerSuperBlock)
                            : blocks * ggufBlockLayout(q)->bytes;
  auto cast = UnrealizedConversionCastOp::create(
      b, loc, RankedTensorType::get({bytes}, b.getIntegerType(8)), packed);
  if (tile)
    cast->setAttr(kBlockLayoutAttr, b.getStringAttr(llmc::blockLayoutName(tile)));
  return cast.getResult(0);
}

/// Element `flat` (row-major index) of a GGUF block-quantized tensor whose
/// flat block bytes are `bytes`, as f32: q8_0: d * q; q4_0: d * (nibble -
/// 8); q4_1: d * nibble + m; nibble j < 16 is the low half of byte j,
/// j >= 16 the high half of byte j - 16.
Value mlir::llm::lowering::blockElement(OpBuilder &nb, Location l, Value bytes,
                                        QuantAttr q, Value flat) {
  if (const kq::Format *f = kquantFormat(q.getScheme()); f && f->block32) {
    // Row-major blocks of 32: block flat / 32, weight flat % 32.
    Value base = arith::MulIOp::create(
        nb, l, arith::DivUIOp::create(nb, l, flat, iconst(nb, l, 32)),
        iconst(nb, l, f->bytes / kq::kBlocksPerSuperBlock));
    return block32Element(
        nb, l, *f, arith::RemUIOp::create(nb, l, flat, iconst(nb, l, 32)),
        [&](int64_t kind, Value i) -> Value {
          Value at = arith::AddIOp::create(
              nb, l, base,
              arith::AddIOp::create(
                  nb, l, i, iconst(nb, l, f->block32[kind].rawStart)));
          return tensor::ExtractOp::create(nb, l, bytes, ValueRange{at});
        });
  }
  BlockLayout layout = *ggufBlockLayout(q);
  QuantScheme scheme = q.getScheme();
  Type f32 = nb.getF32Type();
  Value block = arith::DivUIOp::create(nb, l, flat, iconst(nb, l, 32));
  Value j = arith::RemUIOp::create(nb, l, flat, iconst(nb, l, 32));
  Value base = arith::MulIOp::create(nb, l, block, iconst(nb, l, layout.bytes));
  auto byteAt = [&](Value offset) {
    Value at = arith::AddIOp::create(nb, l, base, offset);
    return tensor::ExtractOp::create(nb, l, bytes, ValueRange{at}).getResult();
  };
  // Little-endian f16 at `offset` within the block.
  auto half = [&](int64_t offset) {
    return halfOfBytes(nb, l, byteAt(iconst(nb, l, offset)),
                       byteAt(iconst(nb, l, offset + 1)));
  };
  Value d = half(0);
  if (scheme == QuantScheme::gguf_q8_0) {
    Value qv = byteAt(
        arith::AddIOp::create(nb, l, j, iconst(nb, l, layout.dataOffset)));
    return arith::MulFOp::create(nb, l, d,
                                 arith::SIToFPOp::create(nb, l, f32, qv));
  }
  Value sixteen = iconst(nb, l, 16);
  Value high =
      arith::CmpIOp::create(nb, l, arith::CmpIPredicate::uge, j, sixteen);
  Value idx = arith::SelectOp::create(
      nb, l, high, arith::SubIOp::create(nb, l, j, sixteen), j);
  Value byte = byteAt(
      arith::AddIOp::create(nb, l, idx, iconst(nb, l, layout.dataOffset)));
  Type i8 = nb.getIntegerType(8);
  Value shifted = arith::SelectOp::create(
      nb, l, high,
      arith::ShRUIOp::create(nb, l, byte,
                             arith::ConstantIntOp::create(nb, l, i8, 4)),
      byte);
  Value nib = arith::AndIOp::create(
      nb, l, shifted, arith::ConstantIntOp::create(nb, l, i8, 15));
  Value nf = arith::UIToFPOp::create(nb, l, f32, nib);
  if (scheme == QuantScheme::gguf_q4_0)
    return arith::MulFOp::create(
        nb, l, d, arith::SubFOp::create(nb, l, nf, fconst(nb, l, f32, 8.0)));
  return arith::AddFOp::create(nb, l, arith::MulFOp::create(nb, l, d, nf),
                               half(2));
}

namespace {
/// Scalar reads of one K-quant super-block (row `row`, super-block
/// `s`) in the layout ggufBytes binds: as stored, or interleaved by 8 rows
/// (BlockLayout.h).
struct SuperBlockReader {
  OpBuilder &b;
  Location l;
  Value bytes, row, s;
  int64_t perRow, blockBytes, tile;

  Value idx(int64_t v) { return iconst(b, l, v); }
  Value mul(Value x, int64_t y) { return arith::MulIOp::create(b, l, x, idx(y)); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, l, x, y); }
  Value div(Value x, int64_t y) { return arith::DivUIOp::create(b, l, x, idx(y)); }
  Value rem(Value x, int64_t y) { return arith::RemUIOp::create(b, l, x, idx(y)); }

  /// Byte `i` of region `g` of the block.
  Value byte(const kq::Region &g, Value i) {
    Value at;
    if (!tile) {
      at = add(mul(add(mul(row, perRow), s), blockBytes), add(idx(g.rawStart), i));
    } else {
      // kq::unitOffset and kq::unitByte, with a dynamic row and byte.
      Value grp = div(row, 8);
      Value unit = add(mul(add(mul(div(grp, tile), perRow), s), tile),
                       rem(grp, tile));
      Value inUnit = add(add(idx(g.unitStart), mul(div(i, g.width), 8 * g.width)),
                         add(mul(rem(row, 8), g.width), rem(i, g.width)));
      at = add(mul(unit, 8 * blockBytes), inUnit);
    }
    return tensor::ExtractOp::create(b, l, bytes, ValueRange{at});
  }
  Value byte(const kq::Region &g, int64_t i) { return byte(g, idx(i)); }
  /// Byte `i` of region `kind` (BlockLayout.h's block32) of block of 32
  /// number `j` of an interleaved super-block: the unit holds block j's
  /// bytes of that region right after those of blocks < j.
  Value byteOf32(const kq::Region &kind, Value j, Value i) {
    return byte(kind, add(mul(j, kind.length), i));
  }
  /// The little-endian f16 of region `g` as f32.
  Value half(const kq::Region &g) {
    return halfOfBytes(b, l, byte(g, 0), byte(g, 1));
  }
};

Value i8c(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantIntOp::create(b, l, b.getI8Type(), v);
}
Value andI(OpBuilder &b, Location l, Value x, int64_t m) {
  return arith::AndIOp::create(b, l, x, i8c(b, l, m));
}
Value shr(OpBuilder &b, Location l, Value x, int64_t s) {
  return arith::ShRUIOp::create(b, l, x, i8c(b, l, s));
}
Value shl(OpBuilder &b, Location l, Value x, int64_t s) {
  return arith::ShLIOp::create(b, l, x, i8c(b, l, s));
}
/// Byte `x` shifted right by the index `s` (< 8).
Value shrBy(OpBuilder &b, Location l, Value x, Value s) {
  return arith::ShRUIOp::create(
      b, l, x, arith::IndexCastOp::create(b, l, b.getI8Type(), s));
}
Value toF32(OpBuilder &b, Location l, Value v, bool isSigned) {
  Type f32 = b.getF32Type();
  return isSigned ? arith::SIToFPOp::create(b, l, f32, v).getResult()
                  : arith::UIToFPOp::create(b, l, f32, v).getResult();
}

/// The 6-bit scale and min of sub-block j of Q4_K / Q5_K from the 12 bytes
/// of region `scR` (get_scale_min_k4 of ggml-quants.c): j < 4: s[j] & 63,
/// s[j + 4] & 63; j >= 4: (s[j + 4] & 15) | (s[j - 4] >> 6) << 4,
/// (s[j + 4] >> 4) | (s[j] >> 6) << 4.
std::pair<Value, Value> scaleMinK4(SuperBlockReader &r, const kq::Region &scR,
                                   Value j) {
  OpBuilder &b = r.b;
  Location l = r.l;
  Value jj = r.rem(j, 4);
  Value hiHalf =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, j, r.idx(4));
  Value a = r.byte(scR, jj), bb = r.byte(scR, r.add(jj, r.idx(4))),
        c = r.byte(scR, r.add(jj, r.idx(8)));
  Value sc = arith::SelectOp::create(
      b, l, hiHalf,
      arith::OrIOp::create(b, l, andI(b, l, c, 15), shl(b, l, shr(b, l, a, 6), 4)),
      andI(b, l, a, 63));
  Value m = arith::SelectOp::create(
      b, l, hiHalf,
      arith::OrIOp::create(b, l, shr(b, l, c, 4), shl(b, l, shr(b, l, bb, 6), 4)),
      andI(b, l, bb, 63));
  return {sc, m};
}

/// Q4_K (qh = false) or Q5_K weight i (< 256) of a super-block: d sc_j q -
/// dmin m_j, j = i / 32, q the nibble (bytes 32p..32p+31 of the nibbles,
/// p = j / 2: sub-block 2p low nibbles, 2p + 1 high) and for Q5_K bit j of
/// qh[i % 32] as its fifth bit (dequantize_row_q4_K / _q5_K).
Value q45kElement(SuperBlockReader &r, Value i, bool qh) {
  OpBuilder &b = r.b;
  Location l = r.l;
  const kq::Region *regions = qh ? kq::kQ5K : kq::kQ4K;
  const kq::Region &dR = regions[0], &dminR = regions[1], &scR = regions[2],
                   &qsR = regions[qh ? 4 : 3];
  Value j = r.div(i, 32);
  auto [sc, m] = scaleMinK4(r, scR, j);
  Value qb = r.byte(qsR, r.add(r.mul(r.div(j, 2), 32), r.rem(i, 32)));
  Value odd = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                    r.rem(j, 2), r.idx(1));
  Value q = arith::SelectOp::create(b, l, odd, shr(b, l, qb, 4), andI(b, l, qb, 15));
  if (qh) {
    Value hb = andI(b, l, shrBy(b, l, r.byte(kq::kQ5K[3], r.rem(i, 32)), j), 1);
    q = arith::OrIOp::create(b, l, q, shl(b, l, hb, 4));
  }
  Value w = arith::MulFOp::create(
      b, l, arith::MulFOp::create(b, l, r.half(dR), toF32(b, l, sc, false)),
      toF32(b, l, q, false));
  return arith::SubFOp::create(
      b, l, w, arith::MulFOp::create(b, l, r.half(dminR), toF32(b, l, m, false)));
}

/// The 2-bit quant of weight i (< 256) of Q2_K / Q3_K: bits 2k, 2k + 1 of
/// qs[32n + i % 32], i = 128n + 32k + i % 32.
Value twoBitQuant(SuperBlockReader &r, const kq::Region &qsR, Value i) {
  Value n = r.div(i, 128), k = r.div(r.rem(i, 128), 32);
  Value qb = r.byte(qsR, r.add(r.mul(n, 32), r.rem(i, 32)));
  return andI(r.b, r.l, shrBy(r.b, r.l, qb, r.mul(k, 2)), 3);
}

/// Q2_K weight i (< 256): d (sc & 15) q - dmin (sc >> 4), sc the scale byte
/// of i's 16 (dequantize_row_q2_K).
Value q2kElement(SuperBlockReader &r, Value i) {
  OpBuilder &b = r.b;
  Location l = r.l;
  const kq::Region &dR = kq::kQ2K[0], &dminR = kq::kQ2K[1],
                   &scR = kq::kQ2K[2], &qsR = kq::kQ2K[3];
  Value sc = r.byte(scR, r.div(i, 16));
  Value w = arith::MulFOp::create(
      b, l,
      arith::MulFOp::create(b, l, r.half(dR),
                            toF32(b, l, andI(b, l, sc, 15), false)),
      toF32(b, l, twoBitQuant(r, qsR, i), false));
  return arith::SubFOp::create(
      b, l, w,
      arith::MulFOp::create(b, l, r.half(dminR),
                            toF32(b, l, shr(b, l, sc, 4), false)));
}

/// Q3_K weight i (< 256): d (sc - 32) (q + 4 h - 4), q the 2-bit quant, h
/// bit j = i / 32 of hmask[i % 32], sc the 6-bit scale of i's 16: scale s
/// = 4a + k has its low nibble in byte 4 (a & 1) + k (high half when a >= 2)
/// and its top 2 bits as bits 2a, 2a + 1 of byte 8 + k (dequantize_row_q3_K).
Value q3kElement(SuperBlockReader &r, Value i) {
  OpBuilder &b = r.b;
  Location l = r.l;
  Type i32 = b.getI32Type();
  const kq::Region &dR = kq::kQ3K[0], &scR = kq::kQ3K[1],
                   &hmR = kq::kQ3K[2], &qsR = kq::kQ3K[3];
  Value s = r.div(i, 16), a = r.div(s, 4), k = r.rem(s, 4);
  Value lowByte = r.byte(scR, r.add(r.mul(r.rem(a, 2), 4), k));
  Value low = andI(b, l, shrBy(b, l, lowByte, r.mul(r.div(a, 2), 4)), 15);
  Value high = andI(b, l, shrBy(b, l, r.byte(scR, r.add(k, r.idx(8))),
                                r.mul(a, 2)), 3);
  Value sc = arith::SubIOp::create(
      b, l,
      arith::ExtUIOp::create(b, l, i32,
                             arith::OrIOp::create(b, l, low, shl(b, l, high, 4))),
      arith::ConstantIntOp::create(b, l, i32, 32));
  Value h = andI(b, l, shrBy(b, l, r.byte(hmR, r.rem(i, 32)), r.div(i, 32)), 1);
  Value q = arith::SubIOp::create(
      b, l,
      arith::ExtUIOp::create(
          b, l, i32,
          arith::OrIOp::create(b, l, twoBitQuant(r, qsR, i), shl(b, l, h, 2))),
      arith::ConstantIntOp::create(b, l, i32, 4));
  return arith::MulFOp::create(
      b, l, arith::MulFOp::create(b, l, r.half(dR), toF32(b, l, sc, true)),
      toF32(b, l, q, true));
}

/// Q6_K weight i (< 256) of a super-block: d sc (q - 32) (dequantize_row_q6_K).
Value q6kElement(SuperBlockReader &r, Value i) {
  OpBuilder &b = r.b;
  Location l = r.l;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  const kq::Region &dR = kq::kQ6K[0], &scR = kq::kQ6K[1], &qlR = kq::kQ6K[2],
                   &qhR = kq::kQ6K[3];
  Value h = r.div(i, 128), k = r.div(r.rem(i, 128), 32), li = r.rem(i, 32);
  // ql[64h + l + 32 (k & 1)], low nibble for k < 2; bits 2k, 2k + 1 of
  // qh[32h + l]; scale 8h + l / 16 + 2k.
  Value ql = r.byte(qlR, r.add(r.add(r.mul(h, 64), li), r.mul(r.rem(k, 2), 32)));
  Value high = arith::CmpIOp::create(b, l, arith::CmpIPredicate::uge, k, r.idx(2));
  Value nib = arith::SelectOp::create(b, l, high, shr(b, l, ql, 4), andI(b, l, ql, 15));
  Value qh = r.byte(qhR, r.add(r.mul(h, 32), li));
  Value shift = arith::IndexCastOp::create(b, l, b.getI8Type(), r.mul(k, 2));
  Value bits = andI(b, l, arith::ShRUIOp::create(b, l, qh, shift), 3);
  Value q = arith::SubIOp::create(
      b, l,
      arith::ExtUIOp::create(b, l, i32,
                             arith::OrIOp::create(b, l, nib, shl(b, l, bits, 4))),
      arith::ConstantIntOp::create(b, l, i32, 32));
  Value sc = r.byte(scR, r.add(r.add(r.mul(h, 8), r.div(li, 16)), r.mul(k, 2)));
  return arith::MulFOp::create(
      b, l,
      arith::MulFOp::create(b, l, r.half(dR), arith::SIToFPOp::create(b, l, f32, sc)),
      arith::SIToFPOp::create(b, l, f32, q));
}
} // namespace

Value mlir::llm::lowering::blockElementAt(OpBuilder &b, Location l, Value bytes,
                                          QuantAttr q, Value row, Value col,
                                          int64_t cols) {
  auto cast = bytes.getDefiningOp<UnrealizedConversionCastOp>();
  auto layout = cast ? cast->getAttrOfType<StringAttr>(kBlockLayoutAttr)
                     : StringAttr();
  int64_t tile = layout ? llmc::blockLayoutTile(layout.getValue()) : 0;
  const kq::Format *fmt = kquantFormat(q.getScheme());
  if (!fmt || (fmt->block32 && !tile)) {
    Value flat = arith::AddIOp::create(
        b, l, arith::MulIOp::create(b, l, row, iconst(b, l, cols)), col);
    return blockElement(b, l, bytes, q, flat);
  }
  const kq::Format &f = *fmt;
  SuperBlockReader r{b,
                     l,
                     bytes,
                     row,
                     arith::DivUIOp::create(b, l, col,
                                            iconst(b, l, kq::kSuperBlock)),
                     cols / kq::kSuperBlock,
                     f.bytes,
                     tile};
  Value i = arith::RemUIOp::create(b, l, col, iconst(b, l, kq::kSuperBlock));
  if (f.block32) {
    Value j = r.div(i, 32);
    return block32Element(b, l, f, r.rem(i, 32), [&](int64_t kind, Value k) {
      return r.byteOf32(f.block32[kind], j, k);
    });
  }
  if (&f == &kq::kQ2KFormat)
    return q2kElement(r, i);
  if (&f == &kq::kQ3KFormat)
    return q3kElement(r, i);
  if (&f == &kq::kQ6KFormat)
    return q6kElement(r, i);
  return q45kElement(r, i, &f == &kq::kQ5KFormat);
}

Value mlir::llm::lowering::dequantizeBlockBytes(OpBuilder &b, Location loc,
                                                Value bytes, QuantAttr q,
                                                RankedTensorType resultType) {
  int64_t cols = resultType.getShape().back();
  return linalg::GenericOp::create(
             b, loc, TypeRange{resultType}, ValueRange{},
             ValueRange{empty(b, loc, resultType.getShape(), b.getF32Type(), {})},
             ArrayRef<AffineMap>{b.getMultiDimIdentityMap(2)},
             ArrayRef<IteratorType>{par, par},
             [&](OpBuilder &nb, Location l, ValueRange) {
               Value r = linalg::IndexOp::create(nb, l, 0);
               Value c = linalg::IndexOp::create(nb, l, 1);
               linalg::YieldOp::create(
                   nb, l, blockElementAt(nb, l, bytes, q, r, c, cols));
             })
      .getResult(0);
}


bool mlir::llm::lowering::isLowerableGGUF(Operation *op) {
  if (auto d = dyn_cast<DequantizeOp>(op))
    return ggufBlockLayout(d.getQuant()) && !d.getScales() && !d.getZeros() &&
           d.getResult().getType().getRank() == 2 &&
           d.getResult().getType().getElementType().isF32();
  if (auto q = dyn_cast<QLinearOp>(op))
    return ggufBlockLayout(q.getQuant()) && !q.getScales() && !q.getZeros() &&
           q.getInput().getType().getRank() == 2;
  return false;
}

