"""Fill the course's trained-model cache from the solutions: ``make warm-cache``.

    python -m autoencoder_lib.instructor.warm_cache [ASSIGNMENT ...] [--course DIR]

Runs every solution notebook top to bottom in fast mode, as grading does, with the
model cache writing to ``<course>/model_cache``. Grading then binds that folder
read-only into every kernel: a student whose model is the solution's (same
architecture, seeds, data and arguments) gets the solution's trained weights instead of
training again, and any other model trains as before. Run it again after changing a
solution, the library or the versions installed; entries that no longer match are
simply never found (delete the folder to reclaim the space).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ..config import (
    FAST_ENV,
    MODEL_CACHE_DIR_ENV,
    MODEL_CACHE_ENV,
    MODEL_CACHE_SHARED_ENV,
)
from . import limits
from .class_runner import MODEL_CACHE_FOLDER
from .course import ROOT, assignments, notebooks, venv_first


def warm(notebook: Path, cache: Path) -> tuple[float, int]:
    """Run one solution notebook in fast mode, writing to ``cache``; (seconds, new
    entries)."""
    env = dict(os.environ)
    env.update({FAST_ENV: "1", MODEL_CACHE_ENV: "1", MODEL_CACHE_DIR_ENV: str(cache)})
    env.pop(MODEL_CACHE_SHARED_ENV, None)
    venv_first(env)
    before = set(cache.glob("*.npz"))
    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ae-warm-") as tmp:
        client = NotebookClient(
            nb,
            timeout=limits.cell_timeout_s(),
            startup_timeout=limits.MACHINE_TIMEOUT_S,
            kernel_name="python3",
            resources={"metadata": {"path": tmp}},
        )
        client.execute(env=env)
    return time.perf_counter() - start, len(set(cache.glob("*.npz")) - before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment")
    parser.add_argument(
        "--course", type=Path, default=ROOT, help="course folder (default: this one)"
    )
    options = parser.parse_args(argv)
    solutions = options.course / "solutions"
    chosen = options.assignments or assignments(solutions)
    unknown = sorted(a for a in chosen if not (solutions / a).is_dir())
    if unknown:
        parser.error(f"no such assignment in {solutions}: {', '.join(unknown)}")
    cache = options.course / MODEL_CACHE_FOLDER
    cache.mkdir(parents=True, exist_ok=True)
    for assignment in chosen:
        for notebook in notebooks(assignment, base=solutions):
            try:
                seconds, added = warm(notebook, cache)
            except Exception as error:  # a solution that fails: say which, go on
                print(f"{notebook.name}: failed ({type(error).__name__}): {error}")
                return 1
            print(f"{notebook.name}: {added} new trained models in {seconds:.0f} s")
    entries = list(cache.glob("*.npz"))
    size = sum(p.stat().st_size for p in entries) / 2**20
    print(f"{cache}: {len(entries)} trained models, {size:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
