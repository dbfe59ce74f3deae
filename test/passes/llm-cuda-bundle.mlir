// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t && llmc-opt %s --gpu-module-to-binary=format=isa --llm-cuda-bundle="ptxas=%ptxas dump-dir=%t" | FileCheck %s
// RUN: ls %t | FileCheck %s --check-prefix=DUMP
// RUN: %python -c "import json,struct,sys; d=open(sys.argv[1],'rb').read(); n=struct.unpack_from('<I',d,8)[0]; print(d[:8].decode(), json.dumps(json.loads(d[12:12+n]), sort_keys=True))" %t/kernels.llmccuda | FileCheck %s --check-prefix=TABLE
// RUN: llmc-opt %s --gpu-module-to-binary=format=isa --llm-cuda-bundle | FileCheck %s --check-prefix=PTXONLY
// RUN: not llmc-opt %s --gpu-module-to-binary=format=isa --llm-cuda-bundle="ptxas=/bin/false" 2>&1 | FileCheck %s --check-prefix=FAIL
// RUN: not llmc-opt %s --gpu-module-to-binary=format=llvm --llm-cuda-bundle 2>&1 | FileCheck %s --check-prefix=NOTISA

// One PTX object per #nvvm.target becomes one object: the bundle of every
// architecture's PTX and cubin.
// CHECK: gpu.binary @kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">, bin = "LLMCCUDA
// CHECK-NOT: #gpu.object
// DUMP: kernels.llmccuda
// DUMP: kernels.sm_80.cubin
// DUMP: kernels.sm_80.ptx
// DUMP: kernels.sm_90.cubin
// DUMP: kernels.sm_90.ptx
// TABLE: LLMCCUDA {"images": [{"arch": "sm_80", "format": "cubin", "offset": 0, "size": {{[0-9]+}}}, {"arch": "sm_80", "format": "ptx", "offset": {{[0-9]+}}, "size": {{[0-9]+}}}, {"arch": "sm_90", "format": "cubin", {{.*}}}, {"arch": "sm_90", "format": "ptx", {{.*}}}], "kernels": ["add_one"]}
// PTXONLY: bin = "LLMCCUDA
// PTXONLY-NOT: cubin
// PTXONLY-SAME: \22format\22:\22ptx\22
// FAIL: error: kernel module 'kernels' for sm_80: ptxas -arch=sm_80 failed
// NOTISA: error: expected PTX objects of #nvvm.target (run gpu-module-to-binary{format=isa} first)
module attributes {gpu.container_module} {
  gpu.module @kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">,
                       #nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">] {
    llvm.func @add_one(%p: !llvm.ptr<1>) attributes {gpu.kernel, nvvm.kernel} {
      %v = llvm.load %p : !llvm.ptr<1> -> f32
      %one = llvm.mlir.constant(1.0 : f32) : f32
      %s = llvm.fadd %v, %one : f32
      llvm.store %s, %p : f32, !llvm.ptr<1>
      llvm.return
    }
  }
}
