//===- Passes.td - every llmc pass -------------------------*- tablegen -*-===//
//
// One declaration per pass; the implementation is one .cpp in passes/ that
// derives from the generated base, and one lit file in test/passes/.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_PASSES_TD
#define LLMC_PASSES_PASSES_TD

include "mlir/Pass/PassBase.td"

def UnifyParams : Pass<"llm-unify-params", "mlir::ModuleOp"> {
  let summary = "Merge llm.param ops naming the same weight and hoist them";
  let description = [{
    Importers and passes create `llm.param` ops wherever a weight is used.
    This pass gives every function one `llm.param` per weight name, placed at
    the top of the entry block in first-use order, so the function starts
    with its weight table. A weight name declared with two different types
    or quantizations anywhere in the module is an error (it would make
    packing ambiguous), reported at both declarations.

    Example:

    ```mlir
    %a = llm.param "w" : tensor<4x4xf32>
    ...
    %b = llm.param "w" : tensor<4x4xf32>   // replaced by %a, hoisted
    ```
  }];
  let options = [
    Option<"hoist", "hoist", "bool", /*default=*/"true",
           "Move the params to the start of their function's entry block">,
  ];
  let dependentDialects = ["::mlir::llm::LLMDialect"];
}

#endif // LLMC_PASSES_PASSES_TD
