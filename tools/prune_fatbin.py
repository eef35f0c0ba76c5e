#!/usr/bin/env python3
"""Keeps only the GPU code one architecture runs in a shared library's CUDA fat binaries,
so that the library packs small (tools/gpu-bundle.sh: the CUDA build of ONNX Runtime
carries machine code for six architectures, 218 MB of its 284 MB).

    python3 tools/prune_fatbin.py IN.so OUT.so --sm 90
    python3 tools/prune_fatbin.py IN.so --list          # what the library holds

A library's `.nv_fatbin` section is a row of fat binaries, one per compiled CUDA file,
each a header (magic 0xBA55ED50, version, header size, size of what follows) and
entries (kind 1 PTX or 2 ELF machine code, header size, payload size, architecture).
The CUDA runtime registers each fat binary by its address and, when a kernel is first
used, loads the entry that fits the GPU: ELF machine code of the GPU's own
architecture, else PTX it compiles. Pruning rewrites each fat binary in place with
only its entries for `--sm` (ELF of that architecture, and any PTX of that
architecture or older), at the same address, and zeroes the bytes freed after it; the
section's size, every address and everything outside the section stay as they were.
A fat binary with nothing for `--sm` is left whole (and counted). Python's standard
library only.
"""

import argparse
import collections
import struct
import sys

MAGIC = 0xBA55ED50
KINDS = {1: "ptx", 2: "elf"}


def section(data, name):
    """(offset, size) of an ELF64 little-endian section by name."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("prune_fatbin: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def header(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
    strtab = header(shstrndx)
    for i in range(shnum):
        h = header(i)
        start = strtab[4] + h[0]
        if data[start:data.index(b"\0", start)].decode() == name:
            return h[4], h[5]
    sys.exit(f"prune_fatbin: no {name} section")


def fatbins(sec):
    """Yields (start, header_size, end, entries) per fat binary; an entry is
    (start, length, kind, arch). Offsets are within the section `sec` (bytes-like)."""
    raw = bytes(sec)
    pos = raw.find(struct.pack("<I", MAGIC))
    while pos >= 0 and pos + 16 <= len(raw):
        _magic, _version, hsize, fsize = struct.unpack_from("<IHHQ", raw, pos)
        end = pos + hsize + fsize
        entries, e = [], pos + hsize
        while e < end:
            kind, _unk, ehsize, psize = struct.unpack_from("<HHIQ", raw, e)
            arch, = struct.unpack_from("<I", raw, e + 28)
            entries.append((e, ehsize + psize, kind, arch))
            e += ehsize + psize
        if e != end:
            sys.exit(f"prune_fatbin: entries overrun the fat binary at section offset {pos}")
        yield pos, hsize, end, entries
        pos = raw.find(struct.pack("<I", MAGIC), end)


def keep(kind, arch, sm):
    return (kind == 2 and arch == sm) or (kind == 1 and arch <= sm)


def prune(sec, sm):
    """Rewrites the fat binaries of the section `sec` (a writable buffer) in place to
    hold only what `keep` keeps for `sm`: (bytes of entries kept, fat binaries left
    whole because they held nothing for `sm`)."""
    found = list(fatbins(sec))
    kept_bytes, whole = 0, 0
    for start, hsize, end, entries in found:
        kept = [(e, n) for e, n, kind, arch in entries if keep(kind, arch, sm)]
        if not kept:
            whole += 1
            kept_bytes += end - start - hsize
            continue
        body = b"".join(bytes(sec[e:e + n]) for e, n in kept)
        sec[start + hsize:start + hsize + len(body)] = body
        sec[start + hsize + len(body):end] = bytes(end - start - hsize - len(body))
        struct.pack_into("<Q", sec, start + 8, len(body))
        kept_bytes += len(body)
    # Check what was written: the same fat binaries at the same places, each holding
    # only code for `sm` unless it was left whole.
    again = list(fatbins(sec))
    if [f[0] for f in again] != [f[0] for f in found]:
        sys.exit("prune_fatbin: the rewritten section does not parse as expected")
    pruned = [f for f in again if all(keep(k, a, sm) for _, _, k, a in f[3])]
    if len(pruned) < len(found) - whole:
        sys.exit("prune_fatbin: a rewritten fat binary still holds code for another architecture")
    return kept_bytes, whole


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("input")
    ap.add_argument("output", nargs="?")
    ap.add_argument("--sm", type=int, help="the architecture to keep, e.g. 90 for Hopper")
    ap.add_argument("--list", action="store_true", help="print bytes per kind and architecture")
    args = ap.parse_args()

    data = bytearray(open(args.input, "rb").read())
    off, size = section(data, ".nv_fatbin")
    sec = memoryview(data)[off:off + size]
    found = list(fatbins(sec))
    by = collections.Counter()
    for _, _, _, entries in found:
        for _, length, kind, arch in entries:
            by[(KINDS.get(kind, kind), arch)] += length
    print(f"{args.input}: {len(found)} fat binaries, {size / 1e6:.1f} MB in .nv_fatbin")
    for (kind, arch), n in sorted(by.items()):
        print(f"  {kind} sm_{arch}: {n / 1e6:.1f} MB")
    if args.list:
        return
    if not args.output or args.sm is None:
        sys.exit("prune_fatbin: give OUT.so and --sm N (or --list)")

    kept_bytes, whole = prune(sec, args.sm)
    del sec
    with open(args.output, "wb") as f:
        f.write(data)
    print(
        f"{args.output}: kept {kept_bytes / 1e6:.1f} MB of code for sm_{args.sm}; "
        f"{whole} fat binaries had none and stay whole"
    )


if __name__ == "__main__":
    main()
