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

    - a `linalg.generic` summing (f32 `addf` into its output) over a last
      reduction dim of at least `reduce-length` static elements (matrix-vector
      products, RMSNorm's sum of squares, attention's weighted sum over
      cached blocks) becomes a `gpu.launch` with one workgroup per output
      element: its `workgroup-size` threads stride over the reduction, and
      their partial sums are combined in workgroup memory by a tree of
      halvings separated by `gpu.barrier`s; thread 0 adds the total to the
      output. This is the decode GEMV form (one invocation per output with
      a sequential dot product leaves most of a GPU idle);
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
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect"
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

#endif // LLMC_PASSES_GPUPASSES_TD
