"""The grading limits, and the one that a grading kernel applies to itself.

``nbgrader_config.py`` and the class runner read the limits from here; the
environment variables override the defaults. :func:`apply` runs inside each grading
kernel at start-up (``IPKernelApp.exec_lines``), so a notebook that allocates without
bound gets a ``MemoryError`` in the offending cell instead of exhausting the machine.
Students never call this.
"""

from __future__ import annotations

import os
import sys

# Defaults of the grading limits; the environment variables override them.
CELL_TIMEOUT_ENV, CELL_TIMEOUT_DEFAULT_S = "AUTOENCODER_CELL_TIMEOUT", 300
MEMORY_ENV, MEMORY_DEFAULT_GB = "AUTOENCODER_KERNEL_MEMORY_GB", 4.0
SCRATCH_ENV, SCRATCH_DEFAULT_MB = "AUTOENCODER_SCRATCH_MB", 1024
# Stored output: text is clipped at OUTPUT_LIMIT_BYTES per output; a binary output
# (an image) larger than BINARY_LIMIT_BYTES is replaced by a note. As outputs arrive,
# a cell keeps at most CELL_OUTPUT_BYTES and a notebook NOTEBOOK_OUTPUT_BYTES.
OUTPUT_LIMIT_BYTES = 100_000
BINARY_LIMIT_BYTES = 1_000_000
CELL_OUTPUT_BYTES = 2_000_000
NOTEBOOK_OUTPUT_BYTES = 20_000_000
# Waits that are about the machine, not the student's code (kernel start-up, IOPub
# messages after a cell's reply): generous, so that a loaded machine only grades
# slower. nbgrader's own IOPub default is 4 s, which a busy machine exceeds.
MACHINE_TIMEOUT_S = 600


def cell_timeout_s() -> int:
    """Seconds a grading cell may run before it is interrupted."""
    return int(os.environ.get(CELL_TIMEOUT_ENV, CELL_TIMEOUT_DEFAULT_S))


def kernel_memory_gb() -> float:
    """GiB a grading kernel may allocate."""
    return float(os.environ.get(MEMORY_ENV, MEMORY_DEFAULT_GB))


def scratch_mb() -> int:
    """MiB a grading kernel may write (its size-capped tmpfs)."""
    return int(os.environ.get(SCRATCH_ENV, SCRATCH_DEFAULT_MB))


def apply(memory_bytes: int) -> bool:
    """Cap this process's data segment (heap and anonymous maps) at ``memory_bytes``.

    Returns whether the limit is in force. Only Linux enforces RLIMIT_DATA for ``mmap``;
    elsewhere nothing changes and grading runs without a memory cap.
    """
    if not sys.platform.startswith("linux"):
        return False
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        memory_bytes = min(memory_bytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, hard))
    return True
