//===- GPUPasses.td - GPU mapping and kernel ABI passes ----*- tablegen -*-===//
//
// Included by Passes.td. Implemented under lowering/gpu (shared by the GPU
// backends) and lowering/vulkan.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_GPUPASSES_TD
#define LLMC_PASSES_GPUPASSES_TD

include "mlir/Pass/PassBase.td"

def GPUMapLoops : Pass<"llm-gpu-map-loops", "mlir::func::FuncOp"> {
  let summary = "Map a bufferized model entry onto GPU workgroups";
  let description = [{
    Prepares a bufferized function for `convert-parallel-loops-to-gpu`, so
    that every access to a buffer runs in a kernel and the host only
    allocates, slices and launches:

    - a `linalg.generic` summing or maximizing (f32 `addf` / `maximumf`
      into its output) over a last reduction dim that is dynamic or of at
      least `reduce-length` static elements (matrix-vector products,
      RMSNorm's sum of squares, softmax's row max and sum, attention's
      weighted sum over the cached positions) becomes a `gpu.launch` with
      one workgroup per output element, whose `workgroup-size` threads
      stride over the reduction. Their partial results are combined with
      `reduction=tree` in workgroup memory by a tree of halvings separated
      by `gpu.barrier`s, with `reduction=all-reduce` by a `gpu.all_reduce`
      (warp shuffles plus one exchange through shared memory on NVVM);
      thread 0 folds the total into the output. This is the decode GEMV
      form (one invocation per output with a sequential dot product leaves
      most of a GPU idle). Small static parallel dims that a reduced input
      does not index (the linear projection's 4-token block, the query
      heads sharing a KV head) are computed by the same workgroup with one
      accumulator each, so that input is read once for all of them. Not
      split: a static reduction of at most 256 elements over an input laid
      out along the innermost parallel dim (attention's q.k with keys
      stored along positions), which is faster as one thread per output.
      With `vector-width` > 1 and a static length that is a multiple of
      `vector-width * workgroup-size`, the operands contiguous along the
      reduction (a weight row, the activation) are read `vector-width`
      elements per `vector.load` (aligned: 128-bit loads for 4 x f32),
      guarded by a run-time check that their offsets and outer strides are
      multiples of it (else the scalar loop runs);
    - `memref.copy` becomes `linalg.copy`, and every linalg op an
      `scf.parallel` over its parallel dims with its reduction dims as
      sequential loops inside (an op with no parallel dim runs as one
      invocation of a one-iteration loop);
    - each outermost `scf.parallel` is tiled: its innermost dim by
      `workgroup-size` (or its static trip count if smaller) across the
      threads of a workgroup (guarded by an `scf.if`), every other dim one
      per workgroup, on a grid of up to three dims (x = innermost). A nest
      of more than three dims first has its outer dims collapsed into one
      (`scf::collapseParallelLoops`), so no invocation loops over a
      parallel dim (long per-invocation loops are slow, and lavapipe stops
      a loop after 65535 iterations). Nested parallel loops run
      sequentially inside an invocation. The mapping is the `gpu.mapping`
      attribute `convert-parallel-loops-to-gpu` reads;
    - host `memref.alloc` / `memref.dealloc` become `gpu.alloc` /
      `gpu.dealloc` on a stream (`gpu.wait async`), which `gpu-to-llvm`
      lowers to the runtime's `mgpuMemAlloc` / `mgpuMemFree`.

    An op left outside a parallel loop that reads or writes buffer contents
    is an error (the host cannot touch device memory).

    ```mlir
    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c64) step (%c1, %c1) {...}
    // becomes (workgroup-size=64): one workgroup per row, 64 threads
    scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c64) step (%c1, %c64) {
      scf.parallel (%ii, %jj) = (%c0, %c0) to (%c1, %c64) step (%c1, %c1) {...}
        {mapping = [#gpu.loop_dim_map<processor = sequential, ...>,
                    #gpu.loop_dim_map<processor = thread_x, ...>]}
    } {mapping = [#gpu.loop_dim_map<processor = block_y, ...>,
                  #gpu.loop_dim_map<processor = block_x, ...>]}
    ```
  }];
  let options = [
    Option<"workgroupSize", "workgroup-size", "int64_t", /*default=*/"64",
           "Threads per workgroup along the innermost parallel dim">,
    Option<"reduceLength", "reduce-length", "int64_t", /*default=*/"64",
           "Split sum reductions of at least this many (static) elements "
           "across a workgroup (0: never)">,
    Option<"reduction", "reduction", "std::string", /*default=*/"\"tree\"",
           "How a workgroup combines partial sums: tree (workgroup memory "
           "and barriers) or all-reduce (gpu.all_reduce)">,
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"1",
           "Elements per load of a split reduction's contiguous operands "
           "(1, 2 or 4)">,
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::vector::VectorDialect"
  ];
}

