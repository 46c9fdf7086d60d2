"""The grading limits.

``nbgrader_config.py``, the class runner and :mod:`.confine` (which applies them to
each grading kernel from outside) read the limits from here; the environment variables
override the defaults. Students never call this.
"""

from __future__ import annotations

import os
import sys

# Defaults of the grading limits; the environment variables override them.
CELL_TIMEOUT_ENV, CELL_TIMEOUT_DEFAULT_S = "AUTOENCODER_CELL_TIMEOUT", 300
MEMORY_ENV, MEMORY_DEFAULT_GB = "AUTOENCODER_KERNEL_MEMORY_GB", 4.0
SCRATCH_ENV, SCRATCH_DEFAULT_MB = "AUTOENCODER_SCRATCH_MB", 1024
# Processes and threads of one kernel (TensorFlow's and JAX's thread pools included).
TASKS_ENV, TASKS_DEFAULT = "AUTOENCODER_KERNEL_TASKS", 512
# CPU seconds of any one process of a kernel, all its threads together: a backstop far
# above what a notebook's cells, each under the time limit, can use.
CPU_ENV, CPU_DEFAULT_S = "AUTOENCODER_KERNEL_CPU_S", 4 * 3600
# "1": no control groups (the rlimits alone), for machines where making them misbehaves.
NO_CGROUPS_ENV = "AUTOENCODER_NO_CGROUPS"
# A cell past the time limit is interrupted; if it has not stopped this many seconds
# later (it caught KeyboardInterrupt), its kernel is killed.
KILL_GRACE_S = 10
# Stored output: text is clipped at OUTPUT_LIMIT_BYTES per output; a binary output
# (an image) larger than BINARY_LIMIT_BYTES is replaced by a note. As outputs arrive,
# a cell keeps at most CELL_OUTPUT_BYTES and a notebook NOTEBOOK_OUTPUT_BYTES.
OUTPUT_LIMIT_BYTES = 100_000
BINARY_LIMIT_BYTES = 1_000_000
CELL_OUTPUT_BYTES = 2_000_000
NOTEBOOK_OUTPUT_BYTES = 20_000_000
# A submitted notebook larger than this, or nested deeper, is not graded: the report
# says why (a notebook without outputs is well under 1 MiB; nbformat nests about 8).
SUBMISSION_LIMIT_BYTES = 50 * 2**20
SUBMISSION_MAX_DEPTH = 64
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


def kernel_tasks() -> int:
    """Processes and threads a grading kernel may have at once."""
    return int(os.environ.get(TASKS_ENV, TASKS_DEFAULT))


def kernel_cpu_s() -> int:
    """CPU seconds any one process of a grading kernel may use."""
    return int(os.environ.get(CPU_ENV, CPU_DEFAULT_S))


def enter_workdir(path: str) -> None:
    """Kernel start-up, before any notebook code: nothing beside the notebook is
    importable (ipykernel puts the working folder first on ``sys.path``), then move
    into the student's files. The kernel started in an empty folder, so no
    configuration or module of the student's was read on the way."""
    sys.path[:] = [p for p in sys.path if p not in ("", ".")]
    if path and os.path.isdir(path):
        os.chdir(path)
