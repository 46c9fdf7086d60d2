"""Every solution notebook, top to bottom, on each Keras backend: time, errors, noise.

Each notebook runs in a fresh kernel with ``KERAS_BACKEND`` set, in fast mode (``--full``
for full mode), with the model cache off, so every model trains, and every claim strict:
a claim the run does not bear out is an error, as under nbval. For each run it reports
the wall time, the slowest cell, the first error (cell and exception), and every cell
that wrote to stderr, which JupyterLab shows in red and nbgrader counts against a test
cell: the set-up cell must write nothing there on any backend.

    python benchmarks/backend_times.py                         # every notebook, 3 backends
    python benchmarks/backend_times.py --backends jax torch solutions/08_*/*.ipynb

The last line printed is one JSON object; benchmarks/RESULTS.md's backend table comes from it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from importlib import metadata
from pathlib import Path

from autoencoder_lib.doctor import BACKEND_PACKAGES
from autoencoder_lib.instructor.backend_run import BACKENDS, run
from autoencoder_lib.instructor.course import all_notebooks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS
    )
    parser.add_argument("--full", action="store_true", help="full mode (default fast)")
    args = parser.parse_args()
    paths = args.notebooks or all_notebooks()
    versions = {}
    rows: dict[str, dict] = {}
    for backend in args.backends:
        for path in paths:
            row = run(path, backend, full=args.full)
            rows.setdefault(path.stem, {})[backend] = row
            noisy = ", ".join(str(c["cell"]) for c in row["stderr_cells"]) or "none"
            print(
                f"{backend:<10} {path.stem:<34} {row['seconds']:7.1f} s "
                f"(slowest cell {row['slowest_cell']}: {row['slowest_cell_s']:.1f} s); "
                f"error: {row['error'] or 'none'}; stderr cells: {noisy}",
                flush=True,
            )
        try:
            versions[backend] = metadata.version(BACKEND_PACKAGES[backend])
        except metadata.PackageNotFoundError:
            versions[backend] = None
    print(
        json.dumps(
            {
                "host": f"{platform.machine()}, {os.cpu_count()} CPU cores",
                "mode": "full" if args.full else "fast",
                "keras": metadata.version("keras"),
                "versions": versions,
                "notebooks": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
