// CHECK: nothing runs this file
func.func @f() {
  return
}
