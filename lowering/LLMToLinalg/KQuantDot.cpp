//===- KQuantDot.cpp - GGUF K-quant linears on 8-bit activations ----------===//
//
// Part of --convert-llm-to-linalg (see LLMToLinalg.cpp and BlockDot.cpp).
//
// llama.cpp's K-quants (Q2_K .. Q6_K; Q4_K_M mixes Q4_K and Q6_K, Q5_K_M
// Q5_K and Q6_K, Q3_K_M Q3_K with Q4_K / Q5_K / Q6_K, Q2_K Q2_K with Q3_K /
// Q4_K / Q6_K) run as stored, in the style of the interleaved q4_0 kernel:
// the super-blocks of 256 weights of 8 rows are interleaved
// (dialects/llm/BlockLayout.h) so that lane r of every vector is row r, the
// activations are quantized per block of 32 (as for q4_0), and each dot
// product of 4 quant bytes of 8 rows with a broadcast activation word is
// one vpdpbusd on VNNI targets (vpmaddubsw + vpmaddwd on AVX2: every quant
// byte is < 128).
//
//   Q4_K / Q5_K: w = d sc_j q - dmin m_j (q a nibble, for Q5_K with a fifth
//         bit from qh; sc_j / m_j the 6-bit scale and min of sub-block j of
//         32). Per sub-block, with the activations x = a_j xq:
//         d sc_j a_j (sum q xq) - dmin m_j a_j (sum xq). The integer sum is
//         one chain of 8 byte dot products, scaled once in float; the sums
//         of xq come with the activations.
//   Q6_K / Q3_K: w = d sc_k (q - o) (Q6_K: q 6 bits, o = 32, sc_k an int8;
//         Q3_K: q 2 bits and a high bit, o = 4, sc_k 6 bits minus 32; one
//         scale per 16 weights). The -o folds into where each 16's dot
//         product starts (-o times its activation sum), the two integer
//         scales of a block of 32 multiply its two integer sums, and the
//         block is scaled once in float by d a_j.
//   Q2_K: w = d sc_k q - dmin m_k (q 2 bits, sc_k / m_k 4 bits per 16): the
//         scales as Q6_K's, the mins as Q4_K's but per 16.
//   Q5_0 / Q5_1 / IQ4_NL (blocks of 32, 8 of them a super-block): one chain
//         per block scaled by d a_j; Q5_0's -16 folds into where the chain
//         starts, Q5_1's min is Q4_K's without the 6-bit scale, IQ4_NL's
//         table is a byte shuffle of the nibbles (values + 128 where the
//         target's dot product takes unsigned bytes up to 255, else
//         magnitudes with the signs moved to the activations).
//
// Scales and quants are unpacked with byte-wise and/shift/or on 8 rows at
// once; nothing is decoded to memory.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/BlockLayout.h"
#include "lowering/LLMToLinalg/BlockDot.h"
#include "lowering/LLMToLinalg/Builders.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::llm::lowering;
using namespace mlir::llm::lowering::blockdot;
namespace kq = llmc::kquant;