def GPUKernelABI : Pass<"llm-gpu-kernel-abi", "mlir::ModuleOp"> {
  let summary = "Flatten outlined kernels' memref arguments to buffers and scalars";
  let description = [{
    Runs after `gpu-kernel-outlining`. Every memref argument of a kernel
    becomes a flat buffer `memref<?xT>` (the allocation the view points
    into; on the host, `memref.extract_strided_metadata` + a
    `memref.reinterpret_cast` whose size is the extent the view reaches),
    an element offset, and one index per dynamic stride (and per dynamic
    size the kernel reads with `memref.dim`); loads and stores index the
    buffer with `offset + sum(index * stride)`. This is what SPIR-V storage
    buffers can express (dynamic offsets and strides are not) and what a
    runtime binds. Scalars narrower than 32 bits are passed as i32 / f32,
    i64 as index. A small constant global passed to a kernel (RoPE's
    inverse frequencies) is copied into a private array of the kernel
    instead.

    The kernel gets `llm.kernel_abi`, one string per argument: `buf:<element
    bytes>`, `off` (the offset of the preceding buffer; the runtime adds the
    offset it binds the buffer at), `idx`, `i32`, `f32`; and
    `spirv.entry_point_abi` with its workgroup size. A kernel without a
    static workgroup size, a buffer used other than by load/store/dim, or a
    non-strided layout is an error.

    ```mlir
    gpu.func @k(%a: memref<?x32xf32, strided<[?, 1], offset: ?>>) kernel
    // becomes
    gpu.func @k(%buf: memref<?xf32>, %off: index, %s0: index) kernel
        attributes {llm.kernel_abi = ["buf:4", "off", "idx"], ...}
    ```
  }];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::spirv::SPIRVDialect"
  ];
}

