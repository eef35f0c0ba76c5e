"""Tests for tools/prune_fatbin.py on fat binaries and an ELF file built here."""

import os
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import prune_fatbin as pf  # noqa: E402

ELF, PTX = 2, 1


def entry(kind, arch, payload):
    """One fat binary entry: a 64-byte header (kind, header size, payload size, arch at
    offset 28) and its payload."""
    header = bytearray(64)
    struct.pack_into("<HHIQ", header, 0, kind, 0x101, 64, len(payload))
    struct.pack_into("<I", header, 28, arch)
    return bytes(header) + payload


def fatbin(*entries):
    body = b"".join(entries)
    return struct.pack("<IHHQ", pf.MAGIC, 1, 16, len(body)) + body


def code(tag, n=24):
    return (tag * n)[:n]


def section():
    """Three fat binaries: sm_80, sm_90 and sm_120 code; sm_80 code only (after 8 bytes
    of padding); PTX for compute_52 and sm_86 code."""
    a = fatbin(entry(ELF, 80, code(b"a80")), entry(ELF, 90, code(b"a90")), entry(ELF, 120, code(b"a12")))
    b = fatbin(entry(ELF, 80, code(b"b80")))
    c = fatbin(entry(PTX, 52, code(b"cpt")), entry(ELF, 86, code(b"c86")))
    return bytearray(a + b + bytes(8) + c), (0, len(a), len(a) + len(b) + 8)


class PruneTest(unittest.TestCase):
    def test_keeps_only_the_architecture_at_the_same_places(self):
        sec, starts = section()
        size = len(sec)
        kept, whole = pf.prune(sec, 90)
        self.assertEqual(len(sec), size)
        found = list(pf.fatbins(sec))
        self.assertEqual([f[0] for f in found], list(starts))
        archs = [[(k, a) for _, _, k, a in f[3]] for f in found]
        self.assertEqual(archs, [[(ELF, 90)], [(ELF, 80)], [(PTX, 52)]])
        self.assertEqual(whole, 1)
        # The sm_90 entry moved to the front of its fat binary, unchanged; the bytes it
        # freed are zero.
        start, hsize, end, entries = found[0]
        self.assertEqual(bytes(sec[start + hsize:end]), entry(ELF, 90, code(b"a90")))
        self.assertEqual(bytes(sec[end:starts[1]]), bytes(starts[1] - end))
        self.assertEqual(kept, 88 + 88 + 88)

    def test_another_architecture(self):
        sec, _ = section()
        pf.prune(sec, 120)
        archs = [[(k, a) for _, _, k, a in f[3]] for f in pf.fatbins(sec)]
        self.assertEqual(archs, [[(ELF, 120)], [(ELF, 80)], [(PTX, 52)]])

    def test_nothing_to_prune_changes_nothing(self):
        sec = bytearray(fatbin(entry(ELF, 90, code(b"x90")), entry(PTX, 90, code(b"p90"))))
        before = bytes(sec)
        self.assertEqual(pf.prune(sec, 90), (2 * 88, 0))
        self.assertEqual(bytes(sec), before)


def elf_with(name, payload):
    """A minimal ELF64 little-endian file: header, the section `name` holding payload,
    a section-name table, and section headers (null, `name`, .shstrtab)."""
    names = b"\0" + name.encode() + b"\0.shstrtab\0"
    data_off = 64
    names_off = data_off + len(payload)
    shoff = (names_off + len(names) + 7) // 8 * 8
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x28, shoff)
    struct.pack_into("<HHH", header, 0x3A, 64, 3, 2)
    def sh(name_off, off, size):
        return struct.pack("<IIQQQQIIQQ", name_off, 1, 0, 0, off, size, 0, 0, 8, 0)
    body = bytes(header) + payload + names
    body += bytes(shoff - len(body))
    return body + bytes(64) + sh(1, data_off, len(payload)) + sh(2 + len(name), names_off, len(names))


class FileTest(unittest.TestCase):
    def test_rewrites_the_section_of_a_file_and_nothing_else(self):
        sec, _ = section()
        data = elf_with(".nv_fatbin", bytes(sec))
        self.assertEqual(pf.section(data, ".nv_fatbin"), (64, len(sec)))
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = os.path.join(tmp, "in.so"), os.path.join(tmp, "out.so")
            open(src, "wb").write(data)
            script = os.path.join(os.path.dirname(__file__), "..", "prune_fatbin.py")
            subprocess.run([sys.executable, script, src, dst, "--sm", "90"], check=True, capture_output=True)
            out = open(dst, "rb").read()
        self.assertEqual(len(out), len(data))
        self.assertEqual(out[:64], data[:64])
        self.assertEqual(out[64 + len(sec):], data[64 + len(sec):])
        expect = bytearray(sec)
        pf.prune(expect, 90)
        self.assertEqual(out[64:64 + len(sec)], bytes(expect))


if __name__ == "__main__":
    unittest.main()
