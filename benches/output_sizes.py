#!/usr/bin/env python3
"""Printed size of matdiff's results over the project's cases and the public cookbook.

    python3 benches/output_sizes.py target/release/matdiff [--per-case]

For every case of tests/cases/*.mdf (its `# wrt:` and `# flags:` lines) and of
../shared/cases/cookbook.jsonl (its `wrt` list; Hessian kinds with --hessian), runs the
binary with --format text and measures the output with ../shared/cases/textsize.py
(tokens: names, numbers, operators; where-lines included), and every result of the
output with all its where-lines. Prints the totals, so a
change that makes results longer shows; --per-case also prints `id size` lines (compare
two runs with `diff`).
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "cases"
sys.path.insert(0, str(SHARED))
import textsize  # noqa: E402


def run(binary, program, wrt, flags):
    args = [binary, "--format", "text"] + flags
    for w in wrt:
        args += ["--wrt", w]
    out = subprocess.run(args + ["--", program], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        return None
    return textsize.size(out.stdout), whole_size(out.stdout)


def whole_size(text):
    """Tokens of every result line and every where-line of the output (textsize.size
    measures one result: with several results, where-lines shared by all are printed
    once, under the first)."""
    return sum(
        textsize.expr_size(rhs) + sum(1 + textsize.expr_size(r) for _, r in wheres)
        for _, _, rhs, wheres in textsize.parse_output(text)
    )


def project_cases():
    for path in sorted((ROOT / "tests" / "cases").glob("*.mdf")):
        wrt, flags, body = [], [], []
        for line in path.read_text().splitlines():
            if line.startswith("# wrt:"):
                wrt = line.split(":", 1)[1].split()
            elif line.startswith("# flags:"):
                flags = line.split(":", 1)[1].split()
            elif not line.startswith("#"):
                body.append(line)
        yield path.stem, "\n".join(body), wrt, flags


def cookbook_cases():
    for line in (SHARED / "cookbook.jsonl").read_text().splitlines():
        if line.strip():
            case = json.loads(line)
            flags = ["--hessian"] if case.get("kind") == "hessian" else []
            yield case["id"], case["program"], case["wrt"], flags


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary, per_case = sys.argv[1], "--per-case" in sys.argv
    for name, cases in [("tests/cases", project_cases()), ("cookbook", cookbook_cases())]:
        total, whole, count, failed = 0, 0, 0, 0
        for case_id, program, wrt, flags in cases:
            sizes = run(binary, program, wrt, flags)
            if sizes is None:
                failed += 1
                continue
            size, every = sizes
            total, whole, count = total + size, whole + every, count + 1
            if per_case:
                print(f"{name}/{case_id} {size} (whole output {every})")
        print(
            f"{name}: {count} cases, {total} tokens in all, whole outputs {whole} tokens, "
            f"{failed} not run (exit status ≠ 0)"
        )


if __name__ == "__main__":
    main()
