#!/usr/bin/env python3
"""Where the missed numbers of a tools/vector-eval.sh run were lost: for each truth number
the scorer counts as missed (`vector_tokens.py`), was it read by OCR (a report `text` line
whose grown box holds the word and carries the number) and then dropped or not made a
dimension by `edocr` ("dropped"), read wrongly by OCR (a text line lies there but lacks the
number: "misread"), or not found by OCR at all ("unread")? Prints the counts, and with
--list the dropped lines' texts (tune output only: it shows individual readings).

Usage: tools/vector_misses.py OUT_DIR [--list]   (e.g. out/vector-tune)
"""
import collections
import glob
import importlib.util
import os
import sys

SCORER = os.environ.get("DRAWPIPE_VECTOR_SCORER", "../shared/tools/vector_tokens.py")


def load_scorer():
    spec = importlib.util.spec_from_file_location("vector_tokens", SCORER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def scored_pages(vt, out):
    """For each drawing of a vector-eval run with a report: (report path, the report,
    page 1's text-layer tokens with the scorer's exclusions marked, and the scale from
    PDF points to report pixels, sx and sy). `NAME.stages.json` files are skipped."""
    for report in sorted(glob.glob(os.path.join(out, "reports", "*.json"))):
        if report.endswith(".stages.json"):
            continue
        name = os.path.basename(report)[:-5]
        pdf = next(iter(glob.glob(os.path.join(out, "pdf", name + ".*"))), None)
        rep = vt.load_report(report)
        if not pdf or not rep or not rep.get("pages"):
            continue
        W, H = vt.page_size(pdf, 1)
        toks = vt.tokens(pdf, 1, W, H)
        vt.mark_exclusions(toks, W, H)
        page = rep["pages"][0]
        yield report, rep, toks, page["width"] / W, page["height"] / H


def main(out, listing):
    vt = load_scorer()
    counts = collections.Counter()
    dropped = collections.Counter()
    for _, rep, toks, sx, sy in scored_pages(vt, out):
        dims = [(vt.grown(d["bbox"]), vt.numbers(d.get("raw") or ""))
                for d in rep.get("dimensions") or [] if (d.get("page") or 0) == 0 and d.get("bbox")]
        lines = [(vt.grown(t["bbox"]), vt.numbers(t.get("text") or ""), t.get("text") or "")
                 for t in rep.get("text") or [] if (t.get("page") or 0) == 0 and t.get("bbox")]
        for t in toks:
            if t.why or not t.nums:
                continue
            x, y = t.cx * sx, t.cy * sy
            for v in t.nums:
                if any(v in n and vt.inside(b, x, y) for b, n in dims):
                    counts["covered"] += 1
                    continue
                there = [(n, s) for b, n, s in lines if vt.inside(b, x, y)]
                if any(v in n for n, _ in there):
                    counts["dropped"] += 1
                    dropped[next(s for n, s in there if v in n)] += 1
                elif there:
                    counts["misread"] += 1
                else:
                    counts["unread"] += 1
    total = sum(counts.values())
    for k in ("covered", "dropped", "misread", "unread"):
        print(f"{k:8} {counts[k]:5}  {counts[k] / max(total, 1):.3f}")
    if listing:
        for s, n in dropped.most_common():
            print(f"  {n:3} {s!r}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--list"]
    if len(args) != 1:
        sys.exit(__doc__)
    main(args[0], "--list" in sys.argv)
