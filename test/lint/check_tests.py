#!/usr/bin/env python3
"""Lint lit tests for checks that silently check nothing.

Fails (exit 1, one line per finding) when a .mlir test has:
  - a RUN line that neither pipes into FileCheck nor uses -verify-diagnostics;
  - a RUN-like line without the colon (`// RUN llmc-opt`), which lit ignores;
  - a misspelt or colon-less check directive (`// CHECK-NXET:`, `// CHECK foo`);
  - a FileCheck prefix named on a RUN line with no directive in the file;
  - no RUN line at all.
Usage: check_tests.py DIR_OR_FILE...
"""
import os
import re
import sys

SUFFIXES = {"-NEXT", "-SAME", "-NOT", "-DAG", "-LABEL", "-EMPTY", "-COUNT"}  # -COUNT-<n>
RUN_RE = re.compile(r"^\s*//\s*RUN:(.*)$")
RUN_TYPO_RE = re.compile(r"^\s*//\s*RUN(?!:)\b")


def run_lines(lines):
    """Yields (line number, command) with `\\` continuations joined."""
    pending, start = None, 0
    for i, line in enumerate(lines, 1):
        m = RUN_RE.match(line)
        if not m:
            continue
        text = m.group(1).rstrip()
        if pending is None:
            pending, start = "", i
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        yield start, pending + text
        pending = None
    if pending is not None:
        yield start, pending


def prefixes_of(command):
    """FileCheck prefixes a RUN command uses (CHECK when none is named)."""
    found = []
    for pipeline in command.split("|"):
        if "FileCheck" not in pipeline:
            continue
        named = re.findall(r"--?check-prefix(?:es)?[= ]([\w,-]+)", pipeline)
        if named:
            for group in named:
                found.extend(group.split(","))
        else:
            found.append("CHECK")
    return found


def lint_file(path):
    problems = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    runs = list(run_lines(lines))
    if not runs:
        problems.append(f"{path}: no RUN line: the file is never tested")
    prefixes = set()
    for lineno, command in runs:
        if "FileCheck" not in command and "-verify-diagnostics" not in command:
            problems.append(f"{path}:{lineno}: RUN line neither pipes into "
                            f"FileCheck nor uses -verify-diagnostics: {command.strip()}")
        prefixes.update(prefixes_of(command))
    for i, line in enumerate(lines, 1):
        if RUN_TYPO_RE.match(line):
            problems.append(f"{path}:{i}: 'RUN' without ':' is ignored by lit")
    used = set()
    for prefix in sorted(prefixes | {"CHECK"}):
        directive = re.compile(r"//\s*" + re.escape(prefix) +
                               r"((?:-COUNT-[0-9]+)|[A-Z-]*)(:?)")
        for i, line in enumerate(lines, 1):
            for m in directive.finditer(line):
                suffix, colon = m.group(1), m.group(2)
                if re.fullmatch(r"-COUNT-[0-9]+", suffix):
                    suffix = "-COUNT"
                if not suffix and not colon and prefix == "CHECK":
                    # A word such as "CHECKS" in prose is not a directive.
                    if re.match(r"//\s*CHECK\b", line[m.start():]) is None:
                        continue
                if suffix and suffix not in SUFFIXES and not (
                        suffix.startswith("-") and (prefix + suffix) in prefixes):
                    problems.append(f"{path}:{i}: unknown check directive "
                                    f"'{prefix}{suffix}'")
                elif not colon:
                    problems.append(f"{path}:{i}: check directive "
                                    f"'{prefix}{suffix}' has no ':' and is ignored")
                else:
                    used.add(prefix)
    for prefix in sorted(prefixes - used):
        problems.append(f"{path}: FileCheck prefix '{prefix}' is used on a RUN "
                        f"line but has no directive in the file")
    return problems


def main(argv):
    paths = []
    for arg in argv[1:]:
        if os.path.isfile(arg):
            paths.append(arg)
            continue
        for root, dirs, files in os.walk(arg):
            dirs[:] = sorted(d for d in dirs if d != "Inputs")
            paths.extend(os.path.join(root, f) for f in sorted(files)
                         if f.endswith(".mlir"))
    problems = [p for path in paths for p in lint_file(path)]
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in {len(paths)} test files")
        return 1
    print(f"checked {len(paths)} test files: every RUN line checks something")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
