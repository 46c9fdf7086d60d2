"""Counting bits honestly: what part of a JPEG file is the image, and how to share a bit
budget among the numbers of a code (notebook 07)."""

from __future__ import annotations

import numpy as np

_SOS, _EOI = 0xDA, 0xD9
# Markers that stand alone, with no length field after them: TEM and the restart markers.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def jpeg_scan_bytes(data: bytes) -> int:
    """The number of entropy-coded bytes in a JPEG file: the file less its headers (the
    quantisation and Huffman tables, the frame and scan headers, APP segments, SOI and
    EOI). With the standard Huffman tables, those headers depend on the quality setting
    alone, so a stream of many images could send them once; the scan bytes are what each
    image costs on top."""
    data = bytes(data)
    if data[:2] != b"\xff\xd8":
        raise ValueError(
            "not a JPEG file: it does not start with the SOI marker FF D8; pass the bytes "
            "of a file written with format='JPEG'"
        )
    scan, i = 0, 2
    while True:
        if i + 2 > len(data) or data[i] != 0xFF:
            raise ValueError(
                f"truncated or corrupt JPEG: no marker at byte {i} of {len(data)}"
            )
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == _EOI:
            return scan
        if marker in _STANDALONE:
            i += 2
            continue
        if i + 4 > len(data):
            raise ValueError(f"truncated JPEG: the segment at byte {i} has no length")
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
        if marker != _SOS:
            continue
        # Entropy-coded data runs to the next marker; FF 00 is a stuffed FF byte and the
        # restart markers FF D0 to FF D7 belong to the scan.
        start = i
        while True:
            j = data.find(b"\xff", i)
            if j < 0 or j + 1 >= len(data):
                raise ValueError("truncated JPEG: the scan has no end marker")
            if data[j + 1] == 0x00 or 0xD0 <= data[j + 1] <= 0xD7:
                i = j + 2
                continue
            scan += j - start
            i = j
            break


def allocate_bits(distortion, budget: int) -> np.ndarray:
    """Bits per code dimension that minimise the total distortion within `budget` bits.

    `distortion[i, b]` is the error that dimension `i` adds when it is sent with `b` bits
    (`b` from 0 to `distortion.shape[1] - 1`; 0 bits sends nothing). The errors add up when
    the dimensions are orthogonal directions in pixel space, as PCA's are. Solved exactly by
    dynamic programming over the dimensions, so a table that is not convex (one bit can be
    worse than none) is handled too. Returns integers that sum to at most `budget`."""
    table = np.asarray(distortion, dtype=np.float64)
    if table.ndim != 2 or table.shape[1] < 1:
        raise ValueError(
            f"distortion has shape {table.shape}: pass one row per code dimension and one "
            "column per bit count, from 0 bits up"
        )
    if not np.all(np.isfinite(table)):
        raise ValueError("distortion holds NaN or infinite values")
    budget = int(budget)
    if budget < 0:
        raise ValueError(f"budget is {budget}: a number of bits cannot be negative")
    n, options = table.shape
    # best[c]: least total error of the dimensions seen so far, using at most c bits.
    best = np.zeros(budget + 1)
    choice = np.zeros((n, budget + 1), dtype=np.int64)
    for i in range(n):
        candidates = np.full((options, budget + 1), np.inf)
        for b in range(min(options - 1, budget) + 1):
            candidates[b, b:] = best[: budget + 1 - b] + table[i, b]
        choice[i] = np.argmin(candidates, axis=0)
        best = candidates[choice[i], np.arange(budget + 1)]
    bits = np.zeros(n, dtype=np.int64)
    left = budget
    for i in range(n - 1, -1, -1):
        bits[i] = choice[i, left]
        left -= bits[i]
    return bits
