"""How much faster is a notebook rerun in a fresh kernel, with the model cache?

Runs each solution notebook top to bottom twice, each time in a fresh kernel (what a
kernel restart, a Colab disconnect or grading does), with an empty model cache in a
temporary folder: the first run trains and fills it, the second loads. Reports both
times, their ratio (target: at most 0.2), how many models the first run stored and how
many the second trained again (a fit it does not load stores a new entry), and how many
cells printed something different the second time (timing lines aside), which should
be none: a loaded model is the trained one.

    python benchmarks/notebook_rerun.py                      # every notebook, fast mode
    python benchmarks/notebook_rerun.py --full solutions/01_basic_autoencoder/*.ipynb

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from autoencoder_lib.instructor.course import all_notebooks, venv_first

LOADED = "Loaded from the model cache"
# Lines that differ between runs by nature: progress bars, timings.
_VOLATILE = re.compile(r"Epoch \d+/\d+|Loaded from the model cache|\d+(\.\d+)? s\b")


def _run(path: Path, env: dict) -> tuple[float, list[str]]:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="ae-rerun-") as tmp:
        client = NotebookClient(
            nb, timeout=-1, kernel_name="python3", resources={"metadata": {"path": tmp}}
        )
        start = time.perf_counter()
        client.execute(env=env)
        seconds = time.perf_counter() - start
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = "".join(
            out.get("text", "") or out.get("data", {}).get("text/plain", "")
            for out in cell.get("outputs", [])
        )
        texts.append(text)
    return seconds, texts


def _stable(text: str) -> str:
    return "\n".join(
        line
        for line in text.replace("\r", "\n").splitlines()
        if not _VOLATILE.search(line)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--full", action="store_true", help="full mode (default fast)")
    args = parser.parse_args()
    paths = args.notebooks or all_notebooks()
    rows = {}
    for path in paths:
        with tempfile.TemporaryDirectory(prefix="ae-cache-") as cache:
            env = dict(os.environ, AUTOENCODER_MODEL_CACHE="1")
            env["AUTOENCODER_MODEL_CACHE_DIR"] = cache
            env["AUTOENCODER_FAST"] = "0" if args.full else "1"
            env.pop("AUTOENCODER_MODEL_CACHE_SHARED", None)
            venv_first(env)
            first, first_out = _run(path, env)
            stored = len(list(Path(cache).glob("*.npz")))
            second, second_out = _run(path, env)
            # A fit the rerun did not load trains and stores a new entry.
            missed = len(list(Path(cache).glob("*.npz"))) - stored
        fits = sum(t.count("Epoch 1/") for t in first_out)
        loaded = sum(t.count(LOADED) for t in second_out)
        changed = sum(
            _stable(a) != _stable(b) for a, b in zip(first_out, second_out, strict=True)
        )
        rows[path.stem] = {
            "first_s": round(first, 1),
            "rerun_s": round(second, 1),
            "ratio": round(second / first, 3),
            "fits_shown_first": fits,
            "models_stored_first": stored,
            "trained_again_on_rerun": missed,
            "loaded_lines_on_rerun": loaded,
            "cells_printing_differently": changed,
        }
        print(
            f"{path.stem:<34} first {first:6.1f} s, rerun {second:6.1f} s "
            f"({second / first:.2f}); {stored} models stored, {missed} trained again; "
            f"{changed} cells printed differently",
            flush=True,
        )
    print(
        json.dumps(
            {
                "host": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                "mode": "full" if args.full else "fast",
                "notebooks": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
