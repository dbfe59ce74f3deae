"""Runs NVIDIA's assembler over every PTX image of a CUDA artifact.

usage: check_ptx.py (ARTIFACT.llmc | DUMP_DIR) [--archs sm_80,sm_90]
                    [--ptxas PATH] [--table]

Finds each kernel module bundle ("LLMCCUDA" + u32 length + JSON table +
images; lowering/cuda/BundleCUDA.cpp) in the artifact (or reads the
*.llmccuda files llmc-opt --llm-to-cuda=dump-dir=DIR wrote), and assembles
every PTX image with `ptxas -v -arch=A` for every A in --archs not older than
the PTX's own .target (PTX for sm_80 must also assemble for sm_90). It
prints each kernel's registers, shared memory and spills per architecture
(--table), then one summary line:

  PTX: N images, K kernels accepted by ptxas for sm_80, sm_90; G GEMV kernels
  without spills; M MMA kernels

A GEMV kernel (a split reduction: warp shuffles) that spills, a ptxas error,
a missing image or a cubin that is not ELF makes it exit 1.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor


def bundles(path):
    """(name, images) for every bundle; images: dicts with bytes."""
    blobs = []
    if os.path.isdir(path):
        for n in sorted(os.listdir(path)):
            if n.endswith(".llmccuda"):
                with open(os.path.join(path, n), "rb") as f:
                    blobs.append((n, f.read(), 0))
    else:
        with open(path, "rb") as f:
            data = f.read()
        pos = data.find(b"LLMCCUDA")
        while pos >= 0:
            blobs.append((f"bundle@{pos}", data, pos))
            pos = data.find(b"LLMCCUDA", pos + 8)
    out = []
    for name, data, pos in blobs:
        (n,) = struct.unpack_from("<I", data, pos + 8)
        table = json.loads(data[pos + 12:pos + 12 + n])
        payload = pos + (12 + n + 7) // 8 * 8
        images = []
        for im in table["images"]:
            start = payload + im["offset"]
            images.append(dict(im, bytes=data[start:start + im["size"]]))
        out.append((name, table.get("kernels", []), images))
    return out


def ptx_target(text):
    m = re.search(r"^\.target\s+(sm_\d+)", text, re.M)
    return m.group(1) if m else None


def kernel_classes(text):
    """kernel name -> 'gemv' | 'mma' | 'other', from each .entry's body."""
    classes = {}
    parts = re.split(r"^\.visible \.entry (\w+)\(", text, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        if "mma.sync" in body:
            classes[name] = "mma"
        elif "shfl.sync" in body:
            classes[name] = "gemv"
        else:
            classes[name] = "other"
    return classes


def assemble(ptxas, text, arch):
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "k.ptx")
        with open(src, "w") as f:
            f.write(text)
        r = subprocess.run([ptxas, "-v", f"-arch={arch}", src, "-o",
                            os.path.join(d, "k.cubin")],
                           capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def parse_info(log):
    """kernel -> dict(regs, smem, spill_stores, spill_loads)."""
    info, cur = {}, None
    for line in log.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            cur = info.setdefault(m.group(1), dict(regs=0, smem=0,
                                                   spill_stores=0,
                                                   spill_loads=0))
            continue
        if cur is None:
            continue
        m = re.search(r"(\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            cur["spill_stores"], cur["spill_loads"] = int(m.group(1)), int(m.group(2))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            cur["regs"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            cur["smem"] = int(m.group(1))
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--archs", default="sm_80,sm_90")
    ap.add_argument("--ptxas", default=os.path.join(
        os.environ.get("CUDA_PATH", "/usr/local/cuda"), "bin", "ptxas"))
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    archs = args.archs.split(",")
    found = bundles(args.path)
    if not found:
        print(f"{args.path}: no CUDA kernel bundles")
        return 1
    jobs, errors = [], []
    for name, kernels, images in found:
        for im in images:
            if im["format"] == "cubin":
                if not im["bytes"].startswith(b"\x7fELF"):
                    errors.append(f"{name}: {im['arch']} cubin is not ELF")
                continue
            text = im["bytes"].rstrip(b"\0").decode()
            target = ptx_target(text)
            if target != im["arch"]:
                errors.append(f"{name}: {im['arch']} PTX targets {target}")
            for a in archs:
                if int(a[3:]) >= int(target[3:]):
                    jobs.append((name, im["arch"], a, text))
        have = {im["arch"] for im in images if im["format"] == "ptx"}
        for a in archs:
            if not any(int(h[3:]) <= int(a[3:]) for h in have):
                errors.append(f"{name}: no PTX image runs on {a} (has {sorted(have)})")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(lambda j: assemble(args.ptxas, j[3], j[2]), jobs))
    kernels_seen, gemv, mma = set(), set(), set()
    for (name, ptx_arch, arch, text), (rc, log) in zip(jobs, results):
        if rc:
            errors.append(f"{name}: ptxas -arch={arch} rejected the {ptx_arch} "
                          f"PTX: {log.strip()[:2000]}")
            continue
        classes = kernel_classes(text)
        for k, i in sorted(parse_info(log).items()):
            cls = classes.get(k, "other")
            kernels_seen.add(k)
            if cls == "gemv":
                gemv.add(k)
            if cls == "mma":
                mma.add(k)
            spills = i["spill_stores"] + i["spill_loads"]
            if args.table:
                print(f"{k:32} {ptx_arch}->{arch}  {cls:5}  regs {i['regs']:3}  "
                      f"smem {i['smem']:6}  spill {spills}")
            if spills and cls == "gemv":
                errors.append(f"{name}: GEMV kernel {k} spills on {arch} "
                              f"({i['spill_stores']} bytes stored, "
                              f"{i['spill_loads']} loaded)")
    for e in errors:
        print(e)
    if errors:
        return 1
    n_images = sum(1 for _, _, ims in found for im in ims if im["format"] == "ptx")
    print(f"PTX: {n_images} images, {len(kernels_seen)} kernels accepted by "
          f"ptxas for {', '.join(archs)}; {len(gemv)} GEMV kernels without "
          f"spills; {len(mma)} MMA kernels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
