"""Submitter for the Celery baseline: pushes N chains preprocess -> report from T
threads (apply_async, as a client would), waits until N rows are in jobs, and prints
the figures in drawpipe-bench's format. Run by run.sh (which sets the env)."""
import argparse
import base64
import itertools
import os
import struct
import threading
import time
import uuid
import zlib

import psycopg2
from celery import chain

from tasks import DSN, preprocess, report


def tiny_png(w, h, seed):
    """Byte-for-byte the PNG of tests/src/lib.rs `tiny_png` (stored deflate blocks)."""
    raw = bytearray()
    for y in range(h):
        raw.append(0)
        for x in range(w):
            raw.append(((x * 7 + y * 13) + seed) & 0xFF)
    raw = bytes(raw)
    z = bytearray(b"\x78\x01")
    blocks = [raw[i:i + 65535] for i in range(0, len(raw), 65535)] or [b""]
    for i, block in enumerate(blocks):
        last = (i + 1) * 65535 >= len(raw)
        z.append(1 if last else 0)
        z += struct.pack("<H", len(block)) + struct.pack("<H", (~len(block)) & 0xFFFF) + block
    z += struct.pack(">I", zlib.adler32(raw))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">II", w, h) + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", bytes(z)) + chunk(b"IEND", b"")


PROCS = ["celery", "postgres", "beam.smp", "submit"]


def cpu_by_process():
    """CPU seconds (user+system) per process group, read from /proc, like drawpipe-bench.
    'celery' = the worker and its prefork children, 'submit' = this process."""
    out = dict.fromkeys(PROCS, 0.0)
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        secs = (int(fields[11]) + int(fields[12])) / 100.0
        if int(pid) == me:
            out["submit"] += secs
        elif name in out and name != "submit":
            out[name] += secs
    return out


def percentile(s, p):
    if not s:
        return float("nan")
    return s[int(round((len(s) - 1) * p))]


def submit_one(b64):
    job_id = str(uuid.uuid4())
    created = time.time()
    chain(preprocess.s(job_id, b64), report.s(job_id, created)).apply_async()
    return job_id


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--worker-desc", default="")
    a = ap.parse_args()

    png = tiny_png(a.size, a.size, 7)
    b64 = base64.b64encode(png).decode()
    db = psycopg2.connect(DSN)
    db.autocommit = True
    cur = db.cursor()

    # Warm-up (as drawpipe-bench): 20 jobs one by one, then empty the tables.
    for _ in range(20):
        jid = submit_one(b64)
        t0 = time.time()
        while True:
            cur.execute("SELECT 1 FROM jobs WHERE id = %s", (jid,))
            if cur.fetchone():
                break
            if time.time() - t0 > 120:
                raise SystemExit(f"warm-up job {jid} did not finish in 120 s (is the worker up?)")
            time.sleep(0.02)
    cur.execute("TRUNCATE jobs, pages")
    cur.execute("SELECT to_regclass('celery_taskmeta')")
    if cur.fetchone()[0]:
        cur.execute("TRUNCATE celery_taskmeta")

    cpu_before = cpu_by_process()
    start = time.time()
    counter = itertools.count()
    errors = []

    def loop():
        try:
            while next(counter) < a.jobs:
                submit_one(b64)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=loop) for _ in range(a.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"submit failed: {errors[0]!r}")
    submitted = time.time() - start
    while True:
        cur.execute("SELECT count(*) FROM jobs WHERE status IN ('completed', 'partial', 'failed', 'cancelled')")
        done = cur.fetchone()[0]
        if done >= a.jobs:
            break
        if time.time() - start > a.timeout:
            raise SystemExit(f"only {done} of {a.jobs} jobs finished in {a.timeout:.0f} s")
        time.sleep(0.02)
    cpu_after = cpu_by_process()
    cur.execute(
        "SELECT status, (extract(epoch FROM finished_at - created_at) * 1000)::float8, "
        "extract(epoch FROM (SELECT max(finished_at) - min(created_at) FROM jobs))::float8 FROM jobs"
    )
    rows = cur.fetchall()
    completed = sum(1 for r in rows if r[0] == "completed")
    lat = sorted(r[1] for r in rows if r[1] is not None)
    span = rows[0][2] if rows else float("nan")
    print(f"jobs: {a.jobs} (completed {completed}), stages preprocess,report, {a.size}x{a.size} PNG ({len(png)} bytes)")
    print(f"workers: {a.worker_desc}; submitters: {a.concurrency}")
    print(f"submit rate (apply_async): {a.jobs / submitted:.0f} jobs/s over {submitted:.2f} s")
    # Only completed jobs count (as in drawpipe-bench).
    print(f"throughput (completed jobs, first created → last finished): {completed / span:.0f} jobs/s over {span:.2f} s")
    print(
        f"submit-to-completed latency ms: p50 {percentile(lat, 0.5):.1f}  p95 {percentile(lat, 0.95):.1f}  "
        f"p99 {percentile(lat, 0.99):.1f}  max {lat[-1] if lat else float('nan'):.1f}"
    )
    d = {k: cpu_after[k] - cpu_before[k] for k in PROCS}
    total = sum(d.values()) or float("nan")
    print("cpu seconds during the run (share): " + ", ".join(
        f"{k} {v:.2f} ({100 * v / total:.0f}%)" for k, v in d.items()))
    print(f"cpu per job: {1000 * total / a.jobs:.2f} ms")


if __name__ == "__main__":
    main()
