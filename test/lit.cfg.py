# lit configuration for llmc (see test/lit.site.cfg.py.in for the paths).
import os

import lit.formats
import lit.util

config.name = "llmc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.llmc_obj_root, "test")

# Our tools first, then FileCheck/not/count from LLVM.
for d in (config.llvm_tools_dir, config.llmc_tools_dir):
    config.environment["PATH"] = os.path.pathsep.join((d, config.environment["PATH"]))

config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%llmc_src", config.llmc_src_root))
config.substitutions.append(("%llmc_obj", config.llmc_obj_root))

# libFuzzer targets exist when clang-22 (+ libclang-rt-22-dev) built them.
if os.path.exists(os.path.join(config.llmc_tools_dir, "fuzz-gguf")):
    config.available_features.add("fuzzers")
else:
    lit_config.note("fuzz targets not built (clang++-22 missing): fuzz smoke "
                    "tests are UNSUPPORTED")

# Tests that need ../shared (real models) mark `REQUIRES: shared-models`.
shared = os.path.join(os.path.dirname(config.llmc_src_root), "shared", "models")
if os.path.isdir(shared):
    config.available_features.add("shared-models")
    config.substitutions.append(("%shared_models", shared))
else:
    lit_config.note("../shared/models not found: tests that need real models are "
                    "UNSUPPORTED (skipped)")

# Reference libraries (requirements.txt, installed by scripts/setup.sh) for
# the importer and tokenizer tests.
import subprocess
if subprocess.run([config.python_executable, "-c",
                   "import numpy, safetensors, gguf, tokenizers, sentencepiece"],
                  capture_output=True).returncode == 0:
    config.available_features.add("python-refs")
else:
    lit_config.note("numpy/safetensors/gguf/tokenizers/sentencepiece not importable "
                    "by %s: importer reference tests are UNSUPPORTED (run "
                    "scripts/setup.sh)" % config.python_executable)

# llama.cpp through llama-cpp-python: an optional second reference (not
# installed by setup.sh: it builds llama.cpp from source).
if subprocess.run([config.python_executable, "-c", "import llama_cpp"],
                  capture_output=True).returncode == 0:
    config.available_features.add("llama-cpp")
else:
    lit_config.note("llama-cpp-python not installed: the llama.cpp cross-check "
                    "in e2e/stories260k.test is skipped (pip install "
                    "llama-cpp-python)")

# Cross-compiled executables (llmc compile --emit exe --triple
# aarch64-linux-gnu) run under qemu-user: needs the aarch64 runtime archive
# (built when g++-aarch64-linux-gnu is installed), the aarch64 libomp that
# scripts/setup.sh unpacks, and qemu-aarch64 with the cross libc.
import shutil
aarch64_runtime = os.path.join(config.llmc_obj_root, "runtime-targets",
                               "aarch64-linux-gnu", "libllmc_runtime_static.a")
aarch64_omp = os.path.join(config.llmc_obj_root, "sysroots",
                           "aarch64-linux-gnu", "usr", "lib", "aarch64-linux-gnu")
aarch64_libc = "/usr/aarch64-linux-gnu"
qemu = shutil.which("qemu-aarch64")
if (os.path.exists(aarch64_runtime) and
        os.path.exists(os.path.join(aarch64_omp, "libomp.so.5")) and qemu and
        os.path.isdir(aarch64_libc)):
    config.available_features.add("cross-aarch64")
    config.substitutions.append(
        ("%run_aarch64", "env QEMU_LD_PREFIX=%s LD_LIBRARY_PATH=%s %s" %
         (aarch64_libc, aarch64_omp, qemu)))
else:
    lit_config.note("aarch64 cross toolchain incomplete (g++-aarch64-linux-gnu, "
                    "qemu-user, build/sysroots/aarch64-linux-gnu: run "
                    "scripts/setup.sh): the aarch64 executable test is "
                    "UNSUPPORTED")

# LLVM's libraries (libomp for programs that link compiled models).
config.substitutions.append(
    ("%llvm_lib_dir", os.path.join(os.path.dirname(config.llvm_tools_dir), "lib")))

# The Vulkan backend's runtime tests need a Vulkan device (lavapipe from
# mesa-vulkan-drivers, installed by scripts/setup.sh, is one on the CPU).
devices = subprocess.run([os.path.join(config.llmc_tools_dir, "llmc"), "run",
                          "--list-devices"], capture_output=True, text=True)
if "vulkan:0" in devices.stdout:
    config.available_features.add("vulkan")
else:
    lit_config.note("no Vulkan device (%s): Vulkan runtime tests are "
                    "UNSUPPORTED (install mesa-vulkan-drivers)" %
                    (devices.stdout.strip().splitlines() or ["?"])[-1])
# The CUDA backend's kernels are assembled by NVIDIA's ptxas (CUDA toolkit)
# everywhere; they run only where the driver sees a GPU.
cuda_path = os.environ.get("CUDA_PATH", "/usr/local/cuda")
ptxas = os.path.join(cuda_path, "bin", "ptxas")
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
else:
    lit_config.note("ptxas not found in %s/bin: the CUDA backend's PTX "
                    "checks are UNSUPPORTED (install the CUDA toolkit or set "
                    "CUDA_PATH)" % cuda_path)
cuda_line = [l for l in devices.stdout.splitlines() if l.startswith("cuda")]
if any(l.startswith("cuda:0") for l in cuda_line):
    config.available_features.add("cuda-device")
else:
    lit_config.note("no CUDA device (%s): the CUDA-vs-CPU logits test "
                    "e2e/cuda-device.test is UNSUPPORTED" %
                    (cuda_line or ["?"])[0])
# spirv-val (spirv-tools) validates every emitted SPIR-V module.
if shutil.which("spirv-val"):
    config.available_features.add("spirv-tools")
else:
    lit_config.note("spirv-val not found: SPIR-V validation is skipped "
                    "(install spirv-tools)")