def VulkanSerialize : Pass<"llm-vulkan-serialize", "mlir::ModuleOp"> {
  let summary = "Serialize SPIR-V kernel modules into gpu.binary objects";
  let description = [{
    After `convert-gpu-to-spirv` (and `spirv-lower-abi-attrs`,
    `spirv-update-vce` on the `spirv.module`s), serializes each kernel
    module and replaces its `gpu.module` with a `gpu.binary` holding the
    runtime's kernel module: `LLMCSPV1`, a little-endian u32 length, a JSON
    table of the kernels (name, workgroup size, argument ABI from
    `llm.kernel_abi`; argument i is binding i of set 0), padding to 4
    bytes, then the SPIR-V words. `dump-dir` also writes each module's
    SPIR-V as `<module>.spv` (for `spirv-val`).
  }];
  let options = [
    Option<"dumpDir", "dump-dir", "std::string", /*default=*/"\"\"",
           "Directory to write each kernel module's .spv into">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GPUMMAMatmul : Pass<"llm-gpu-mma", "mlir::func::FuncOp"> {
  let summary = "Run prefill linear projections on tensor cores (nvgpu.mma.sync)";
  let description = [{
    Runs on a bufferized model entry before `llm-gpu-map-loops` (CUDA
    pipeline). Each f32 linear projection (the `llm.schedule` contraction
    `y[b, l, n] += x[b, l, k] * w[n, k]` over token blocks of 4, N and K
    multiples of 8) gets a host-side branch on its (dynamic) token rows: at
    least `min-rows` rows run a `gpu.launch` of warp-level tensor-core
    products, `nvgpu.mma.sync` m16n8k8 on TF32 (sm_80+): 4 warps per
    workgroup, each computing a 16 x 8 tile of `y` with its fragments
    loaded from global memory in the PTX fragment layout; fewer rows
    (decode) keep the contraction for the GEMV mapping.

    `precision=3xtf32` (default) keeps f32 accuracy by splitting each
    operand into a TF32 part and its exact remainder and summing three
    products (big*big + big*small + small*big); `precision=tf32` is a
    single TF32 product (10-bit mantissa).

    ```mlir
    linalg.generic {...} ins(%x, %w : memref<?x4x64xf32>, memref<32x64xf32>)
        outs(%y : memref<?x4x32xf32>) {llm.schedule = "linear"}
    // becomes
    scf.if %rows_at_least_16 {
      gpu.launch ... { ... nvgpu.mma.sync(%a, %b, %c) {mmaShape = [16, 8, 8],
                                                      tf32Enabled} ... }
    } else {
      linalg.generic ... (unchanged)
    }
    ```
  }];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"3xtf32\"",
           "tf32 (one TF32 MMA) or 3xtf32 (split operands, f32 accuracy)">,
    Option<"minRows", "min-rows", "int64_t", /*default=*/"16",
           "Token rows from which the tensor-core kernel runs">,
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::nvgpu::NVGPUDialect",
    "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect", "::mlir::vector::VectorDialect"
  ];
}

def GPUMergeModules : Pass<"llm-gpu-merge-modules", "mlir::ModuleOp"> {
  let summary = "Move every outlined kernel into one gpu.module";
  let description = [{
    After `gpu-kernel-outlining` (one `gpu.module` per kernel), moves the
    kernels of all modules into one module `name` and points every
    `gpu.launch_func` at it. A symbol copied into several modules (a
    constant global) is kept once if the copies are identical, else it is
    an error; modules that already have targets are an error (merge first).
    The CUDA pipeline uses it so a model is one PTX per architecture: one
    ptxas run and one module load instead of hundreds.
  }];
  let options = [
    Option<"name", "name", "std::string", /*default=*/"\"llmc_kernels\"",
           "The merged module's name">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def CUDABundle : Pass<"llm-cuda-bundle", "mlir::ModuleOp"> {
  let summary = "Bundle each kernel module's PTX (and cubins) into one object";
  let description = [{
    Runs after `gpu-module-to-binary{format=isa}` on modules with one
    `#nvvm.target` per `--cuda-arch`. Each `gpu.binary` then holds one PTX
    object per architecture; this pass assembles each PTX with `ptxas`
    (`ptxas` option: its path; empty: PTX only) into a cubin and replaces
    the objects by one whose bytes are the runtime's CUDA module bundle:
    `LLMCCUDA`, a little-endian u32 length, a JSON table
    (`kernels`: the kernel names; `images`: one entry per image with its
    `arch`, `format` (`cubin` or `ptx`), `offset` from the payload start and
    `size`), padding to 8
    bytes, then the images. The runtime loads the cubin built for the
    device's architecture (or the newest one of the same major version
    not above it), else the newest PTX not above it (JIT-compiled by the
    driver). `dump-dir` also writes `<module>.<arch>.ptx` / `.cubin`. A
    ptxas failure is an error naming the module and architecture, with
    ptxas's message.
  }];
  let options = [
    Option<"ptxas", "ptxas", "std::string", /*default=*/"\"\"",
           "ptxas to build cubins with (empty: embed PTX only)">,
    Option<"dumpDir", "dump-dir", "std::string", /*default=*/"\"\"",
           "Directory to write each module's PTX and cubins into">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

#endif // LLMC_PASSES_GPUPASSES_TD
