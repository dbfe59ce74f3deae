#!/usr/bin/env bash
# Sets up llmc on Debian 12: installs every apt and pip dependency (only what
# is missing, so re-running is cheap) and builds Release with assertions into
# build/. Usage: scripts/setup.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  cmake ninja-build ccache g++ git python3 python3-dev python3-pip
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools clang-22 lld-22 libomp-22-dev
  libclang-rt-22-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libsentencepiece-dev
  librsvg2-bin
  # Vulkan backend: headers, the loader, lavapipe (a CPU Vulkan device that
  # really runs the SPIR-V kernels in the tests) and spirv-val.
  libvulkan-dev libvulkan1 mesa-vulkan-drivers spirv-tools
  # Cross-compiled executables (llmc compile --emit exe --triple
  # aarch64-linux-gnu) and running them under emulation in the tests.
  g++-aarch64-linux-gnu qemu-user
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Python used by the test suite (lit helpers and reference checks).
PYTHON="${PYTHON:-$(command -v python3)}"
if [ -s requirements.txt ]; then
  if ! "$PYTHON" -m pip install -q --disable-pip-version-check -r requirements.txt; then
    echo "error: pip could not install requirements.txt into $PYTHON" >&2
    exit 1
  fi
fi

# The OpenMP runtime of each cross target, which executables built for it
# link: the libomp5 package that Debian's libomp-22-dev depends on, for that
# architecture, unpacked (not installed) under build/sysroots/<triple>.
for cross in aarch64-linux-gnu:arm64; do
  triple="${cross%%:*}" debarch="${cross##*:}"
  sysroot="build/sysroots/$triple"
  if [ ! -e "$sysroot/usr/lib/$triple/libomp.so.5" ]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$debarch"; then
      $SUDO dpkg --add-architecture "$debarch"
      $SUDO apt-get update -qq || echo "warning: apt-get update failed" >&2
    fi
    omp="$(apt-cache depends "libomp-22-dev:$debarch" 2>/dev/null |
           awk '/Depends: libomp5/ {print $2; exit}')"
    tmp="$(mktemp -d)"
    chmod 777 "$tmp"
    echo "==> unpacking ${omp:-libomp5 (not found)} into $sysroot"
    if [ -n "$omp" ] && (cd "$tmp" && apt-get download -qq "$omp" >/dev/null 2>&1); then
      mkdir -p "$sysroot"
      dpkg-deb -x "$tmp"/*.deb "$sysroot"
    else
      echo "warning: cannot download libomp5 for $debarch; executables for" \
           "$triple cannot be linked" >&2
    fi
    rm -rf "$tmp"
  fi
done

echo "==> configuring (Release with assertions) in build/"
cmake -G Ninja -S . -B build \
  -DCMAKE_BUILD_TYPE=Release -DLLMC_ENABLE_ASSERTIONS=ON \
  -DPython3_EXECUTABLE="$PYTHON" "$@" >/dev/null
echo "==> building"
cmake --build build
