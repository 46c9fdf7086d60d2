"""Where the grading round trip of ``make test`` spends its time.

Runs each solution notebook once in fast mode into an empty model cache (what nbval does
first in ``make test``), then grades each assignment exactly as tests/test_grading.py's
fixture does (release; the solution, the blank release and every wrong answer of
tests/wrong_answers.py submitted; sandboxed autograding with that cache; feedback), one
assignment after another. Reports, per assignment, the seconds of the cold solution run
and of its grading, and per student the seconds its notebook ran in the grading kernel
(from the cells' execution times) and any cell stopped at the time limit.

    python benchmarks/round_trip_time.py
    python benchmarks/round_trip_time.py 08_variational_autoencoder

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autoencoder_lib.instructor import warm_cache
from autoencoder_lib.instructor.backend_run import cell_times
from autoencoder_lib.instructor.course import ROOT, assignments, notebooks
from autoencoder_lib.instructor.tasks import cores

# The test suite's environment (tests/conftest.py): fast mode, claims checked.
for name, value in {
    "AUTOENCODER_FAST": "1",
    "AUTOENCODER_STRICT_CLAIMS": "1",
    "MPLBACKEND": "Agg",
    "TF_CPP_MIN_LOG_LEVEL": "3",
}.items():
    os.environ.setdefault(name, value)
sys.path.insert(0, str(ROOT / "tests"))
from test_grading import _grade  # noqa: E402


def notebook_seconds(path: Path) -> float:
    """Seconds from the first cell's start to the last cell's end, as the kernel ran it."""
    times = cell_times(nbformat.read(path, as_version=4))
    return times[-1][2] - times[0][1] if times else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="default: every assignment")
    chosen = parser.parse_args(argv).assignments or assignments()
    models = Path(tempfile.mkdtemp(prefix="round-trip-models-"))
    results = {}
    for assignment in chosen:
        start = time.perf_counter()
        for notebook in notebooks(assignment):
            warm_cache.warm(notebook, models)
        cold = time.perf_counter() - start
        root = Path(tempfile.mkdtemp(prefix=f"round-trip-{assignment}-"))
        start = time.perf_counter()
        course, _ = _grade(root, assignment, models, warmed=lambda notebook: True)
        graded = time.perf_counter() - start
        students = {
            path.parts[-3]: round(notebook_seconds(path), 1)
            for path in sorted((root / "autograded").glob(f"*/{assignment}/*.ipynb"))
        }
        stopped = [
            line.split()[0]
            for line in course.report.splitlines()
            if "time limit" in line
        ]
        results[assignment] = {
            "solution_cold_s": round(cold, 1),
            "grading_s": round(graded, 1),
            "students": students,
            "stopped_at_the_limit": stopped,
        }
        print(f"{assignment}: solution run cold {cold:.0f} s; grading {graded:.0f} s "
              f"for {len(students)} submissions, their notebooks "
              f"{sum(students.values()):.0f} s in all")  # fmt: skip
        for student, seconds in sorted(students.items(), key=lambda kv: -kv[1]):
            flag = "  (a cell stopped at the time limit)" if student in stopped else ""
            print(f"    {student:<55}{seconds:>7.1f} s{flag}")
    print(
        f"all: solutions cold {sum(r['solution_cold_s'] for r in results.values()):.0f} s, "
        f"grading {sum(r['grading_s'] for r in results.values()):.0f} s, one assignment "
        f"at a time, on {platform.machine()} with {cores()} cores"
    )
    print(
        json.dumps(
            {"machine": platform.machine(), "cores": cores(), "results": results}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
