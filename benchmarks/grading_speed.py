"""How long does autograding a class take, one student at a time and side by side?

For each assignment in solutions/, makes a throwaway course, releases the assignment,
submits N copies (solutions and blank releases alternating, the two ends of a class's
run time: full answers train every model, blanks fail fast), and grades them with
``python -m autoencoder_lib.instructor.grading`` exactly as ``make autograde`` does
(fast mode, the sandbox, the solution check), twice, one after the other on an
otherwise idle machine: with ``--workers=1``, then with ``--workers=W`` (default: one
per core). It reports seconds per student for each, the speedup, and the projected
time for a class of 100 and of 1,000 on this machine and on larger ones.

    python benchmarks/grading_speed.py --copies 6 --assignments 01_basic_autoencoder
    python benchmarks/grading_speed.py --copies 4
    python benchmarks/grading_speed.py --copies 4 --sandbox-cost --rounds 2
    python benchmarks/grading_speed.py --copies 2 --model-cache

``--sandbox-cost`` grades each assignment without the sandbox (``--unsandboxed``) and
with it, one student at a time, in ``--rounds`` pairs of alternating order, and reports
what the sandbox adds per student. ``--model-cache`` grades each assignment one student
at a time without the trained-model cache, then again after ``make warm-cache``, and
reports both (and whether the scores are the same).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autoencoder_lib.instructor.course import ROOT, fill, solution_answers
from autoencoder_lib.instructor.course import assignments as course_assignments
from autoencoder_lib.instructor.tasks import cores


def _env(model_cache: bool = False):
    env = dict(os.environ, AUTOENCODER_FAST="1")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["AUTOENCODER_MODEL_CACHE"] = "1" if model_cache else "0"
    env.pop("AUTOENCODER_MODEL_CACHE_DIR", None)
    env.pop("AUTOENCODER_MODEL_CACHE_SHARED", None)
    return env


def grade_assignment(
    assignment: str,
    copies: int,
    workdir: Path,
    *extra: str,
    name: str = "",
    model_cache: bool = False,
) -> dict:
    """Grade ``copies`` submissions; with ``model_cache``, after ``make warm-cache``
    (its time is reported apart: an instructor warms once per assignment)."""
    course = workdir / (name or assignment)
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", assignment],
        cwd=course, env=_env(), check=True, capture_output=True,
    )  # fmt: skip
    for source in sorted((course / "solutions" / assignment).glob("*.ipynb")):
        source_nb = nbformat.read(source, as_version=4)
        release_nb = nbformat.read(course / "course" / assignment / source.name, 4)
        for i in range(copies):
            answers = solution_answers(source_nb) if i % 2 == 0 else {}
            folder = course / "submitted" / f"student{i:03d}" / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(fill(release_nb, answers), folder / source.name)
    warm_s = 0.0
    if model_cache:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "autoencoder_lib.instructor.warm_cache",
             assignment, "--course", str(course)],
            cwd=course, env=_env(True), check=True, capture_output=True,
        )  # fmt: skip
        warm_s = time.perf_counter() - start
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "autoencoder_lib.instructor.grading", assignment,
         *extra],
        cwd=course, env=_env(model_cache), capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    # Report lines: "  <student>  graded  <score> / <max>  <notes>".
    graded = sum(
        1
        for line in result.stdout.splitlines()
        if line.startswith("  ") and line.split()[1:2] == ["graded"]
    )
    return {
        "assignment": assignment,
        "submissions": copies,
        "graded": graded,
        "seconds": round(seconds, 1),
        "seconds_per_submission": round(seconds / copies, 1),
        "warm_cache_s": round(warm_s, 1),
        "report": result.stdout.strip().splitlines()[1:],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--copies", type=int, default=4, help="submissions per assignment"
    )
    parser.add_argument("--assignments", nargs="*", default=None)
    parser.add_argument(
        "--workers",
        type=int,
        default=cores(),
        help="students graded at once in the parallel run (default: one per core)",
    )
    parser.add_argument(
        "--sandbox-cost",
        action="store_true",
        help="grade each assignment without and with the sandbox, one at a time",
    )
    parser.add_argument(
        "--model-cache",
        action="store_true",
        help="grade each assignment without the model cache, then after warming it",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="with --sandbox-cost: paired runs, in alternating order",
    )
    args = parser.parse_args()
    assignments = args.assignments or course_assignments()
    if args.sandbox_cost:
        sandbox_cost(assignments, args.copies, args.rounds)
        return
    if args.model_cache:
        model_cache_gain(assignments, args.copies)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in assignments:
            serial = grade_assignment(
                assignment, args.copies, Path(tmp), "--workers=1",
                name=f"{assignment}-serial",
            )  # fmt: skip
            parallel = grade_assignment(
                assignment, args.copies, Path(tmp), f"--workers={args.workers}",
                name=f"{assignment}-parallel",
            )  # fmt: skip
            rows.append((assignment, serial, parallel))
            print(
                f"{assignment:<28} 1 worker {serial['seconds_per_submission']:>6} s, "
                f"{args.workers} workers {parallel['seconds_per_submission']:>6} s "
                f"per student: {serial['seconds'] / parallel['seconds']:.2f}x "
                f"({serial['graded']}/{args.copies} and "
                f"{parallel['graded']}/{args.copies} graded)",
                flush=True,
            )
    serial_s = sum(r[1]["seconds"] for r in rows)
    parallel_s = sum(r[2]["seconds"] for r in rows)
    speedup = serial_s / parallel_s
    per_student = parallel_s / args.copies
    # Larger machines: each core is assumed to add what each core added here.
    per_core = speedup / args.workers
    projection = {
        f"{n}_students_{c}_cores_h": round(
            n * serial_s / args.copies / (c * per_core) / 3600, 2
        )
        for n in (100, 1000)
        for c in sorted({cores(), 16, 64})
    }
    print(
        json.dumps(
            {
                "host": f"{platform.machine()}, {cores()} CPU cores",
                "copies": args.copies,
                "workers": args.workers,
                "serial_s_per_student": round(serial_s / args.copies, 1),
                "parallel_s_per_student": round(per_student, 1),
                "speedup": round(speedup, 2),
                "projected_hours": projection,
                "assignments": {
                    a: {"serial_s": s["seconds"], "parallel_s": p["seconds"]}
                    for a, s, p in rows
                },
            }
        )
    )
    if any(
        r[1]["graded"] != args.copies or r[2]["graded"] != args.copies for r in rows
    ):
        sys.exit("some submissions were not graded: see the reports above")


def sandbox_cost(assignments: list[str], copies: int, rounds: int) -> None:
    """Unsandboxed against sandboxed, one student at a time. With several rounds the
    order alternates (bare, boxed, boxed, bare, ...), so that a machine that warms up
    or slows down over the run weighs on both sides alike."""
    totals = {"bare": 0.0, "boxed": 0.0}
    per_assignment = {}
    incomplete = False
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in assignments:
            seconds = {"bare": [], "boxed": []}
            for r in range(rounds):
                order = ("bare", "boxed") if r % 2 == 0 else ("boxed", "bare")
                for mode in order:
                    extra = ("--unsandboxed",) if mode == "bare" else ()
                    result = grade_assignment(
                        assignment, copies, Path(tmp), *extra, "--workers=1",
                        name=f"{assignment}-{mode}-{r}",
                    )  # fmt: skip
                    seconds[mode].append(result["seconds"])
                    incomplete |= result["graded"] != copies
                    print(
                        f"{assignment:<28} round {r + 1} {mode:<5} "
                        f"{result['seconds_per_submission']:>6} s per submission "
                        f"({result['graded']}/{copies} graded)",
                        flush=True,
                    )
            totals["bare"] += sum(seconds["bare"])
            totals["boxed"] += sum(seconds["boxed"])
            per_assignment[assignment] = {
                "unsandboxed_s": seconds["bare"],
                "sandboxed_s": seconds["boxed"],
            }
    students = copies * rounds
    print(
        json.dumps(
            {
                "host": f"{platform.machine()}, {cores()} CPU cores",
                "copies": copies,
                "rounds": rounds,
                "unsandboxed_s_per_student": round(totals["bare"] / students, 1),
                "sandboxed_s_per_student": round(totals["boxed"] / students, 1),
                "sandbox_cost_percent": round(
                    100 * (totals["boxed"] - totals["bare"]) / totals["bare"], 1
                ),
                "assignments": per_assignment,
            }
        )
    )
    if incomplete:
        sys.exit("some submissions were not graded: see the reports above")


def model_cache_gain(assignments: list[str], copies: int) -> None:
    """One student at a time, without the model cache and then with the cache warmed
    from the solutions, in the same run."""
    rows = {}
    incomplete = False
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in assignments:
            cold = grade_assignment(
                assignment, copies, Path(tmp), "--workers=1", name=f"{assignment}-cold"
            )
            warm = grade_assignment(
                assignment, copies, Path(tmp), "--workers=1",
                name=f"{assignment}-warm", model_cache=True,
            )  # fmt: skip
            incomplete |= cold["graded"] != copies or warm["graded"] != copies
            same = [line.split()[:5] for line in cold["report"] if "graded" in line]
            cached = [line.split()[:5] for line in warm["report"] if "graded" in line]
            rows[assignment] = {
                "without_cache_s": cold["seconds"],
                "with_cache_s": warm["seconds"],
                "warm_cache_s": warm["warm_cache_s"],
                "same_scores": same == cached,
            }
            print(
                f"{assignment:<32} without cache {cold['seconds_per_submission']:>6} s, "
                f"with it {warm['seconds_per_submission']:>6} s per submission "
                f"(warming: {warm['warm_cache_s']:.0f} s; same scores: {same == cached})",
                flush=True,
            )
    cold_s = sum(r["without_cache_s"] for r in rows.values())
    warm_s = sum(r["with_cache_s"] for r in rows.values())
    print(
        json.dumps(
            {
                "host": f"{platform.machine()}, {cores()} CPU cores",
                "copies": copies,
                "without_cache_s_per_student": round(cold_s / copies, 1),
                "with_cache_s_per_student": round(warm_s / copies, 1),
                "ratio": round(warm_s / cold_s, 3),
                "warm_cache_s": round(sum(r["warm_cache_s"] for r in rows.values()), 1),
                "assignments": rows,
            }
        )
    )
    if incomplete or not all(r["same_scores"] for r in rows.values()):
        sys.exit("some submissions were not graded, or scores differ: see above")


if __name__ == "__main__":
    main()
