#!/usr/bin/env python3
"""Zero the GPU code a shared library holds for every architecture but the ones kept.

libonnxruntime_providers_cuda.so (ONNX Runtime 1.29, CUDA 13) is 230 MB, of which 166 MB is its
.nv_fatbin section: one cubin per kernel for each of sm_75, 80, 86, 89, 90 and 120, and no PTX.
A lent GPU machine is a Hopper (sm_90), and files reach it at most 64 MiB a call, so the bundle
carries a copy in which the other architectures' cubins are zeros: every header, size and
offset stays as it was (the host code points into the section, so nothing may move), and the
zeros compress to nothing. The CUDA driver picks the cubin whose header names the device's
architecture; with no PTX in the file, an sm_90 device can only ever load an sm_90 cubin.

Usage: prune_fatbin.py IN OUT --keep 90 [--keep 120 ...]   (prints what it kept and zeroed)
       prune_fatbin.py IN --stats                            (only prints the table)
"""

import argparse
import collections
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50
KIND_NAMES = {1: 'ptx', 2: 'cubin'}


def fatbin_section(data: bytes) -> tuple[int, int]:
    """Offset and size of .nv_fatbin in a 64-bit little-endian ELF."""
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        raise SystemExit('not a 64-bit little-endian ELF file')
    shoff = struct.unpack_from('<Q', data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3A)
    names_offset = struct.unpack_from('<Q', data, shoff + shstrndx * shentsize + 0x18)[0]
    for index in range(shnum):
        header = shoff + index * shentsize
        name_offset = struct.unpack_from('<I', data, header)[0]
        end = data.index(b'\0', names_offset + name_offset)
        if data[names_offset + name_offset : end] == b'.nv_fatbin':
            offset, size = struct.unpack_from('<QQ', data, header + 0x18)
            return offset, size
    raise SystemExit('no .nv_fatbin section')


def entries(data: bytes, start: int, size: int):
    """(payload offset, payload size, kind, sm) of every entry of every fatbin container."""
    position, end = start, start + size
    while position + 16 <= end:
        magic, _version, header_size, body_size = struct.unpack_from('<IHHQ', data, position)
        if magic != FATBIN_MAGIC:
            position += 8  # containers are 8-byte aligned; padding between them is zeros
            continue
        entry, body_end = position + header_size, position + header_size + body_size
        while entry < body_end:
            kind, _unknown, entry_header, payload = struct.unpack_from('<HHIQ', data, entry)
            sm = struct.unpack_from('<I', data, entry + 28)[0]
            yield entry + entry_header, payload, kind, sm
            entry += entry_header + payload
        position = body_end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input')
    parser.add_argument('output', nargs='?')
    parser.add_argument('--keep', type=int, action='append', default=[], help='sm to keep, e.g. 90')
    parser.add_argument('--stats', action='store_true')
    args = parser.parse_args()
    data = bytearray(open(args.input, 'rb').read())
    start, size = fatbin_section(data)
    table = collections.Counter()
    count = collections.Counter()
    zeroed = 0
    kinds_kept = set()
    for offset, payload, kind, sm in entries(data, start, size):
        name = KIND_NAMES.get(kind, f'kind{kind}')
        table[(name, sm)] += payload
        count[(name, sm)] += 1
        # PTX is kept whatever its architecture: a newer device may compile it.
        keep = kind != 2 or sm in args.keep
        if keep:
            kinds_kept.add((name, sm))
        elif not args.stats:
            data[offset : offset + payload] = bytes(payload)
            zeroed += payload
    print(f'.nv_fatbin: {size} bytes at {start}')
    for (name, sm), total in sorted(table.items()):
        state = '' if args.stats else ('kept' if (name, sm) in kinds_kept else 'zeroed')
        print(f'  {name:5} sm_{sm:<4} {count[(name, sm)]:4} entries {total:11} bytes {state}')
    if args.stats:
        return 0
    if not args.output or not args.keep:
        parser.error('OUT and at least one --keep are needed unless --stats')
    if not any(kind == 'cubin' and sm in args.keep for kind, sm in kinds_kept):
        print(f'no cubin for sm {args.keep} in {args.input}: refusing to zero everything', file=sys.stderr)
        return 1
    open(args.output, 'wb').write(data)
    print(f'zeroed {zeroed} bytes; wrote {args.output} ({len(data)} bytes, same size as the input)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
