// A RUN line that checks nothing, one without a colon, a misspelt directive
// and a directive without a colon.
// RUN: llmc-opt %s
// RUN llmc-opt %s | FileCheck %s
// RUN: llmc-opt %s | FileCheck %s --check-prefix=OTHER
// CHECK-NXET: llm.add
// CHECK llm.add
func.func @f() {
  return
}
