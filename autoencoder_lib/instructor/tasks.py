"""One student's grading as a self-contained task: files in, files out.

The class runner (:mod:`.class_runner`) hands every student to an executor as a
:class:`Task`: the assignment's template course (its config, solutions and a gradebook
that holds only the assignment) and the student's submitted files, as bytes. :func:`run`
grades it with ``nbgrader autograde`` in a private temporary course folder and returns
a :class:`Result`: the private gradebook, the autograded notebook, the guard's findings
and the log, as bytes again.

Nothing is shared but the task and its result, so the same function runs in a thread
on the instructor's machine or on a Dask worker on another machine that shares no folder
with it; only the trusted runner writes the course's gradebook and ``autograded/``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import MODEL_CACHE_DIR_ENV, MODEL_CACHE_SHARED_ENV, STRICT_CLAIMS_ENV
from . import limits
from .course import venv_first
from .preprocessors import REPORT_ENV, UNSANDBOXED_ENV

# What a result carries back from the private course folder.
RESULT_FILES = ("gradebook.db", "guard.json")
RESULT_FOLDERS = ("autograded",)


@dataclass
class Task:
    student: str
    assignment: str
    template: dict[str, bytes]
    submission: dict[str, bytes]
    sandboxed: bool = True
    # Threads each kernel may use; 0: the machine that grades decides (see _threads).
    threads: int = 0
    # The instructor's trained-model cache on the machine that grades (make
    # warm-cache), read-only to the kernel; ignored where that folder is not there.
    model_cache: str = ""


@dataclass
class Result:
    student: str
    returncode: int
    log: str
    files: dict[str, bytes]
    host: str = ""


def pack(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` by relative path. Links are left out: a
    submission's link would point into the machine that grades it."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def unpack(files: dict[str, bytes], folder: Path) -> None:
    """Write ``files`` under ``folder``; a path that would leave it is refused."""
    for name, content in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        path = folder.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def nbgrader(args: list[str], cwd: Path, env: dict, log, timeout: float) -> int:
    command = [sys.executable, "-m", "nbgrader", *args]
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
        ).returncode
    except subprocess.TimeoutExpired:
        log.write(f"\n[grading] nbgrader did not finish within {timeout:.0f} s\n")
        return -1


_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _threads(requested: int) -> int:
    """Threads per kernel: as asked, or on a Dask worker the cores shared among the
    students it grades at once; 0 (every core) where one student runs at a time."""
    if requested:
        return requested
    try:
        from distributed import get_worker

        return max(1, cores() // get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return 0


def environment(sandboxed: bool, threads: int = 0) -> dict:
    """nbgrader's environment on the machine that grades (its own data folder).

    With ``threads``, each kernel's math libraries use that many threads (unless the
    instructor set them): students graded side by side then share the cores instead
    of each spreading over all of them and contending."""
    env = dict(os.environ, AUTOENCODER_FAST="1")
    if threads:
        for name in _THREAD_VARIABLES:
            env.setdefault(name, str(threads))
    venv_first(env)
    env.pop("AUTOENCODER_DB_URL", None)  # private runs use their own gradebook
    # A student's numbers may differ from the text's: their notebook notes it, never fails.
    env.pop(STRICT_CLAIMS_ENV, None)
    if not sandboxed:
        env[UNSANDBOXED_ENV] = "1"
    return env


def _budget(template: dict[str, bytes], assignment: str) -> float:
    """Machine time for one student: generous, so a slow machine never costs marks."""
    prefix = f"solutions/{assignment}/"
    cells = sum(
        len(json.loads(content).get("cells", []))
        for name, content in template.items()
        if name.startswith(prefix) and name.endswith(".ipynb")
    )
    return limits.MACHINE_TIMEOUT_S + cells * (limits.cell_timeout_s() + 30)


def _where() -> str:
    host = socket.gethostname()
    try:
        from distributed import get_worker

        return f"{host}, Dask worker {get_worker().name}"
    except (ImportError, ValueError):
        return host


def run(task: Task) -> Result:
    """Grade one student in a private course folder on this machine."""
    host = _where()
    if task.sandboxed:
        from .sandbox import unavailable

        reason = unavailable()
        if reason:
            return Result(
                task.student,
                -2,
                f"[grading] no sandbox on {host}: {reason}\n",
                {},
                host,
            )
    with tempfile.TemporaryDirectory(prefix=f"ae-{task.assignment}-") as tmp:
        folder = Path(tmp) / "course"
        unpack(task.template, folder)
        unpack(
            task.submission,
            folder / "submitted" / task.student / task.assignment,
        )
        env = dict(
            environment(task.sandboxed, _threads(task.threads)),
            **{REPORT_ENV: str(folder / "guard.json")},
        )
        # This student's own new entries: private, and gone with the folder (in the
        # sandbox, its scratch tmpfs instead). Never the instructor's own cache.
        env[MODEL_CACHE_DIR_ENV] = str(Path(tmp) / "model-cache")
        env.pop(MODEL_CACHE_SHARED_ENV, None)
        if task.model_cache and Path(task.model_cache).is_dir():
            env[MODEL_CACHE_SHARED_ENV] = task.model_cache
        log_path = Path(tmp) / "autograde.log"
        with open(log_path, "w", encoding="utf-8") as log:
            log.write(f"[grading] {task.student} / {task.assignment} on {host}\n")
            log.flush()
            code = nbgrader(
                ["autograde", task.assignment, "--force",
                 f"--student={task.student}",
                 f"--CourseDirectory.db_url=sqlite:///{folder / 'gradebook.db'}"],
                folder, env, log, timeout=_budget(task.template, task.assignment),
            )  # fmt: skip
        files = {
            name: (folder / name).read_bytes()
            for name in RESULT_FILES
            if (folder / name).is_file()
        }
        for name in RESULT_FOLDERS:
            if (folder / name).is_dir():
                files.update({f"{name}/{k}": v for k, v in pack(folder / name).items()})
        return Result(
            task.student, code, log_path.read_text(errors="replace"), files, host
        )