namespace {

/// The activations quantized per block of 32 and, per token, what the
/// kernel multiplies by: a_j = amax / 127 per block, Q4_K / Q5_K: -a_j
/// sum(xq) per block (the mins' factor), Q6_K / Q3_K: -o sum(xq) per 16
/// (where each 16's dot product starts), Q2_K: -a_j sum(xq) per 16.
struct ActivationFactors {
  Value q, scale, minX, start, minX16;
  int64_t startSpan = 16; ///< weights per `start` (32 for Q5_0, IQ4_NL)
};

bool is(const kq::Format &f, const kq::Format &g) { return &f == &g; }

ActivationFactors activationFactors(OpBuilder &b, Location l,
                                    const kq::Format &f, int64_t in, Value xp) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  QuantizedBlocks qb = quantizeBlocks(b, l, xp, in, /*withMagnitudes=*/false);
  ActivationFactors a;
  a.q = qb.q;
  Value tp = tensor::DimOp::create(b, l, xp, 0);
  Value init = empty(b, l, {ShapedType::kDynamic, in / kBlock}, f32, tp);
  auto ident = map(ctx, 2, {0, 1});
  a.scale = generic(b, l, {qb.amax}, init, {ident, ident}, {par, par},
                    [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
                      return arith::MulFOp::create(
                          nb, nl, args[0], fconst(nb, nl, f32, 1.0 / 127.0));
                    });
  if (is(f, kq::kQ5_0Format)) {
    // -16 sum(xq) per block: Q5_0's offset.
    a.start = blockSums(b, l, qb.q, in, kBlock, -16);
    a.startSpan = kBlock;
    return a;
  }
  if (is(f, kq::kIQ4NLFormat)) {
    // Wide unsigned dots: the table offset by 128, the chain starting at
    // -128 sum(xq) per block (blocks32Group).
    if (hasWideUnsignedDots(b)) {
      a.start = blockSums(b, l, qb.q, in, kBlock, -128);
      a.startSpan = kBlock;
    }
    return a;
  }
  if (is(f, kq::kQ6KFormat) || is(f, kq::kQ3KFormat)) {
    a.start = blockSums(b, l, qb.q, in, 16, is(f, kq::kQ6KFormat) ? -32 : -4);
    return a;
  }
  if (is(f, kq::kQ2KFormat)) {
    // -a_j sum(xq) per 16, j the 16's block of 32.
    Value sums = blockSums(b, l, qb.q, in, 16, 1);
    AffineExpr t = b.getAffineDimExpr(0), k = b.getAffineDimExpr(1);
    auto blockOf16 = AffineMap::get(2, 0, {t, k.floorDiv(2)}, ctx);
    a.minX16 = generic(
        b, l, {a.scale, sums},
        empty(b, l, {ShapedType::kDynamic, in / 16}, f32, tp),
        {blockOf16, ident, ident}, {par, par},
        [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
          Value sum = arith::SIToFPOp::create(nb, nl, f32, args[1]);
          return arith::MulFOp::create(
              nb, nl, arith::NegFOp::create(nb, nl, args[0]), sum);
        });
    return a;
  }
  // Q4_K / Q5_K / Q5_1: -8 sum(xq) per block, times a_j / 8.
  Value sums = blockSums(b, l, qb.q, in, kBlock, -8);
  a.minX = generic(
      b, l, {a.scale, sums}, init, {ident, ident, ident}, {par, par},
      [&](OpBuilder &nb, Location nl, ValueRange args) -> Value {
        Value s = arith::SIToFPOp::create(nb, nl, f32, args[1]);
        return arith::MulFOp::create(
            nb, nl, args[0],
            arith::MulFOp::create(nb, nl, s, fconst(nb, nl, f32, 0.125)));
      });
  return a;
}

/// What one super-block step of a register tile needs of one token.
struct TokenStep {
  Value q, t, x0;             ///< the activations, the token, the first column
  SmallVector<Value> scale;   ///< a_j = amax / 127 per block of 32, scalar f32
  SmallVector<Value> minX;    ///< Q4_K / Q5_K / Q5_1: -a_j * sum xq (the min's factor)
  SmallVector<Value> start;   ///< Q6_K / Q3_K: -o * sum xq per 16 (Q5_0: -16,
                              ///< IQ4_NL's + 128 table: -128, * sum xq per
                              ///< 32), broadcast i32
  SmallVector<Value> minX16;  ///< Q2_K: -a_j * sum xq per 16, broadcast f32
};

struct KernelBuilder {
  OpBuilder &b;
  Location l;
  const kq::Format &f;
  int64_t in, out, tile;
  Value bytes;

  Type f32() { return b.getF32Type(); }
  Type i8() { return b.getI8Type(); }
  Type i32() { return b.getI32Type(); }
  VectorType acc() { return vec(kLanes, f32()); }
  int64_t blockBytes() { return f.bytes; }
  /// First byte of region `n` in a unit.
  int64_t region(int64_t n) { return f.regions[n].unitStart; }
  int64_t superBlocks() { return in / kq::kSuperBlock; }

