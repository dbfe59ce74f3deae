#!/usr/bin/env python3
"""Checks the dialect tests against the generated op reference.

  - every op, type and attribute in the generated dialect doc appears in
    test/dialect/ops.mlir (round-trip coverage);
  - test/dialect/invalid.mlir has at least MIN expected-error cases.
Usage: check_coverage.py DIALECT_DOC OPS_MLIR INVALID_MLIR MIN
"""
import re
import sys


def main(doc_path, ops_path, invalid_path, minimum):
    doc = open(doc_path, encoding="utf-8").read()
    ops_text = open(ops_path, encoding="utf-8").read()
    invalid = open(invalid_path, encoding="utf-8").read()
    ops = re.findall(r"^### `(llm\.\w+)` \(", doc, re.M)
    # Types and attributes are documented as "### NameType" / "### NameAttr"
    # with their syntax; take the mnemonics from the syntax blocks.
    types = sorted(set(re.findall(r"!llm\.(\w+)<", doc)))
    attrs = sorted(set(re.findall(r"#llm\.(\w+)<", doc)))
    missing = [op for op in ops if not re.search(re.escape(op) + r"\b", ops_text)]
    missing += [f"!llm.{t}" for t in types if f"!llm.{t}<" not in ops_text]
    missing += [f"#llm.{a}" for a in attrs if f"#llm.{a}<" not in ops_text]
    errors = len(re.findall(r"expected-error", invalid))
    ok = True
    if not ops:
        print(f"{doc_path}: no ops found: is this the generated dialect doc?")
        ok = False
    for m in missing:
        print(f"{ops_path}: '{m}' is in the dialect reference but not round-tripped here")
        ok = False
    if errors < minimum:
        print(f"{invalid_path}: {errors} expected-error cases, want >= {minimum}")
        ok = False
    if ok:
        print(f"{len(ops)} ops, {len(types)} types, {len(attrs)} attributes covered; "
              f"{errors} invalid-IR cases")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
