import io
import itertools

import numpy as np
import pytest
from PIL import Image

from autoencoder_lib.compression import allocate_bits, jpeg_scan_bytes


def _jpeg(image: np.ndarray, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _headers(data: bytes) -> int:
    # Independent count of the header bytes of a single-scan file: every segment up to and
    # including the scan header, plus SOI and EOI.
    i = 2
    while True:
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        i += 2 + length
        if marker == 0xDA:
            return i + 2


@pytest.mark.parametrize("quality", [1, 10, 50, 95])
@pytest.mark.parametrize("optimize", [False, True])
def test_scan_bytes_are_the_file_less_its_headers(quality, optimize):
    image = (np.random.default_rng(quality).random((28, 28)) * 255).astype(np.uint8)
    data = _jpeg(image, quality=quality, optimize=optimize)
    scan = jpeg_scan_bytes(data)
    assert 0 < scan < len(data)
    assert scan == len(data) - _headers(data)


def test_scan_bytes_grow_with_quality_and_headers_do_not():
    image = (np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
    low, high = _jpeg(image, quality=10), _jpeg(image, quality=90)
    assert jpeg_scan_bytes(high) > 2 * jpeg_scan_bytes(low)
    # Standard tables: the headers are the same size whatever the image.
    assert len(low) - jpeg_scan_bytes(low) == len(high) - jpeg_scan_bytes(high)


def test_restart_markers_and_stuffed_bytes_stay_in_the_scan():
    image = (np.random.default_rng(1).random((64, 64)) * 255).astype(np.uint8)
    data = _jpeg(image, quality=95, restart_marker_blocks=1)
    scan = jpeg_scan_bytes(data)
    assert b"\xff\xd0" in data[_headers(data) - 2 :]
    assert scan == len(data) - _headers(data)


def test_progressive_files_count_every_scan():
    image = (np.random.default_rng(2).random((32, 32)) * 255).astype(np.uint8)
    data = _jpeg(image, quality=80, progressive=True)
    scan = jpeg_scan_bytes(data)
    assert data.count(b"\xff\xda") > 1
    assert 0 < scan < len(data) - 200


@pytest.mark.parametrize(
    "data, message",
    [(b"\x89PNG\r\n", "SOI"), (b"\xff\xd8\xff\xdb\x00", "truncated"), (b"", "SOI")],
)
def test_bad_files_are_refused_with_the_reason(data, message):
    with pytest.raises(ValueError, match=message):
        jpeg_scan_bytes(data)


def test_a_truncated_scan_is_refused():
    data = _jpeg(np.zeros((16, 16), np.uint8), quality=50)
    with pytest.raises(ValueError, match="truncated"):
        jpeg_scan_bytes(data[:-2])


def _brute_force(table, budget):
    best = None
    for bits in itertools.product(range(table.shape[1]), repeat=table.shape[0]):
        if sum(bits) <= budget:
            error = sum(table[i, b] for i, b in enumerate(bits))
            if best is None or error < best[0] - 1e-12:
                best = (error, bits)
    return best[0]


@pytest.mark.parametrize("seed", range(12))
def test_allocation_is_optimal_even_where_one_bit_is_worse_than_none(seed):
    rng = np.random.default_rng(seed)
    n, options = 4, 5
    table = rng.random((n, options)) * 10
    if seed % 2:
        # Decreasing errors, as uniform quantisers give from 2 bits on, but 1 bit worse
        # than 0 (levels at the 1st and 99th percentiles).
        table = np.sort(table, axis=1)[:, ::-1].copy()
        table[:, 1] = table[:, 0] * 1.5
    for budget in (0, 1, 3, 6, 20):
        bits = allocate_bits(table, budget)
        assert bits.dtype.kind == "i" and bits.sum() <= budget and bits.min() >= 0
        got = table[np.arange(n), bits].sum()
        assert got == pytest.approx(_brute_force(table, budget))


def test_allocation_gives_more_bits_to_more_variance():
    variances = np.array([16.0, 4.0, 1.0, 0.25])
    table = variances[:, None] * 4.0 ** -np.arange(9)[None, :]
    bits = allocate_bits(table, 10)
    assert bits.sum() == 10
    assert list(bits) == sorted(bits, reverse=True) and bits[0] > bits[-1]


@pytest.mark.parametrize(
    "table, budget, message",
    [
        (np.ones(3), 4, "shape"),
        (np.ones((2, 3)), -1, "negative"),
        (np.array([[1.0, np.nan]]), 2, "NaN"),
    ],
)
def test_allocation_refuses_bad_input(table, budget, message):
    with pytest.raises(ValueError, match=message):
        allocate_bits(table, budget)
