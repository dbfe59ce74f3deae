//===- RooflineTest.cpp - roofline figures computed by hand ---------------===//
//
// Llama-2-7B (hidden 4096, 32 layers, 32 heads, intermediate 11008, vocab
// 32000, f16 weights) analysed from its config.json alone, against figures
// worked out on paper.
//
//===----------------------------------------------------------------------===//

#include "dialects/llm/LLMOps.h"
#include "importers/BuildIR.h"
#include "importers/ModelSource.h"
#include "passes/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include <gtest/gtest.h>

using namespace mlir;

namespace {
class Llama2RooflineTest : public ::testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(llvm::sys::fs::createTemporaryFile("llama-2-7b", "json", path));
    configPath = std::string(path);
    std::error_code ec;
    llvm::raw_fd_ostream os(configPath, ec);
    ASSERT_FALSE(ec);
    os << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096,
              "intermediate_size": 11008, "num_attention_heads": 32,
              "num_hidden_layers": 32, "vocab_size": 32000,
              "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
              "torch_dtype": "float16"})";
  }
  void TearDown() override { llvm::sys::fs::remove(configPath); }

  /// The `llm.roofline` dictionary of the first op using weight `name`.
  DictionaryAttr analyse(llm::RooflineOptions options, StringRef name) {
    auto source = llmc::openHuggingFaceConfig(configPath);
    if (!source) {
      ADD_FAILURE() << llvm::toString(source.takeError());
      return {};
    }
    module = llmc::buildModule(context, **source);
    PassManager pm(&context);
    pm.addPass(llm::createRoofline(options));
    if (failed(pm.run(*module))) {
      ADD_FAILURE() << "roofline pass failed";
      return {};
    }
    DictionaryAttr found;
    module->walk([&](Operation *op) {
      for (Value v : op->getOperands())
        if (auto p = v.getDefiningOp<llm::ParamOp>();
            p && p.getName() == name && !found)
          found = op->getAttrOfType<DictionaryAttr>("llm.roofline");
    });
    return found;
  }

  static int64_t count(DictionaryAttr d, StringRef key) {
    return cast<IntegerAttr>(d.get(key)).getInt();
  }
  static StringRef bound(DictionaryAttr d) {
    return cast<StringAttr>(d.get("bound")).getValue();
  }

  std::string configPath;
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(Llama2RooflineTest, QProjDecodeIsMemoryBoundOnA100) {
  llm::RooflineOptions options;
  options.hardware = "nvidia-a100-40gb";
  options.phase = "decode";
  DictionaryAttr q =
      analyse(options, "model.layers.0.self_attn.q_proj.weight");
  ASSERT_TRUE(q);
  EXPECT_EQ(count(q, "flops"), 2LL * 4096 * 4096);
  EXPECT_EQ(count(q, "weight_bytes"), 4096LL * 4096 * 2); // f16
  EXPECT_EQ(bound(q), "memory");
  // The MLP's down projection: 11008 x 4096 f16 weights.
  DictionaryAttr down = analyse(options, "model.layers.5.mlp.down_proj.weight");
  ASSERT_TRUE(down);
  EXPECT_EQ(count(down, "flops"), 2LL * 11008 * 4096);
  EXPECT_EQ(count(down, "weight_bytes"), 11008LL * 4096 * 2);
}

TEST_F(Llama2RooflineTest, QProjPrefillIsComputeBound) {
  llm::RooflineOptions options;
  options.hardware = "nvidia-a100-40gb";
  options.phase = "prefill";
  options.seq = 2048;
  DictionaryAttr q =
      analyse(options, "model.layers.0.self_attn.q_proj.weight");
  ASSERT_TRUE(q);
  EXPECT_EQ(count(q, "flops"), 2LL * 2048 * 4096 * 4096);
  EXPECT_EQ(count(q, "weight_bytes"), 4096LL * 4096 * 2);
  EXPECT_EQ(bound(q), "compute");
}

TEST_F(Llama2RooflineTest, LmHeadAndEmbedding) {
  llm::RooflineOptions options;
  options.hardware = "nvidia-h100-sxm";
  DictionaryAttr head = analyse(options, "lm_head.weight");
  ASSERT_TRUE(head);
  EXPECT_EQ(count(head, "flops"), 2LL * 4096 * 32000);
  EXPECT_EQ(count(head, "weight_bytes"), 32000LL * 4096 * 2);
  // One token gathers one 4096-wide f16 row of the embedding table.
  DictionaryAttr emb = analyse(options, "model.embed_tokens.weight");
  ASSERT_TRUE(emb);
  EXPECT_EQ(count(emb, "weight_bytes"), 4096 * 2);
}
} // namespace