  Value idx(int64_t v) { return iconst(b, l, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, l, x, y); }
  Value add(Value x, int64_t y) { return add(x, idx(y)); }
  Value splat(VectorType t, int64_t v) {
    return arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(t, b.getIntegerAttr(t.getElementType(), v)));
  }
  Value andI(Value x, int64_t m) {
    return arith::AndIOp::create(b, l, x, splat(cast<VectorType>(x.getType()), m));
  }
  Value shr(Value x, int64_t s) {
    return arith::ShRUIOp::create(b, l, x, splat(cast<VectorType>(x.getType()), s));
  }
  Value shl(Value x, int64_t s) {
    return arith::ShLIOp::create(b, l, x, splat(cast<VectorType>(x.getType()), s));
  }
  Value orI(Value x, Value y) { return arith::OrIOp::create(b, l, x, y); }
  /// `x` shifted right by `s` bits (left by -s when s < 0).
  Value shift(Value x, int64_t s) {
    return s > 0 ? shr(x, s) : s < 0 ? shl(x, -s) : x;
  }
  /// The 8 rows' bytes `k` of the width-1 region at unit byte `region`.
  Value rowBytes(Value unit, int64_t region, int64_t k) {
    return read(b, l, vec(kLanes, i8()), bytes, {add(unit, region + 8 * k)});
  }
  Value toI32(Value v, bool isSigned) {
    Type t = vec(kLanes, i32());
    return isSigned ? arith::ExtSIOp::create(b, l, t, v).getResult()
                    : arith::ExtUIOp::create(b, l, t, v).getResult();
  }
  Value toF32(Value v, bool isSigned) {
    return isSigned ? arith::SIToFPOp::create(b, l, acc(), v).getResult()
                    : arith::UIToFPOp::create(b, l, acc(), v).getResult();
  }
  Value mulF(Value x, Value y) { return arith::MulFOp::create(b, l, x, y); }
  Value mulI(Value x, Value y) { return arith::MulIOp::create(b, l, x, y); }

  /// First byte of the unit of row group `g`, super-block `s`.
  Value unitAt(Value g, Value s) {
    Value tiles = arith::DivUIOp::create(b, l, g, idx(tile));
    Value inTile = arith::RemUIOp::create(b, l, g, idx(tile));
    Value unit = add(arith::MulIOp::create(
                         b, l,
                         add(arith::MulIOp::create(b, l, tiles,
                                                   idx(superBlocks())),
                             s),
                         idx(tile)),
                     inTile);
    return arith::MulIOp::create(b, l, unit, idx(8 * blockBytes()));
  }
  /// The 8 rows' f16 scales at `at`, as f32.
  Value halves(Value at) {
    Value raw = read(b, l, vec(16, i8()), bytes, at);
    Value h = vector::BitCastOp::create(b, l, vec(kLanes, b.getF16Type()), raw);
    return arith::ExtFOp::create(b, l, acc(), h);
  }
  /// 32 bytes: chunk `c` (4 bytes of each of the 8 rows) of the region
  /// starting at unit byte `region`.
  Value chunk(Value unit, int64_t region, int64_t c) {
    return read(b, l, vec(kBlock, i8()), bytes, {add(unit, region + 32 * c)});
  }
  Value scalarF(Value m, Value t, Value j) {
    return tensor::ExtractOp::create(b, l, m, ValueRange{t, j});
  }
  Value fma(Value x, Value y, Value z) {
    return vector::FMAOp::create(b, l, x, y, z);
  }
  Value broadcastF(Value s) { return vector::BroadcastOp::create(b, l, acc(), s); }

  /// The activations one token brings to super-block `s` (all computed
  /// once per token by activationFactors, only read here).
  TokenStep tokenStep(const ActivationFactors &a, Value t, Value s) {
    TokenStep st;
    st.q = a.q;
    st.t = t;
    st.x0 = arith::MulIOp::create(b, l, s, idx(kq::kSuperBlock));
    Value blk0 = arith::MulIOp::create(b, l, s, idx(8));
    for (int64_t j = 0; j < 8; ++j) {
      st.scale.push_back(scalarF(a.scale, t, add(blk0, j)));
      if (a.minX)
        st.minX.push_back(broadcastF(scalarF(a.minX, t, add(blk0, j))));
    }
    int64_t starts = kq::kSuperBlock / a.startSpan;
    Value s0 = arith::MulIOp::create(b, l, s, idx(starts));
    for (int64_t k = 0; a.start && k < starts; ++k)
      st.start.push_back(vector::BroadcastOp::create(
          b, l, vec(kLanes, i32()), scalarF(a.start, t, add(s0, k))));
    Value h0 = arith::MulIOp::create(b, l, s, idx(16));
    for (int64_t k = 0; a.minX16 && k < 16; ++k)
      st.minX16.push_back(broadcastF(scalarF(a.minX16, t, add(h0, k))));
    return st;
  }

  /// Sum over chunks [c0, c1) of dot(w[c], activation word base + c of
  /// the token) from `start`, as two independent chains.
  Value dots(Value start, ArrayRef<Value> w, const TokenStep &st,
             int64_t base, int64_t c0, int64_t c1) {
    Value zero = splat(vec(kLanes, i32()), 0);
    Value d0 = start, d1 = zero;
    for (int64_t c = c0; c < c1; c += 2) {
      d0 = llm::buildByteDot(b, l, d0, w[c], word(st, base + c));
      if (c + 1 < c1)
        d1 = llm::buildByteDot(b, l, d1, w[c + 1], word(st, base + c + 1));
    }
    return add(d0, d1);
  }
  /// Activation word `n` (4 bytes) of the super-block, broadcast to every
  /// row: a memory operand of the dot product, not a live register.
  Value word(const TokenStep &st, int64_t n) {
    return broadcastWord(b, l, st.q, st.t, add(st.x0, 4 * n));
  }

  /// `accs[t] += float(isum) * d * a_j` for block j of every token, with
  /// isum = lo * sc[2j] + hi * sc[2j + 1]: the two 16s of the block, each
  /// dot product starting at `start` (Q6_K / Q3_K) or 0 (Q2_K).
  void scaledSixteens(Value d, ArrayRef<Value> w, Value scLo, Value scHi,
                      int64_t j, ArrayRef<TokenStep> steps,
                      MutableArrayRef<Value> accs) {
    for (size_t t = 0; t < steps.size(); ++t) {
      const TokenStep &st = steps[t];
      Value lo = dots(sixteenStart(st, 2 * j), w, st, 8 * j, 0, 4);
      Value hi = dots(sixteenStart(st, 2 * j + 1), w, st, 8 * j, 4, 8);
      accs[t] = scaleBlock(d, lo, hi, scLo, scHi, j, st, accs[t]);
    }
  }
  /// Where the dot product of 16 `k` starts: -o sum(xq) (Q6_K / Q3_K) or 0.
  Value sixteenStart(const TokenStep &st, int64_t k) {
    return st.start.empty() ? splat(vec(kLanes, i32()), 0) : st.start[k];
  }
  /// `acc + float(lo * scLo + hi * scHi) * d * a_j`: block j's two 16s.
  Value scaleBlock(Value d, Value lo, Value hi, Value scLo, Value scHi,
                   int64_t j, const TokenStep &st, Value acc) {
    Value isum = add(mulI(lo, scLo), mulI(hi, scHi));
    return fma(toF32(isum, true), mulF(d, broadcastF(st.scale[j])), acc);
  }

  /// One group of 8 rows through one Q4_K or Q5_K super-block, for every
  /// token.
  void q45kGroup(Value unit, ArrayRef<TokenStep> steps,
                 MutableArrayRef<Value> accs) {
    bool q5 = is(f, kq::kQ5KFormat);
    Value d = halves(add(unit, region(0))), dmin = halves(add(unit, region(1)));
    SmallVector<Value> sb;
    for (int64_t k = 0; k < 12; ++k)
      sb.push_back(rowBytes(unit, region(2), k));
    // get_scale_min_k4 of ggml-quants.c, on 8 rows at once.
    SmallVector<Value> dsc, dm;
    for (int64_t j = 0; j < 8; ++j) {
      Value sc, m;
      if (j < 4) {
        sc = andI(sb[j], 63);
        m = andI(sb[j + 4], 63);
      } else {
        sc = orI(andI(sb[j + 4], 15), shl(shr(sb[j - 4], 6), 4));
        m = orI(shr(sb[j + 4], 4), shl(shr(sb[j], 6), 4));
      }
      dsc.push_back(mulF(d, toF32(sc, false)));
      dm.push_back(mulF(dmin, toF32(m, false)));
    }
    // Q5_K: bit j of qh byte i is the fifth bit of weight i of sub-block j.
    SmallVector<Value> qh;
    for (int64_t c = 0; q5 && c < 8; ++c)
      qh.push_back(chunk(unit, region(3), c));
    int64_t nibbles = region(q5 ? 4 : 3);
    Value zero = splat(vec(kLanes, i32()), 0);
    for (int64_t p = 0; p < 4; ++p) {
      // Bytes 32p..32p+31 of each row: sub-block 2p in the low nibbles,
      // 2p + 1 in the high ones.
      auto nibble = [&](int64_t c, int64_t h) {
        Value v = chunk(unit, nibbles, 8 * p + c);
        Value q = h ? shr(v, 4) : andI(v, 15);
        return q5 ? orI(q, andI(shift(qh[c], 2 * p - 4 + h), 16)) : q;
      };
      // isums[t][h]: sub-block 2p + h's integer dot product with token t.
      SmallVector<std::array<Value, 2>> isums(steps.size());
      if (steps.size() == 1) {
        // One token: each chunk's two nibbles go into the two sub-blocks'
        // chains as soon as they are unpacked (a handful of live vectors,
        // not 16 unpacked chunks: AVX2 has 16 registers).
        Value chain[2] = {zero, zero};
        for (int64_t c = 0; c < 8; ++c)
          for (int64_t h = 0; h < 2; ++h)
            chain[h] = llm::buildByteDot(b, l, chain[h], nibble(c, h),
                                word(steps[0], 8 * (2 * p + h) + c));
        isums[0] = {chain[0], chain[1]};
      } else {
        // Several tokens: the unpacked chunks are shared by all of them.
        SmallVector<Value> w[2];
        for (int64_t c = 0; c < 8; ++c)
          for (int64_t h = 0; h < 2; ++h)
            w[h].push_back(nibble(c, h));
        for (size_t t = 0; t < steps.size(); ++t)
          for (int64_t h = 0; h < 2; ++h)
            isums[t][h] = dots(zero, w[h], steps[t], 8 * (2 * p + h), 0, 8);
      }
      for (size_t t = 0; t < steps.size(); ++t)
        for (int64_t h = 0; h < 2; ++h) {
          int64_t j = 2 * p + h;
          Value s = mulF(dsc[j], broadcastF(steps[t].scale[j]));
          accs[t] = fma(toF32(isums[t][h], true), s, accs[t]);
          accs[t] = fma(dm[j], steps[t].minX[j], accs[t]);
        }
    }
  }

  /// `body(j, q)` for each block j of 32 of Q2_K / Q3_K, q its 8 chunks of
  /// 2-bit quants (dequantize_row_q2_K / _q3_K: weight 128n + 32k + i is
  /// bits 2k, 2k + 1 of qs[32n + i], block j = 4n + k).
  void forEachTwoBitBlock(
      Value unit, function_ref<void(int64_t, ArrayRef<Value>)> body) {
    for (int64_t n = 0; n < 2; ++n) {
      SmallVector<Value> v;
      for (int64_t c = 0; c < 8; ++c)
        v.push_back(chunk(unit, region(3), 8 * n + c));
      for (int64_t k = 0; k < 4; ++k) {
        SmallVector<Value> q;
        for (int64_t c = 0; c < 8; ++c)
          q.push_back(andI(shift(v[c], 2 * k), 3));
        body(4 * n + k, q);
      }
    }
  }

  /// One group of 8 rows through one Q2_K super-block, for every token.
  void q2kGroup(Value unit, ArrayRef<TokenStep> steps,
                MutableArrayRef<Value> accs) {
    Value d = halves(add(unit, region(0))), dmin = halves(add(unit, region(1)));
    // The scale byte of each 16 has the scale in its low nibble, the min in
    // its high one.
    forEachTwoBitBlock(unit, [&](int64_t j, ArrayRef<Value> w) {
      Value sbLo = rowBytes(unit, region(2), 2 * j),
            sbHi = rowBytes(unit, region(2), 2 * j + 1);
      scaledSixteens(d, w, toI32(andI(sbLo, 15), false),
                     toI32(andI(sbHi, 15), false), j, steps, accs);
      Value mLo = mulF(dmin, toF32(shr(sbLo, 4), false)),
            mHi = mulF(dmin, toF32(shr(sbHi, 4), false));
      for (size_t t = 0; t < steps.size(); ++t) {
        accs[t] = fma(mLo, steps[t].minX16[2 * j], accs[t]);
        accs[t] = fma(mHi, steps[t].minX16[2 * j + 1], accs[t]);
      }
    });
  }

  /// One group of 8 rows through one Q3_K super-block, for every token.
  void q3kGroup(Value unit, ArrayRef<TokenStep> steps,
                MutableArrayRef<Value> accs) {
    Value d = halves(add(unit, region(0)));
    // Scale s = 4a + k (6 bits, minus 32): its low nibble in byte
    // 4 (a & 1) + k (the high half when a >= 2), its top 2 bits as bits
    // 2a, 2a + 1 of byte 8 + k (dequantize_row_q3_K's aux words).
    auto scale = [&](int64_t s) {
      int64_t a = s / 4, k = s % 4;
      Value low = andI(shift(rowBytes(unit, region(1), 4 * (a % 2) + k),
                             4 * (a / 2)),
                       15);
      Value high = andI(shift(rowBytes(unit, region(1), 8 + k), 2 * a - 4),
                        0x30);
      Value biased = arith::SubIOp::create(b, l, orI(low, high),
                                           splat(vec(kLanes, i8()), 32));
      return toI32(biased, true);
    };
    // hmask: bit j of byte i is the high bit (4) of weight i of block j.
    SmallVector<Value> hm;
    for (int64_t c = 0; c < 8; ++c)
      hm.push_back(chunk(unit, region(2), c));
    forEachTwoBitBlock(unit, [&](int64_t j, ArrayRef<Value> q) {
      SmallVector<Value> w;
      for (int64_t c = 0; c < 8; ++c)
        w.push_back(orI(q[c], andI(shift(hm[c], j - 2), 4)));
      scaledSixteens(d, w, scale(2 * j), scale(2 * j + 1), j, steps, accs);
    });
  }

  /// One group of 8 rows through one Q6_K super-block, for every token.
  void q6kGroup(Value unit, ArrayRef<TokenStep> steps,
                MutableArrayRef<Value> accs) {
    Value d = halves(add(unit, region(0)));
    for (int64_t h = 0; h < 2; ++h) {
      // dequantize_row_q6_K: weight 128h + 32k + i (k < 4, i < 32) is
      // ql[64h + i + 32 (k & 1)] (low nibble for k < 2, high for k >= 2) |
      // bits 2k, 2k+1 of qh[32h + i] << 4.
      auto weights = [&](int64_t c) -> std::array<Value, 4> {
        Value qa = chunk(unit, region(2), 16 * h + c);
        Value qb = chunk(unit, region(2), 16 * h + 8 + c);
        Value qh = chunk(unit, region(3), 8 * h + c);
        return {orI(andI(qa, 15), andI(shl(qh, 4), 0x30)),
                orI(andI(qb, 15), andI(shl(qh, 2), 0x30)),
                orI(shr(qa, 4), andI(qh, 0x30)),
                orI(shr(qb, 4), andI(shr(qh, 2), 0x30))};
      };
      // Block j = 4h + k of 32 within the super-block; its two 16s' scales.
      auto scale = [&](int64_t k, int64_t half) {
        return toI32(rowBytes(unit, region(1), 2 * (4 * h + k) + half), true);
      };
      if (steps.size() == 1) {
        // One token: each chunk's four blocks go into their chains as soon
        // as they are unpacked (8 chains and a few temporaries stay in
        // AVX2's 16 registers; 32 unpacked chunks did not).
        const TokenStep &st = steps[0];
        Value chain[4][2];
        for (int64_t k = 0; k < 4; ++k)
          for (int64_t half = 0; half < 2; ++half)
            chain[k][half] = sixteenStart(st, 2 * (4 * h + k) + half);
        for (int64_t c = 0; c < 8; ++c) {
          std::array<Value, 4> w = weights(c);
          for (int64_t k = 0; k < 4; ++k) {
            Value &ch = chain[k][c / 4];
            ch = llm::buildByteDot(b, l, ch, w[k], word(st, 8 * (4 * h + k) + c));
          }
        }
        for (int64_t k = 0; k < 4; ++k)
          accs[0] = scaleBlock(d, chain[k][0], chain[k][1], scale(k, 0),
                               scale(k, 1), 4 * h + k, st, accs[0]);
        continue;
      }
      SmallVector<SmallVector<Value>> w(4);
      for (int64_t c = 0; c < 8; ++c)
        for (auto [k, v] : llvm::enumerate(weights(c)))
          w[k].push_back(v);
      for (int64_t k = 0; k < 4; ++k)
        scaledSixteens(d, w[k], scale(k, 0), scale(k, 1), 4 * h + k, steps,
                       accs);
    }
  }

  /// The fifth bits of Q5_0 / Q5_1 chunk `c` as 16 or 0 per byte, from the
  /// 8 rows' qh words `qh` (row r's little-endian u32 in bytes 4r..4r+3):
  /// chunk c holds weights 4c..4c+3 of each row in the low nibbles
  /// (`high` = 0), 16 + 4c.. in the high ones, so byte 4r + k needs bit
  /// 4c + k (+ 16) of row r's word: its byte (c / 2, + 2) spread by a
  /// shuffle within the row, then tested against the bit's mask.
  Value fifthBits(Value qh, int64_t c, int64_t high) {
    SmallVector<int64_t> pick;
    SmallVector<int8_t> masks;
    for (int64_t r = 0; r < kLanes; ++r)
      for (int64_t k = 0; k < 4; ++k) {
        pick.push_back(4 * r + 2 * high + c / 2);
        masks.push_back(int8_t(1 << (4 * (c % 2) + k)));
      }
    VectorType t = vec(kBlock, i8());
    Value spread = vector::ShuffleOp::create(b, l, qh, qh, pick);
    Value mask = arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(t, ArrayRef<int8_t>(masks)));
    Value set = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq,
                                      arith::AndIOp::create(b, l, spread, mask),
                                      mask);
    return andI(arith::ExtSIOp::create(b, l, t, set), 16);
  }

  /// IQ4_NL: the nibbles `q` looked up in a table (a byte shuffle:
  /// vpshufb, vpermb, tbl). Where unsigned bytes up to 255 are free
  /// (`offset`: vpdpbusd, usdot), the values + 128 (the chain starts at
  /// -128 sum(xq)); otherwise their magnitudes, which keep the byte dot
  /// product's unsigned side below 128 (vpmaddubsw, sdot), and where the
  /// values are negative (q < 8): the signs go to the activations
  /// (withSigns).
  std::pair<Value, Value> iq4nlLookup(Value q, bool offset) {
    VectorType t = vec(kBlock, i8());
    SmallVector<int8_t> entries;
    for (int8_t v : kq::kIQ4NLValues)
      entries.push_back(offset ? int8_t(uint8_t(v + 128))
                               : int8_t(v < 0 ? -v : v));
    Value table = arith::ConstantOp::create(
        b, l, DenseElementsAttr::get(vec(16, i8()), ArrayRef<int8_t>(entries)));
    SmallVector<Value> looked;
    for (int64_t i = 0; i < kBlock; ++i) {
      Value n = vector::ExtractOp::create(b, l, q, ArrayRef<int64_t>{i});
      Value at = arith::IndexCastUIOp::create(b, l, b.getIndexType(), n);
      looked.push_back(
          vector::ExtractOp::create(b, l, table, ArrayRef<OpFoldResult>{at}));
    }
    Value u = vector::FromElementsOp::create(b, l, t, looked);
    if (offset)
      return {u, Value()};
    Value negative = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ult, q,
                                           splat(t, 8));
    return {u, negative};
  }
  /// `x` negated where `negative`.
  Value withSigns(Value x, Value negative) {
    Value minusX = arith::SubIOp::create(
        b, l, splat(cast<VectorType>(x.getType()), 0), x);
    return arith::SelectOp::create(b, l, negative, minusX, x);
  }

  /// One group of 8 rows through 8 blocks of 32 of Q5_0, Q5_1 or IQ4_NL,
  /// for every token: per block j, chunk c (c < 4) of the nibbles holds
  /// weights 4c..4c+3 of each row in its low nibbles, 16 + 4c.. in its
  /// high ones; one chain of byte dot products per block, scaled once by
  /// d a_j (Q5_0: from -16 sum xq; Q5_1: plus m a_j sum xq).
  void blocks32Group(Value unit, ArrayRef<TokenStep> steps,
                     MutableArrayRef<Value> accs) {
    bool q51 = is(f, kq::kQ5_1Format), iq4 = is(f, kq::kIQ4NLFormat);
    const kq::Region *kind = f.block32;
    Value zero = splat(vec(kLanes, i32()), 0);
    for (int64_t j = 0; j < kq::kBlocksPerSuperBlock; ++j) {
      auto at = [&](int64_t k) { return kq::block32UnitStart(kind[k], j); };
      Value d = halves(add(unit, at(0)));
      Value qh;
      if (!iq4)
        qh = read(b, l, vec(kBlock, i8()), bytes, {add(unit, at(q51 ? 2 : 1))});
      SmallVector<Value> chains;
      for (const TokenStep &st : steps)
        chains.push_back(st.start.empty() ? zero : st.start[j]);
      for (int64_t c = 0; c < 4; ++c) {
        Value v = chunk(unit, at(f.numBlock32 - 1), c);
        for (int64_t h = 0; h < 2; ++h) {
          Value q = h ? shr(v, 4) : andI(v, 15), negative;
          if (qh)
            q = orI(q, fifthBits(qh, c, h));
          if (iq4)
            std::tie(q, negative) = iq4nlLookup(q, !steps[0].start.empty());
          for (auto [t, st] : llvm::enumerate(steps)) {
            Value x = word(st, 8 * j + 4 * h + c);
            if (negative)
              x = withSigns(x, negative);
            chains[t] = llm::buildByteDot(b, l, chains[t], q, x);
          }
        }
      }
      Value m = q51 ? arith::NegFOp::create(b, l, halves(add(unit, at(1))))
                    : Value();
      for (auto [t, st] : llvm::enumerate(steps)) {
        accs[t] = fma(toF32(chains[t], true),
                      mulF(d, broadcastF(st.scale[j])), accs[t]);
        if (m)
          accs[t] = fma(m, st.minX[j], accs[t]);
      }
    }
  }

  /// One group of 8 rows through one super-block, for every token.
  void group(Value unit, ArrayRef<TokenStep> steps,
             MutableArrayRef<Value> accs) {
    if (f.block32)
      blocks32Group(unit, steps, accs);
    else if (is(f, kq::kQ2KFormat))
      q2kGroup(unit, steps, accs);
    else if (is(f, kq::kQ3KFormat))
      q3kGroup(unit, steps, accs);
    else if (is(f, kq::kQ6KFormat))
      q6kGroup(unit, steps, accs);
    else
      q45kGroup(unit, steps, accs);
  }
};

} // namespace

