//===- ArtifactFormat.h - the .llmc container layout ------------*- C++ -*-===//
//
// Shared by the writer (`llmc compile`) and the runtime's reader; the format
// is documented in docs/artifact.md.
//
//   [0, 8)    magic "LLMCART\0"
//   [8, 12)   u32 format version (LLMC_ARTIFACT_VERSION)
//   [12, 16)  u32 reserved (0)
//   [16, 24)  u64 manifest offset     [24, 32) u64 manifest size
//   [32, 64)  reserved (0)
//   manifest: UTF-8 JSON; sections at 64-byte aligned offsets it lists.
//
// All integers little-endian.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_RUNTIME_SRC_ARTIFACTFORMAT_H
#define LLMC_RUNTIME_SRC_ARTIFACTFORMAT_H

#include <cstdint>

namespace llmc::artifact {
constexpr char kMagic[8] = {'L', 'L', 'M', 'C', 'A', 'R', 'T', '\0'};
constexpr uint64_t kHeaderSize = 64;
constexpr uint64_t kAlignment = 64;
/// The ABI of the compiled entry (see --llm-buffer-abi).
constexpr const char *kEntryABI = "llmc-buffer-v1";

/// x86 CPU features an artifact may require; the compiler records those of
/// its target CPU that are in this list and the runtime checks each.
constexpr const char *kCheckedX86Features[] = {
    "sse4.2", "sse4a", "avx", "avx2", "fma", "f16c", "bmi", "bmi2", "popcnt",
    "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512vnni",
    "avx512bf16", "avxvnni",
    // LLVM uses these unasked: vpermb (VBMI) for a byte table lookup such as
    // IQ4_NL's, FP16 arithmetic for f16 values.
    "avx512vbmi", "avx512vbmi2", "avx512ifma", "avx512bitalg",
    "avx512vpopcntdq", "avx512fp16"};

/// Executables built with `llmc compile --emit exe` carry their artifact
/// after the ELF image, at an offset aligned to kExeAlignment (a multiple of
/// every page size, so the weights map in place), and end with a trailer:
/// u64 artifact offset, u64 artifact size, magic "LLMCEXE\0".
constexpr char kExeMagic[8] = {'L', 'L', 'M', 'C', 'E', 'X', 'E', '\0'};
constexpr uint64_t kExeTrailerSize = 24;
constexpr uint64_t kExeAlignment = 65536;

/// The weights section starts on a page: the expert cache maps experts'
/// whole pages of it in and out of the artifact's mapping.
constexpr uint64_t kWeightsAlignment = 4096;

inline uint64_t alignUp(uint64_t v, uint64_t a = kAlignment) {
  return (v + a - 1) / a * a;
}
} // namespace llmc::artifact

#endif
