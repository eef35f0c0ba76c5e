#!/usr/bin/env python3
"""Times `drawpipe analyze` of two builds, interleaved: for each drawing and run, the
wall-clock time of the analysis with model loading left out (the "analysed in N ms"
line that builds since 2026-12-06 print), else the sum of the report's stage
`duration_ms`; then the medians.

Usage: tools/analyze_time.py BIN_A BIN_B [--runs N] [--stages S] FILE...
  e.g. tools/analyze_time.py /tmp/old/drawpipe target/release/drawpipe --runs 5 \\
         tests/fixtures/drawings/*.jpg tests/fixtures/drawings/*.png
"""
import json
import re
import statistics
import subprocess
import sys


def command(binary, stages, path):
    """`analyze` printing the JSON report: builds with a summary table need --json."""
    helptext = subprocess.run([binary, "analyze", "--help"], capture_output=True, text=True).stdout
    extra = ["--json"] if "--json" in helptext else []
    return [binary, "analyze", *extra, "--stages", stages, path]


def main(args):
    runs, stages = 3, "edocr"
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--runs":
            runs, i = int(args[i + 1]), i + 2
        elif args[i] == "--stages":
            stages, i = args[i + 1], i + 2
        else:
            rest.append(args[i])
            i += 1
    if len(rest) < 3:
        sys.exit(__doc__)
    bins, files = rest[:2], rest[2:]
    times = {(b, f): [] for b in bins for f in files}
    # What each build's figure is: "wall" or "stage sum" (a build before 2026-12-06).
    measure = {}
    for _ in range(runs):
        for f in files:
            for b in bins:
                done = subprocess.run(command(b, stages, f), capture_output=True, text=True, check=True)
                wall = re.search(r"analysed in (\d+) ms", done.stderr)
                if wall:
                    measure[b] = "wall"
                    times[(b, f)].append(float(wall.group(1)))
                    continue
                measure[b] = "stage sum"
                report = json.loads(done.stdout)
                times[(b, f)].append(sum(s.get("duration_ms") or 0 for s in report["stages"].values()))
    print(f"A: {bins[0]} ({measure[bins[0]]}); B: {bins[1]} ({measure[bins[1]]})")
    for f in files:
        a, b = (statistics.median(times[(x, f)]) for x in bins)
        print(f"{f}: A median {a:.0f} ms, B median {b:.0f} ms, B/A {b / a:.2f} ({runs} runs each)")


if __name__ == "__main__":
    main(sys.argv[1:])