Value mlir::llm::lowering::blockdot::kquantKernel(
    OpBuilder &b, Location l, const kq::Format &f, int64_t in, int64_t out,
    int64_t tile, Value xp, Value bytes, int64_t tokens) {
  ActivationFactors a = activationFactors(b, l, f, in, xp);
  Value tp = tensor::DimOp::create(b, l, xp, 0);
  // Register tile: one group of 8 rows x `tokens` tokens (decode of the
  // 1.1b-2l Q4_K_M model: 1 group 163 tok/s, 2 groups 140, 8 groups 115;
  // a super-block step holds enough work to hide the loop).
  int64_t groups = 1;
  KernelBuilder k{b, l, f, in, out, tile, bytes};
  return forEachTile(
      b, l, tp, out, 8 * groups, tokens,
      [&](OpBuilder &b, Location l, Value col0, ArrayRef<Value> ts, Value r0,
          Value tileOut) -> Value {
        Value zeroAcc = arith::ConstantOp::create(
            b, l, DenseElementsAttr::get(k.acc(), b.getF32FloatAttr(0)));
        SmallVector<Value> inits(groups * tokens, zeroAcc);
        Value group0 = arith::DivUIOp::create(b, l, k.add(col0, r0),
                                              k.idx(8));
        auto loop = scf::ForOp::create(
            b, l, k.idx(0), k.idx(k.superBlocks()), k.idx(1), inits,
            [&](OpBuilder &b, Location l, Value s, ValueRange iter) {
              SmallVector<TokenStep, 4> steps;
              for (Value t : ts)
                steps.push_back(k.tokenStep(a, t, s));
              SmallVector<Value> next(iter.begin(), iter.end());
              for (int64_t gi = 0; gi < groups; ++gi) {
                Value unit = k.unitAt(k.add(group0, gi), s);
                MutableArrayRef<Value> accs(next.data() + gi * tokens, tokens);
                k.group(unit, steps, accs);
              }
              scf::YieldOp::create(b, l, next);
            });
        if (tokens == 1)
          markForPrefetch(b, loop);
        return storeGroups(b, l, loop.getResults(), ts, r0, tileOut);
      });
}
