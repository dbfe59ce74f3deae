//===- DialectTest.cpp - C++ API of the llm dialect -----------------------===//
//
// What lit cannot reach: builders, attribute helpers used by passes and the
// packer, and the diagnostics verifiers emit for programmatically built IR.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"
#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::llm;

namespace {
class LLMDialectTest : public ::testing::Test {
protected:
  LLMDialectTest() : builder(&ctx) {
    ctx.loadDialect<LLMDialect, func::FuncDialect, arith::ArithDialect>();
    module = ModuleOp::create(builder.getUnknownLoc());
    builder.setInsertionPointToEnd(module->getBody());
  }

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, builder.getF32Type());
  }

  /// A function taking `argTypes` whose body the test fills in.
  func::FuncOp makeFunc(TypeRange argTypes) {
    auto func = func::FuncOp::create(builder, builder.getUnknownLoc(), "f",
                                     builder.getFunctionType(argTypes, {}));
    builder.setInsertionPointToStart(func.addEntryBlock());
    return func;
  }

  Value param(StringRef name, RankedTensorType type) {
    return ParamOp::create(builder, builder.getUnknownLoc(), type,
                           builder.getStringAttr(name), QuantAttr());
  }

  /// Verifies the module and returns the first diagnostic message.
  std::string verifyMessage() {
    std::string message;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
      if (message.empty())
        message = diag.str();
      return success();
    });
    (void)verify(*module);
    return message;
  }

  MLIRContext ctx;
  OpBuilder builder;
  OwningOpRef<ModuleOp> module;
};

TEST_F(LLMDialectTest, BuiltDecoderPiecesVerify) {
  auto func = makeFunc({f32({ShapedType::kDynamic, 64})});
  Location loc = builder.getUnknownLoc();
  Value x = func.getArgument(0);
  Value norm = RMSNormOp::create(builder, loc, x, param("norm", f32({64})),
                                 builder.getF64FloatAttr(1e-5));
  Value up = LinearOp::create(builder, loc, f32({ShapedType::kDynamic, 172}),
                              norm, param("w1", f32({172, 64})), Value());
  Value act = SiLUOp::create(builder, loc, up);
  (void)act;
  func::ReturnOp::create(builder, loc);
  EXPECT_EQ(verifyMessage(), "");
}

