#!/usr/bin/env python3
"""Bytes of flash (text + rodata + data init) each object contributes to a linked image,
read from a GNU ld map file after --gc-sections. Usage: map_sizes.py FILE.map"""
import re
import sys
from collections import defaultdict

def main(path):
    sizes = defaultdict(int)
    in_discarded = False
    pending = None
    flash_out = re.compile(r"^\.(vectors|text|rodata|data|ARM\.exidx|isr_vector)\b")
    out_section = None
    for line in open(path, errors="replace"):
        if line.startswith("Discarded input sections"):
            in_discarded = True
            continue
        if line.startswith("Memory Configuration") or line.startswith("Linker script and memory map"):
            in_discarded = False
            continue
        if in_discarded:
            continue
        m = re.match(r"^(\.\S+)", line)
        if m and not line.startswith(" "):
            out_section = m.group(1)
        if out_section is None or not flash_out.match(out_section):
            continue
        # " .text.foo  0x08000100  0x24 obj.o" or split over two lines
        m = re.match(r"^ (\.\S+)\s*$", line)
        if m:
            pending = m.group(1)
            continue
        m = re.match(r"^\s+(?:(\.\S+)\s+)?0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+\.(?:o|obj|a\(\S+\)))\s*$", line)
        if m and (m.group(1) or pending):
            obj = m.group(3)
            obj = re.sub(r".*/", "", obj)
            obj = re.sub(r"\.c\.obj$|\.c\.o$|\.obj$|\.o$", "", obj)
            if "(" in obj:
                obj = "libc/libgcc: " + obj.split("(")[-1].rstrip(")")
            sizes[obj] += int(m.group(2), 16)
        pending = None
    total = sum(sizes.values())
    print(f"{'module':34} {'bytes':>7} {'share':>6}")
    for obj, n in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if n:
            print(f"{obj:34} {n:7d} {100.0 * n / total:5.1f}%")
    print(f"{'total (without LTO)':34} {total:7d}")

if __name__ == "__main__":
    main(sys.argv[1])
