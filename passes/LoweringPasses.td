//===- LoweringPasses.td - lowering passes -----------------*- tablegen -*-===//
//
// Included by Passes.td (which documents the conventions).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_PASSES_LOWERINGPASSES_TD
#define LLMC_PASSES_LOWERINGPASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Lowering (implemented under lowering/, shared by every backend)
//===----------------------------------------------------------------------===//

def OutlineLayers : Pass<"llm-outline-layers", "mlir::ModuleOp"> {
  let summary = "One function for the decoder layers that are the same code";
  let description = [{
    Cuts the entry function at its `llm.attention` ops: segment `l` (from
    the op after attention `l-1` to attention `l`) holds layer `l-1`'s
    output projection and MLP and layer `l`'s norm, projections and RoPE.
    Segments that are the same code up to their weights and cache layer
    (same ops, attributes and types; weights and incoming values as
    arguments, constants equal) become one private function
    `@llm_layer_N(inputs..., layer: index) -> outputs`, whose attention
    takes the layer as its `layer(%i)` operand; the entry function calls it
    once per layer. Weights (params and pack-time transforms) stay in the
    entry function and are passed in, so the buffer ABI binds them as
    before. Code size and compile time then no longer grow with depth.

    Graphs with early exits, calibration observers, ops with regions, or
    fewer than three layers are left unchanged; so are segments without a
    twin (dense layers between MoE ones get their own function only if two
    or more are alike).

    ```mlir
    %o1, %kv1 = llm.attention %q1, %k1, %v1, %kv0[%pos] {layer = 1 : i64, ...}
    // becomes
    %c1 = arith.constant 1 : index
    %r:3 = func.call @llm_layer_0(%x, %o0, %kv0, %wo, %w1, ..., %pos, %c1)
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward\"",
           "The function whose layers are outlined">,
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect"];
}

def ConvertLLMToLinalg : Pass<"convert-llm-to-linalg", "mlir::ModuleOp"> {
  let summary = "Lower llm ops to linalg/tensor/arith/math on tensors";
  let description = [{
    The tensor-level lowering every backend shares. Each `llm` op becomes
    `linalg.generic`/`linalg.fill`/`tensor` ops in destination-passing style:
    embedding is a gather, RMSNorm/LayerNorm a reduction plus an elementwise
    op, `llm.linear` a contraction over the stored `[out, in]` weight (narrow
    float weights are extended in the body), RoPE an elementwise op with the
    inverse frequencies as a constant (rope scaling applied at compile time),
    attention writes keys and values into the cache with `tensor.insert_slice`
    and computes scores, causal/sliding-window mask, softmax and the weighted
    sum over the cache prefix `[0, start_pos + seq)` with GQA head grouping.

    `!llm.kv_cache<L x S x KVH x D, T>` becomes
    `tensor<L x 2 x KVH x S x D x T>` (keys, then values; positions of one head
    contiguous). Function arguments and results that were caches are marked
    `llm.kv_cache` for `--llm-buffer-abi`. `llm.param` is kept.

    GGUF block-quantized weights (`q8_0`, `q4_0`, `q4_1`) are read as their
    packed bytes (a cast to a flat `i8` tensor that `--llm-buffer-abi` binds):
    `llm.dequantize` decodes the blocks. An `llm.qlinear` over q8_0 / q4_0
    blocks runs on them as stored, as llama.cpp does: activations are
    quantized to 8 bits per block of 32 (linalg generics), and a kernel
    emitted at the tensor level (scf.forall over row tasks, 4 rows x 1 or 4
    tokens per register tile, 8-lane i32 byte dot products per block scaled
    into f32 accumulators; `--llm-cpu-vnni` makes those vpdpbusd) computes
    the product;
    see lowering/LLMToLinalg/BlockDot.cpp. The K-quants (q2_k .. q6_k) and
    q5_0 / q5_1 / iq4_nl (8 blocks of 32 as one super-block) run the same
    way on super-blocks interleaved by 8 rows (KQuantDot.cpp), as do
    `llm.moe`'s experts in those formats. q4_1 is dequantized to f32 first,
    then the f32 linear runs (correct, not fast).
    An `llm.qlinear` over symmetric/asymmetric 8- or 4-bit integers
    (`--llm-quantize`) dequantizes in registers inside the contraction:
    8-bit integers and per-channel scales are inputs of the generic. 4-bit
    weights are read as the packed bytes `--llm-buffer-abi` binds (per block
    of B = group or row elements, element j < B/2 is the low nibble of byte
    j, j >= B/2 the high nibble of byte j - B/2): in groups, the bytes are
    viewed as `[out, in/G, G/2]` and the reduction runs over (group, half,
    byte), so bytes, scales and zero points are inputs too (tagged
    `q4matvec` / `q4linear`); otherwise (per channel, or 8-bit groups) they
    are read by index in the body (`qmatvec` / `qlinear`). `llm.quantize`
    of pack-time weights is kept, like `llm.concat`, for the buffer ABI.
    `llm.moe` computes router logits, ranks the experts per token, groups
    the routed (token, expert) slots by expert (counts, prefix sums, one
    pass in token order) and runs every expert once on its rows with the
    linear kernels (GGUF q8_0 / q4_0 experts on their blocks), then sums
    each token's weighted rows; no dense all-experts compute. Ops without a
    lowering yet (f16 activations in `llm.moe`, other quantization schemes,
    symbolic weight transforms) are reported, one error each.

    Before:

    ```mlir
    %y = llm.linear %x, %w : tensor<?x64xf32>, tensor<128x64xf32> -> tensor<?x128xf32>
    ```

    After (one token takes the matvec kernel, several the tiled one; the
    schedule tags are read by `--llm-cpu-schedule`):

    ```mlir
    %one = arith.cmpi eq, %t, %c1 : index
    %y = scf.if %one -> (tensor<?x128xf32>) {
      %acc = linalg.fill ins(%cst : f32) outs(%e : tensor<1x128xf32>) -> tensor<1x128xf32>
      %r = linalg.generic {iterator_types = ["parallel", "parallel", "reduction"], ...}
          ins(%x1, %w : tensor<1x64xf32>, tensor<128x64xf32>) outs(%acc : tensor<1x128xf32>)
          attrs = {llm.schedule = "matvec", llm.tiles = array<i64: 64, 4, 32>} {
      ^bb0(%in: f32, %wv: f32, %out: f32):
        %p = arith.mulf %in, %wv : f32
        %s = arith.addf %out, %p : f32
        linalg.yield %s : f32
      } -> tensor<1x128xf32>
      ...
    } else { ... llm.schedule = "linear" ... }
    ```
  }];
  let options = [
    Option<"profile", "profile", "bool", /*default=*/"false",
           "Bracket every op with calls to llmc_profile_enter/exit(id) (the "
           "runtime's per-op timers) and list the ops as module attribute "
           "llm.profile">,
    Option<"dotIsa", "dot-isa", "std::string", /*default=*/"\"\"",
           "The target's byte dot product, as llm-cpu-vnni's isa (vnni, avx2, "
           "neon-dot, neon-i8mm; empty: unknown), recorded as module attribute "
           "llm.dot_isa for the block kernels whose best form differs per "
           "ISA (IQ4_NL's table: offset by 128 where unsigned bytes up to 255 "
           "are free, vnni and neon-i8mm)">,
  ];
  let dependentDialects = [
    "::mlir::llm::LLMDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect", "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect", "::mlir::func::FuncDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect"
  ];
}

def BufferABI : Pass<"llm-buffer-abi", "mlir::ModuleOp"> {
  let summary = "Give the model entry the runtime's buffer calling convention";
  let description = [{
    Rewrites the entry function (after `--convert-llm-to-linalg`) to
    `(args as memrefs..., weights: memref<?xi8>, results as memrefs...) -> ()`.
    Tensor arguments are read through `bufferization.to_tensor restrict`; the
    KV-cache argument is writable and the updated cache is materialized back
    into it (in place after one-shot bufferization, never copied per step);
    other results become out-parameters. Every `llm.param` becomes a
    `memref.view` of the weight buffer at an `alignment`-aligned offset; the
    layout is recorded as `llm.weights` (name, offset, bytes, shape, dtype)
    and `llm.weights_bytes` on the function, and `llmc compile` packs the
    weights to match it. A GGUF block-quantized weight whose users are casts
    to a flat `i8` tensor is bound as its packed bytes (dtype `q8_0`, `q4_0`,
    `q4_1`). Sets `llvm.emit_c_interface`.

    Before:

    ```mlir
    func.func @forward(%x: tensor<?x64xf32>) -> tensor<?x128xf32> {
      %w = llm.param "w" : tensor<128x64xf32>
      ...
    ```

    After:

    ```mlir
    func.func @forward(%arg0: memref<?x64xf32>, %arg1: memref<?xi8>, %arg2: memref<?x128xf32>)
        attributes {llm.weights = [{bytes = 32768 : i64, dtype = "f32", name = "w",
                                    offset = 0 : i64, shape = [128, 64]} ],
                    llm.weights_bytes = 32768 : i64, llvm.emit_c_interface} {
      %x = bufferization.to_tensor %arg0 restrict : memref<?x64xf32> to tensor<?x64xf32>
      %view = memref.view %arg1[%c0][] : memref<?xi8> to memref<128x64xf32>
      %w = bufferization.to_tensor %view restrict : memref<128x64xf32> to tensor<128x64xf32>
      ...
    ```
  }];
  let options = [
    Option<"entry", "entry", "std::string", /*default=*/"\"forward\"",
           "Name of the entry function">,
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of every weight in the packed buffer">,
  ];
  let dependentDialects = [
    "::mlir::bufferization::BufferizationDialect",
    "::mlir::memref::MemRefDialect", "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect"
  ];
}

def ScheduleCPU : Pass<"llm-cpu-schedule", "mlir::ModuleOp"> {
  let summary = "Tile, parallelize and vectorize tagged linalg ops for the CPU";
  let description = [{
    `--convert-llm-to-linalg` tags the ops that dominate run time with
    `llm.schedule` and tile sizes `llm.tiles`. This pass writes a
    transform-dialect schedule for every distinct tag and applies it with the
    transform interpreter (on tensors, before bufferization):

    - `linear` `[task, rows, width]` (several tokens): `scf.forall` over
      tasks of `task` output rows (run by OpenMP after bufferization),
      register tiles of one 4-token block x `rows` output rows, the
      reduction over input features split into `width`-lane partial sums
      (`tile_reduction_using_for`), vectorized, with the accumulators hoisted
      into loop-carried vectors.
    - `matvec` `[task, rows, width]` (one token): the same without token
      blocks; every weight element is loaded once.
    - `attn_qk`: one task per query head; for each token and block of 16
      positions a vector of scores accumulates `q[d] * keysT[d, block]`.
    - `attn_pv`: one task per query head; a head_dim accumulator in
      registers across the position loop.
    - `heads` / `rows`: one task per query head / per 16 tokens (masking,
      softmax; norms, RoPE, activations, residuals).
    - `q4linear` / `q4matvec` (tiles `[task, rows, group]`): grouped 4-bit
      contractions over (group, half, byte): the same tiles, partial sums
      over one whole group (`1, 2, group/2`), so a step loads `group/2`
      consecutive bytes and the matching inputs and ends in FMAs.
    - `qlinear` / `qmatvec`: quantized contractions that read scales or
      packed nibbles by index: the same tiles, a plain reduction loop of
      `width`-lane steps (the partial-sum split does not re-offset the
      `linalg.index` values the body reads), vectorized with
      `vectorize_nd_extract` (gathers).

    `print-schedule` prints the generated transform IR to stderr.

    Before:

    ```mlir
    %y = linalg.generic {...} ins(%x, %w : tensor<?x4x64xf32>, tensor<128x64xf32>)
        outs(%init : tensor<?x4x128xf32>)
        attrs = {llm.schedule = "linear", llm.tiles = array<i64: 16, 4, 16>} {...}
    ```

    After:

    ```mlir
    scf.forall (%task) in (8) {
      scf.for ... {
        scf.for ... {
          %acc = scf.for %k = %c0 to %c64 step %c16 iter_args(..., %v = %zero)
              -> (tensor<1x4x4x16xf32>, vector<1x4x4x16xf32>) {
            %a = vector.transfer_read ... : vector<1x4x4x16xf32>
            %b = vector.transfer_read ... : vector<1x4x4x16xf32>
            %m = arith.mulf %a, %b : vector<1x4x4x16xf32>
            %s = arith.addf %v, %m : vector<1x4x4x16xf32>
            scf.yield ..., %s
          }
          %r = vector.multi_reduction <add>, %acc#1, ... [3] : vector<1x4x4x16xf32> to vector<1x4x4xf32>
          ...
    ```
  }];
  let options = [
    Option<"printSchedule", "print-schedule", "bool", /*default=*/"false",
           "Print the generated transform schedule to stderr">,
  ];
  let dependentDialects = [
    "::mlir::transform::TransformDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

def EarlyDealloc : Pass<"llm-early-dealloc", "mlir::func::FuncOp"> {
  let summary = "Free every buffer right after its last use";
  let description = [{
    Runs after `buffer-deallocation-pipeline`, which frees a buffer where
    its ownership ends: for a buffer yielded out of an `scf.if` (every
    lowering that branches on one token vs. several) that is the end of the
    function, so a prefill would hold every layer's activations at once.
    This pass moves each `memref.dealloc`, or an `scf.if` that only guards
    one, up to just after the last op of its block that uses the buffer
    through any alias. Aliases come from `BufferViewFlowAnalysis`: the
    allocations the freed value may come from, then every view, region
    result or op result derived from them (`memref.extract_strided_metadata`
    included). A dealloc stays put when the freed value does not trace back
    to an allocation, or an alias is used outside the dealloc's block or
    becomes a raw pointer.

    Before:

    ```mlir
    %0 = scf.if %c -> (memref<?xf32, strided<[?], offset: ?>>) { ... memref.alloc ... }
    linalg.generic ... ins(%0 ...) outs(%out ...)
    %big = memref.alloc(%n) : memref<?xf32>
    ...
    %base, %off, %size, %stride = memref.extract_strided_metadata %0 : ...
    memref.dealloc %big : memref<?xf32>
    memref.dealloc %base : memref<f32>
    ```

    After:

    ```mlir
    %0 = scf.if %c -> (memref<?xf32, strided<[?], offset: ?>>) { ... memref.alloc ... }
    linalg.generic ... ins(%0 ...) outs(%out ...)
    %base, %off, %size, %stride = memref.extract_strided_metadata %0 : ...
    memref.dealloc %base : memref<f32>
    %big = memref.alloc(%n) : memref<?xf32>
    ...
    memref.dealloc %big : memref<?xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def CPUVNNI : Pass<"llm-cpu-vnni", "mlir::func::FuncOp"> {
  let summary = "Byte dot products as x86 vpdpbusd / vpmaddubsw or Arm sdot / usdot";
  let description = [{
    Rewrites the portable form of a 4-way byte dot product accumulated into
    i32 lanes, `acc[k] + sum_q zext(u[4k + q]) * sext(s[4k + q])` written as
    a `vector.multi_reduction <add>` over the inner dim of a
    `vector.shape_cast` to `Nx4` of `arith.muli(arith.extui(u), arith.extsi(s))`
    (either operand order), into one `llvm.call_intrinsic` of
    `llvm.x86.avx512.vpdpbusd.{128,256}` (N = 4 or 8: `u`, `s` are
    `vector<4Nxi8>`, `acc` `vector<Nxi32>`). Run only for targets with
    AVX-VNNI, or AVX512-VNNI with AVX512VL (`llmc compile` checks the target
    CPU); elsewhere the portable form stays and LLVM lowers it with
    widening multiplies. Runs after bufferization (the intrinsic call has no
    declared memory effects).

    Before:

    ```mlir
    %a = arith.extui %u : vector<32xi8> to vector<32xi32>
    %b = arith.extsi %s : vector<32xi8> to vector<32xi32>
    %p = arith.muli %a, %b : vector<32xi32>
    %q = vector.shape_cast %p : vector<32xi32> to vector<8x4xi32>
    %r = vector.multi_reduction <add>, %q, %acc [1] : vector<8x4xi32> to vector<8xi32>
    ```

    After:

    ```mlir
    %r = llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.256"(%acc, %u, %s)
        : (vector<8xi32>, vector<32xi8>, vector<32xi8>) -> vector<8xi32>
    ```

    With `isa=avx2` (AVX2 targets without VNNI), the 8-lane form becomes
    llama.cpp's AVX2 sequence instead: `vpmaddubsw` (u8 x s8, adjacent
    pairs summed into i16) then `vpmaddwd` with ones (pairs of i16 into
    i32), added to `acc`. `vpmaddubsw` saturates, so this is done only
    where the unsigned bytes are provably below 128 (2 x 127 x 128 fits in
    i16): `u` a constant, or built by `andi` with a constant mask, `shrui`
    by a constant, `ori` of such, or a `vector.from_elements` of elements
    extracted from a constant table (bounded by its largest entry: IQ4_NL's
    lookup); q4_0 / Q4_K nibbles, Q5_0's 5-bit quants, IQ4_NL's magnitudes
    and Q6_K's 6-bit quants qualify. Bytes that may reach 128 (q8_0's `xor
    0x80` bytes) are split first, exactly: a chain of such dot products,
    each the accumulator of the next, becomes a chain over the low nibbles
    from `acc` plus 16 times a chain over the high nibbles (`u & 15`, `u >>
    4`), both bounded; LLVM would widen them to 32-bit multiplies (q8_0
    decode at 0.35x llama.cpp on x86-64-v3). A chain of such dot
    products, each the accumulator of the next (a block's 4-byte words
    into one sum), keeps the `vpmaddubsw` pair sums in i16 (`vpaddw`) while
    their bounds prove they fit (|pair| <= 2 x bound(u) x 128 per product,
    32767 in all) and widens each run with one `vpmaddwd`: 8 nibble dot
    products cost 8 `vpmaddubsw`, 7 `vpaddw`, 1 `vpmaddwd` and 1 `vpaddd`
    instead of 8 of each (Q4_K: 700 -> 636 instructions per super-block
    step; on an AVX2 Zen 3, 1.1B q4_0 prefill +31 %, decode +7.5 %).

    On aarch64 (`isa=neon-dot`: the dot-product extension, Armv8.2+;
    `isa=neon-i8mm`: also the Int8 matrix-multiply extension, Armv8.6+),
    each 128-bit half becomes one `sdot` (`llvm.aarch64.neon.sdot`: signed
    x signed, exact where the unsigned bytes are below 128, as above) or,
    with i8mm, `usdot` for unsigned bytes that may reach 128. Without it
    LLVM lowers the portable form with widening multiplies and lane moves
    (tens of thousands of instructions per model on neoverse-n1).
  }];
  let options = [
    Option<"isa", "isa", "std::string", /*default=*/"\"vnni\"",
           "vnni (vpdpbusd), avx2 (vpmaddubsw + vpmaddwd where exact), "
           "neon-dot (sdot where exact) or neon-i8mm (sdot, else usdot)">
  ];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def CPUOpenMPLoops : Pass<"llm-cpu-openmp-loops", "mlir::func::FuncOp"> {
  let summary = "Run one-task parallel loops on the calling thread; choose the OpenMP schedule";
  let description = [{
    Runs after `convert-scf-to-openmp`. Each parallel loop becomes an
    `omp.parallel` region: a fork that wakes the team and a join barrier,
    a few microseconds on every call. A decode step (one token) runs
    hundreds of loops that have one task only (the per-token activation
    quantization, norms and scale tables before each linear: their tasks
    are blocks of 16 tokens), and each paid that fork and join for nothing
    (1.1B Q4_K_M: about 60 % of the parallel regions of a decode step).
    This pass gives every `omp.parallel` that holds one 1-D work-sharing
    loop with bounds known before the region, and not known to have several
    iterations, a test: the region forks only when the loop has more than
    one iteration, and otherwise its code runs on the calling thread as
    plain code, the loop an `scf.for`. An `if(false)` clause (what this
    pass emitted before, and still emits for a region with other OpenMP
    ops or clauses, and for a kernel — a loop holding byte dot products,
    whose one-iteration case is rare and long, and which stays in a
    function of its own) is not free: the OpenMP runtime sets up a serialized
    team on each call, over a thousand times per 1.1B decode step, while
    the other threads wait (2-core Zen 3, 1.1B Q4_K_M decode: +3 %, +3.5 %,
    +8 % and +12 % from the plain-code form in four same-run A/Bs; the
    code section grows from 2.5 to 3.7 MB, the copies being specialized
    for one iteration).

    It also gives every `omp.wsloop` without a schedule the `schedule`
    option's (OpenMP's default, static, unless told otherwise).

    Before:

    ```mlir
    omp.parallel {
      omp.wsloop {
        omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) { ... }
      }
      omp.terminator
    }
    ```

    After:

    ```mlir
    %span = arith.subi %n, %c0 : index
    %many = arith.cmpi sgt, %span, %c1 : index
    scf.if %many {
      omp.parallel {
        omp.wsloop schedule(static) {
          omp.loop_nest (%i) : index = (%c0) to (%n) step (%c1) { ... }
        }
        omp.terminator
      }
    } else {
      scf.for %i = %c0 to %n step %c1 { ... }
    }
    ```
  }];
  let options = [
    Option<"schedule", "schedule", "std::string", /*default=*/"\"static\"",
           "How threads share a loop's iterations: static, dynamic or guided">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::omp::OpenMPDialect",
                           "::mlir::scf::SCFDialect"];
}

def CPUPrefetch : Pass<"llm-cpu-prefetch", "mlir::func::FuncOp"> {
  let summary = "Software prefetch ahead of the weight streams of one-token kernels";
  let description = [{
    Runs after bufferization. A decode step reads every weight once, in
    long sequential streams that the hardware prefetchers follow only
    within a 4 KiB page, and the one-token block kernels do enough work per
    byte that the stream stalls on memory at each step (1.1B decode with
    prefetching 2 KiB ahead: Q4_K_M +12 %, Q4_0 +5 %). The tensor lowering
    marks such a loop with
    `llm.prefetch_bytes = N`; this pass groups the loop body's vector reads
    of 1-D byte buffers by buffer and base index (index = base + constant)
    and, before the first read of each cache line a group reads, prefetches
    the line N bytes further on (spread over the body as the reads are: a
    burst of prefetches would hold the fill buffers the reads need). The
    attribute is removed. Loops without it (prefill kernels, which are
    compute-bound and lose 9 % to prefetching) are left alone.

    Before:

    ```mlir
    scf.for %s = %c0 to %n step %c1 iter_args(...) {
      %u = arith.muli %s, %c1152 : index
      %a = arith.addi %u, %c128 : index
      %v = vector.transfer_read %w[%a], %pad : memref<?xi8>, vector<32xi8>
      ...
    } {llm.prefetch_bytes = 2304 : i64}
    ```

    After:

    ```mlir
    scf.for %s = %c0 to %n step %c1 iter_args(...) {
      %u = arith.muli %s, %c1152 : index
      %p = arith.addi %u, %c2432 : index
      memref.prefetch %w[%p], read, locality<3>, data : memref<?xi8>
      %a = arith.addi %u, %c128 : index
      %v = vector.transfer_read %w[%a], %pad : memref<?xi8>, vector<32xi8>
      ...
    }
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def CPUVectorMath : Pass<"llm-cpu-vector-math", "mlir::func::FuncOp"> {
  let summary = "Vector exp as an inline polynomial instead of libm calls per lane";
  let description = [{
    Rewrites `math.exp` on f32 vectors with upstream MLIR's polynomial
    approximation (`populateMathPolynomialApproximationPatterns`, range
    reduction by ln 2 and a degree-5 polynomial, accurate to a few ulp):
    plain vector arithmetic that stays in registers. Without it
    `convert-math-to-libm` scalarizes each vector exp into one `expf` call
    per lane, and every call spills the live vector registers (all are
    caller-saved): the flash-attention block loop (16 exps per block of
    positions), softmax and SiLU pay that per element. Scalar `math.exp`
    keeps its libm call (approximated too it made 1.1B prefill 6 % faster,
    but moved the few-ulp differences into 8-bit activation roundings: the
    stories260K q4_0 greedy text left the reference's).

    Before:

    ```mlir
    %e = math.exp %x : vector<16xf32>
    ```

    After: `arith` / `vector` / `math.fma` ops only (no `math.exp` on
    vectors).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect"];
}

#endif // LLMC_PASSES_LOWERINGPASSES_TD
