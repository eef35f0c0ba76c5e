"""CLI: python -m synth --out DIR --count N --seed S [--jobs 2] [--clean]"""

import argparse
import multiprocessing as mp
import os
import sys
import time

from .generator import write_drawing
from .style import FONT_DIR, fonts_available


def _work(args):
    out, index, seed, degrade = args
    return write_drawing(out, index, seed, degrade=degrade)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m synth", description=__doc__)
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--count", type=int, required=True, help="number of drawings")
    ap.add_argument("--seed", type=int, default=0, help="base seed; drawing i uses seed*100003+i")
    ap.add_argument("--start", type=int, default=0, help="first drawing index (default 0)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--clean", action="store_true", help="disable scan degradation")
    a = ap.parse_args(argv)
    if not fonts_available():
        print(f"synth: DejaVu fonts not found under {FONT_DIR} (Debian: apt-get install fonts-dejavu-core "
              f"fonts-dejavu-extra, or set SYNTH_FONT_DIR)", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    tasks = [(a.out, i, a.seed, not a.clean) for i in range(a.start, a.start + a.count)]
    t0 = time.perf_counter()
    done = 0
    objs = 0
    if a.jobs <= 1:
        it = map(_work, tasks)
        pool = None
    else:
        pool = mp.get_context("fork").Pool(a.jobs)
        it = pool.imap_unordered(_work, tasks, chunksize=1)
    try:
        for idx, nobj, ndim in it:
            done += 1
            objs += nobj
            if done % 10 == 0 or done == len(tasks):
                el = time.perf_counter() - t0
                print(f"[{done}/{len(tasks)}] {el:.1f}s", flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    el = time.perf_counter() - t0
    rate = done / el if el > 0 else float("inf")
    print(f"wrote {done} drawings ({objs} objects) to {a.out} in {el:.1f}s "
          f"= {rate:.2f} drawings/s with {a.jobs} job(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
