"""Validates every SPIR-V module in a directory with spirv-val.

usage: check_spirv.py DIR [--target-env vulkan1.1]
Prints "N SPIR-V modules valid (ENV)" or, per failing module, its name and
spirv-val's message, and exits 1.
"""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--target-env", default="vulkan1.1")
    args = ap.parse_args()
    names = sorted(n for n in os.listdir(args.dir) if n.endswith(".spv"))
    if not names:
        print(f"no .spv files in {args.dir}")
        return 1
    bad = 0
    for n in names:
        r = subprocess.run(["spirv-val", "--target-env", args.target_env,
                            os.path.join(args.dir, n)],
                           capture_output=True, text=True)
        if r.returncode:
            bad += 1
            print(f"{n}: invalid: {(r.stdout + r.stderr).strip()}")
    if bad:
        print(f"{bad} of {len(names)} SPIR-V modules invalid")
        return 1
    print(f"{len(names)} SPIR-V modules valid ({args.target_env})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
