"""The block kernels' machine code at every ISA level llmc targets: one
small GGUF model holding each format a kernel reads as stored (Q8_0, Q4_0,
Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q5_0, Q5_1, IQ4_NL) is compiled to an object file for each
target CPU, and the disassembly (llvm-objdump) must hold that target's byte
dot product and no lane-by-lane moves:

  x86-64-v3 (AVX2, no VNNI)      vpmaddubsw, no vpdpbusd
  alderlake (AVX-VNNI)           vpdpbusd (VEX)
  icelake-server (AVX512-VNNI)   vpdpbusd
  aarch64 neoverse-n1 (dotprod)  sdot / udot
  aarch64 neoverse-n2 (i8mm)     usdot / sdot

"Lane by lane" is a vector element extracted to or inserted from a
general-purpose register (x86 vpextr* / vpinsr*, aarch64 umov / smov /
mov and ins of one lane from a w/x register), the sign of a scalarized
dot product: none may appear in a function holding the dot products (the
kernels' parallel bodies; an embedding gather decoding single elements is
elsewhere), nor a libm `expf` call (the vector exps are inline
polynomials; scalar loops elsewhere, e.g. SiLU, keep libm's expf and are
counted in the report).

The model (WORKDIR/formats.gguf, with a synthetic sentencepiece vocabulary
of 264 pieces) stays for the caller to run.

usage: check_kernel_isa.py LLMC OBJDUMP WORKDIR x86|aarch64
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "import"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import make_models  # noqa: E402
import modelgen  # noqa: E402

FORMATS = {"attn_q": "Q3_K", "attn_k": "Q4_K", "attn_v": "Q5_K",
           "ffn_down": "Q6_K", "ffn_gate": "Q4_0", "ffn_up": "Q8_0",
           "attn_output": "Q5_0", "blk.1.ffn_gate": "Q5_1",
           "blk.1.ffn_up": "IQ4_NL"}

X86_LANE = re.compile(r"\bv?p(extr|insr)[bwdq]\b")
ARM_LANE = re.compile(r"\b(umov|smov)\b|\b(mov|ins)\s+v\d+\.[bhsd]\[\d+\],\s*[wx]\d+")
# (name, llmc arguments, mnemonics that must appear, mnemonics that must not)
X86 = [
    ("x86-64-v3", ["--cpu", "x86-64-v3"], ["vpmaddubsw"], ["vpdpbusd"], X86_LANE),
    ("alderlake", ["--cpu", "alderlake"], ["vpdpbusd"], [], X86_LANE),
    ("icelake-server", ["--cpu", "icelake-server"], ["vpdpbusd"], [], X86_LANE),
]
AARCH64 = [
    ("aarch64 neoverse-n1", ["--triple", "aarch64-linux-gnu", "--cpu", "neoverse-n1"],
     ["sdot|udot"], [], ARM_LANE),
    ("aarch64 neoverse-n2", ["--triple", "aarch64-linux-gnu", "--cpu", "neoverse-n2"],
     ["usdot|sdot"], [], ARM_LANE),
]


def disassemble(objdump, obj):
    """{function: [instruction]} of `obj`'s text, calls' relocation targets
    shown as `call <symbol>`."""
    text = subprocess.run([objdump, "-d", "-r", "--no-show-raw-insn", obj],
                          capture_output=True, text=True, check=True).stdout
    functions, current = {}, None
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        reloc = re.search(r"R_\w+\s+(\w+)", line)
        if head:
            current = functions.setdefault(head.group(1), [])
        elif current is not None and reloc and current:
            current.append(f"reloc {reloc.group(1)}")
        elif current is not None and re.match(r"^\s+[0-9a-f]+:", line):
            current.append(line.split(":", 1)[1].strip())
    return functions


def count(insns, pattern):
    r = re.compile(r"^(\{vex\}\s+)?(" + pattern + r")\b")
    return sum(1 for i in insns if r.match(i))


def main():
    llmc, objdump, work = sys.argv[1:4]
    targets = AARCH64 if sys.argv[4] == "aarch64" else X86
    os.makedirs(work, exist_ok=True)
    model = os.path.join(work, "formats.gguf")
    pieces, scores = make_models.synthetic_vocab(264)
    modelgen.write_gguf(model, "llama", "Q2_K", seed=1,
                        small=dict(modelgen.K_SMALL, vocab=264), dtypes=FORMATS,
                        tokenizer=lambda g: make_models.add_llama_tokenizer(
                            g, pieces, scores))
    failures = 0
    for name, args, need, forbid, lane in targets:
        obj = os.path.join(work, re.sub(r"\W+", "-", name) + ".o")
        subprocess.run([llmc, "compile", model, "--emit", "obj", "-o", obj, *args],
                       check=True, stdout=subprocess.DEVNULL)
        functions = disassemble(objdump, obj)
        insns = [i for body in functions.values() for i in body
                 if not i.startswith("reloc ")]
        found = {p: count(insns, p) for p in need + forbid}
        kernels = [body for body in functions.values()
                   if any(count(body, p) for p in need)]
        lanes = sum(1 for body in kernels for i in body if lane.search(i))
        problems = [f"no {p}" for p in need if not found[p]]
        problems += [f"{found[p]} {p}" for p in forbid if found[p]]
        if lanes:
            problems.append(f"{lanes} lane-by-lane moves in the kernels")
        expf = sum(1 for body in functions.values() for i in body
                   if i == "reloc expf")
        if any(i == "reloc expf" for body in kernels for i in body):
            problems.append("expf calls in the kernels")
        print(f"kernel ISA {name}: {'FAIL ' + ', '.join(problems) if problems else 'ok'} "
              f"({len(insns)} instructions; " +
              ", ".join(f"{p} {n}" for p, n in found.items()) +
              f"; {len(kernels)} kernel functions, lane moves {lanes}; "
              f"expf calls elsewhere {expf})")
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
