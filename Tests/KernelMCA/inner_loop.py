#!/usr/bin/env python3
"""Prints the hottest inner loop of one function in an assembly file, for llvm-mca.

    inner_loop.py FILE.s SYMBOL_SUBSTRING [SYMBOL_SUBSTRING...]
    inner_loop.py --ops LOOP.s      useful multiply-add work of a loop, in ops (2 per multiply-add)

The function is the first whose label contains every substring. Its loops are the ranges from
a label to a branch back to it; of the innermost ones (no other loop inside), the one with the
most multiply-accumulate instructions is printed without labels and directives. A second line
on stderr says how many multiply-accumulates it holds and of which kind.
"""
import re
import sys

MAC = re.compile(r"^\s*(fmla|sdot|smlal2?|umlal2?|vfmadd\w*|vpdpbusd|vpdpwssd|vpmaddwd|vpmaddubsw)\b")
LABEL = re.compile(r"^([.$\w]+):")
BRANCH = re.compile(r"^\s*(b|b\.\w+|cbn?z|tbn?z|j\w+)\s+(?:[^,]*,\s*)*([.$\w]+)\s*$")


def useful_ops(lines):
    """Ops of the multiply-accumulates, by instruction and vector width. SDOT without a lane
    index is the column-sum correction of the shifted activations (a dot with ones): no work."""
    total = 0
    for line in lines:
        match = MAC.match(line)
        if not match:
            continue
        name, text = match.group(1), line.split("//")[0]
        if name == "fmla":
            total += 8 if ".4s" in text else 4
        elif name.startswith("vfmadd"):
            total += {"z": 32, "y": 16, "x": 8}[re.search(r"%([xyz])mm", text).group(1)]
        elif name in ("smlal", "smlal2", "umlal", "umlal2"):
            total += 16 if text.split(",")[0].strip().endswith(".8h") else 8   # by the accumulator's lanes
        elif name == "sdot":
            total += 32 if "[" in text else 0
        elif name == "vpdpwssd":
            total += {"z": 64, "y": 32, "x": 16}[re.search(r"%([xyz])mm", text).group(1)]
        elif name == "vpdpbusd":
            total += {"z": 128, "y": 64, "x": 32}[re.search(r"%([xyz])mm", text).group(1)]
        elif name in ("vpmaddwd", "vpmaddubsw"):
            total += {"z": 64, "y": 32, "x": 16}[re.search(r"%([xyz])mm", text).group(1)]
    return total


def function_lines(lines, needles):
    start = None
    for i, line in enumerate(lines):
        match = LABEL.match(line)
        if match and not match.group(1).startswith("."):
            if start is not None:
                return lines[start:i]
            if all(n in match.group(1) for n in needles):
                start = i
    if start is None:
        sys.exit(f"no function whose label contains {needles}")
    return lines[start:]


def main():
    if sys.argv[1] == "--ops":
        print(useful_ops(open(sys.argv[2]).read().splitlines()))
        return
    path, needles = sys.argv[1], sys.argv[2:]
    lines = function_lines(open(path).read().splitlines(), needles)
    labels = {}
    loops = []
    for i, line in enumerate(lines):
        match = LABEL.match(line)
        if match:
            labels[match.group(1)] = i
            continue
        branch = BRANCH.match(line.split("//")[0].split("#")[0] if "\t#" not in line else line.split("\t#")[0])
        if branch and branch.group(2) in labels:
            loops.append((labels[branch.group(2)], i))
    innermost = [(s, e) for s, e in loops if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops)]
    def body(loop):
        s, e = loop
        return [l for l in lines[s + 1:e + 1] if l.strip() and not LABEL.match(l) and not l.strip().startswith(".")]
    def macs(loop):
        return [MAC.match(l).group(1) for l in body(loop) if MAC.match(l)]
    if not innermost:
        sys.exit("no loop found")
    best = max(innermost, key=lambda loop: len(macs(loop)))
    kinds = macs(best)
    print("\n".join(body(best)))
    print(f"{len(kinds)} {' '.join(sorted(set(kinds)))} {len(body(best))}", file=sys.stderr)


main()