TEST_F(LLMDialectTest, LinearVerifierNamesOperandAndBothTypes) {
  auto func = makeFunc({f32({ShapedType::kDynamic, 64})});
  Location loc = builder.getUnknownLoc();
  LinearOp::create(builder, loc, f32({ShapedType::kDynamic, 172}),
                   func.getArgument(0), param("w1", f32({172, 32})), Value());
  func::ReturnOp::create(builder, loc);
  std::string msg = verifyMessage();
  EXPECT_NE(msg.find("'weight'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor<172x32xf32>"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tensor<?x64xf32>"), std::string::npos) << msg;
}

TEST_F(LLMDialectTest, QuantScalesShape) {
  auto group = QuantAttr::get(&ctx, int64_t(4), int64_t(32), QuantScheme::symmetric,
                              QuantGranularity::group);
  EXPECT_EQ(*group.getScalesShape({172, 64}), (SmallVector<int64_t>{172, 2}));
  EXPECT_FALSE(group.getScalesShape({172, 48}).has_value());
  auto channel = QuantAttr::get(&ctx, int64_t(8), int64_t(0), QuantScheme::symmetric,
                                QuantGranularity::channel);
  EXPECT_EQ(*channel.getScalesShape({8, 172, 64}),
            (SmallVector<int64_t>{8, 172, 1}));
  auto tensor = QuantAttr::get(&ctx, int64_t(8), int64_t(0), QuantScheme::asymmetric,
                               QuantGranularity::tensor);
  EXPECT_EQ(*tensor.getScalesShape({172, 64}), (SmallVector<int64_t>{1, 1}));
  EXPECT_TRUE(tensor.hasZeroPoints());
  auto block = QuantAttr::get(&ctx, int64_t(4), int64_t(32), QuantScheme::gguf_q4_0,
                              QuantGranularity::block);
  EXPECT_TRUE(block.isBlockScheme());
  EXPECT_FALSE(block.getScalesShape({172, 64}).has_value());
}

TEST_F(LLMDialectTest, QuantBitsPerWeight) {
  auto q40 = QuantAttr::get(&ctx, int64_t(4), int64_t(32), QuantScheme::gguf_q4_0,
                            QuantGranularity::block);
  EXPECT_DOUBLE_EQ(q40.getBitsPerWeight(), 4.5); // 18 bytes per 32 weights
  auto q80 = QuantAttr::get(&ctx, int64_t(8), int64_t(32), QuantScheme::gguf_q8_0,
                            QuantGranularity::block);
  EXPECT_DOUBLE_EQ(q80.getBitsPerWeight(), 8.5); // 34 bytes per 32 weights
  auto w4g128 = QuantAttr::get(&ctx, int64_t(4), int64_t(128), QuantScheme::asymmetric,
                               QuantGranularity::group);
  EXPECT_DOUBLE_EQ(w4g128.getBitsPerWeight(), 4.25);
}

TEST_F(LLMDialectTest, QuantAttrGetCheckedRejectsBadAttributes) {
  std::string message;
  auto emit = [&]() {
    return emitError(UnknownLoc::get(&ctx));
  };
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &diag) {
    message = diag.str();
    return success();
  });
  EXPECT_FALSE(QuantAttr::getChecked(emit, &ctx, int64_t(16), int64_t(0), QuantScheme::symmetric,
                                     QuantGranularity::channel));
  EXPECT_NE(message.find("bits must be in [2, 8]"), std::string::npos);
  EXPECT_FALSE(QuantAttr::getChecked(emit, &ctx, int64_t(8), int64_t(64), QuantScheme::gguf_q8_0,
                                     QuantGranularity::block));
  EXPECT_NE(message.find("group = 32"), std::string::npos);
}

TEST_F(LLMDialectTest, KVCacheSize) {
  auto cache = KVCacheType::get(&ctx, int64_t(5), int64_t(512), int64_t(4), int64_t(8), builder.getF32Type());
  EXPECT_EQ(cache.getNumElements(), 2 * 5 * 512 * 4 * 8);
  EXPECT_EQ(cache.getSizeInBytes(), 2 * 5 * 512 * 4 * 8 * 4);
  auto i8 = KVCacheType::get(&ctx, int64_t(5), int64_t(512), int64_t(4), int64_t(8), builder.getI8Type());
  // int8: the values and one f32 scale per (layer, k|v, head, position).
  EXPECT_EQ(i8.getSizeInBytes(), 2 * 5 * 512 * 4 * 8 + 2 * 5 * 512 * 4 * 4);
}

TEST_F(LLMDialectTest, AddFoldsZeroAndConstants) {
  auto func = makeFunc({f32({4})});
  Location loc = builder.getUnknownLoc();
  Value x = func.getArgument(0);
  auto type = f32({4});
  Value zero = arith::ConstantOp::create(
      builder, loc, DenseElementsAttr::get(type, builder.getF32FloatAttr(0)));
  EXPECT_EQ(builder.createOrFold<AddOp>(loc, x, zero), x);
  Value two = arith::ConstantOp::create(
      builder, loc, DenseElementsAttr::get(type, builder.getF32FloatAttr(2)));
  Value three = arith::ConstantOp::create(
      builder, loc, DenseElementsAttr::get(type, builder.getF32FloatAttr(3)));
  Value six = builder.createOrFold<MulOp>(loc, two, three);
  DenseElementsAttr folded;
  ASSERT_TRUE(matchPattern(six, m_Constant(&folded)));
  EXPECT_EQ(folded.getSplatValue<APFloat>().convertToFloat(), 6.0f);
}
} // namespace
