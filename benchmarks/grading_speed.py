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
    python benchmarks/grading_speed.py --copies 2 --process-cost

``--sandbox-cost`` grades each assignment without the sandbox (``--unsandboxed``) and
with it, one student at a time, in ``--rounds`` pairs of alternating order, and reports
what the sandbox adds per student. ``--model-cache`` grades each assignment one student
at a time without the trained-model cache, then again after ``make warm-cache``, and
reports both (and whether the scores are the same). ``--process-cost`` grades each
assignment one student at a time with its test cells in the kernel (the design before
``instructor/grader.py``: the throwaway course's source notebooks do not opt in, so the
tests run behind the in-kernel guard) and in the grader's process (as the course grades),
in the same run, and reports both (and whether the scores are the same).
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

from autoencoder_lib.instructor.course import ROOT, fill, solution_answers, venv_first
from autoencoder_lib.instructor.course import assignments as course_assignments
from autoencoder_lib.instructor.tasks import cores


def _env(model_cache: bool = False):
    env = dict(os.environ, AUTOENCODER_FAST="1")
    venv_first(env)
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
    in_kernel: bool = False,
) -> dict:
    """Grade ``copies`` submissions; with ``model_cache``, after ``make warm-cache``
    (its time is reported apart: an instructor warms once per assignment)."""
    course = workdir / (name or assignment)
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    if in_kernel:
        # Without the opt-in the tests run in the kernel, behind the guard.
        for source in (course / "solutions" / assignment).glob("*.ipynb"):
            nb = nbformat.read(source, as_version=4)
            nb.metadata.pop("autoencoder", None)
            nbformat.write(nb, source)
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


def paired_runs(
    assignments: list[str], copies: int, modes: dict[str, dict], rounds: int = 1
) -> tuple[dict[str, dict[str, list[dict]]], bool]:
    """Grade every assignment once per mode and round, each mode in a fresh course.

    ``modes`` maps a name to ``grade_assignment``'s arguments (``extra``, and
    ``model_cache``). Rounds alternate the order (A B, B A, ...), so that a machine that
    warms up or slows down over the run weighs on both sides alike. Returns the results
    by assignment and mode, and whether every submission was graded.
    """
    results: dict[str, dict[str, list[dict]]] = {}
    complete = True
    names = list(modes)
    with tempfile.TemporaryDirectory() as tmp:
        for assignment in assignments:
            results[assignment] = {name: [] for name in names}
            for r in range(rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    options = modes[name]
                    result = grade_assignment(
                        assignment, copies, Path(tmp), *options.get("extra", ()),
                        name=f"{assignment}-{name}-{r}",
                        model_cache=options.get("model_cache", False),
                        in_kernel=options.get("in_kernel", False),
                    )  # fmt: skip
                    results[assignment][name].append(result)
                    complete &= result["graded"] == copies
                    print(
                        f"{assignment:<32} round {r + 1} {name:<14} "
                        f"{result['seconds_per_submission']:>6} s per submission "
                        f"({result['graded']}/{copies} graded)",
                        flush=True,
                    )
    return results, complete


def _seconds(results, mode: str) -> float:
    return sum(r["seconds"] for by_mode in results.values() for r in by_mode[mode])


def _host() -> str:
    return f"{platform.machine()}, {cores()} CPU cores"


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
        "--process-cost",
        action="store_true",
        help="grade each assignment with its tests in the kernel, then in the grader",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="paired runs per assignment, in alternating order (--sandbox-cost: use 2)",
    )
    args = parser.parse_args()
    assignments = args.assignments or course_assignments()
    if args.sandbox_cost:
        sandbox_cost(assignments, args.copies, args.rounds)
    elif args.model_cache:
        model_cache_gain(assignments, args.copies, args.rounds)
    elif args.process_cost:
        process_cost(assignments, args.copies, args.rounds)
    else:
        parallel_speedup(assignments, args.copies, args.workers, args.rounds)


def parallel_speedup(assignments, copies: int, workers: int, rounds: int) -> None:
    """One student at a time against ``workers`` at once, and what that projects to."""
    modes = {
        "serial": {"extra": ("--workers=1",)},
        "parallel": {"extra": (f"--workers={workers}",)},
    }
    results, complete = paired_runs(assignments, copies, modes, rounds)
    serial_s, parallel_s = _seconds(results, "serial"), _seconds(results, "parallel")
    speedup = serial_s / parallel_s
    students = copies * rounds
    # Larger machines: each core is assumed to add what each core added here.
    per_core = speedup / workers
    projection = {
        f"{n}_students_{c}_cores_h": round(
            n * serial_s / students / (c * per_core) / 3600, 2
        )
        for n in (100, 1000)
        for c in sorted({cores(), 16, 64})
    }
    print(
        json.dumps(
            {
                "host": _host(),
                "copies": copies,
                "rounds": rounds,
                "workers": workers,
                "serial_s_per_student": round(serial_s / students, 1),
                "parallel_s_per_student": round(parallel_s / students, 1),
                "speedup": round(speedup, 2),
                "projected_hours": projection,
                "assignments": {
                    a: {m: [r["seconds"] for r in runs] for m, runs in by_mode.items()}
                    for a, by_mode in results.items()
                },
            }
        )
    )
    if not complete:
        sys.exit("some submissions were not graded: see the reports above")


def sandbox_cost(assignments: list[str], copies: int, rounds: int) -> None:
    """Unsandboxed against sandboxed, one student at a time."""
    modes = {
        "unsandboxed": {"extra": ("--unsandboxed", "--workers=1")},
        "sandboxed": {"extra": ("--workers=1",)},
    }
    results, complete = paired_runs(assignments, copies, modes, rounds)
    bare, boxed = _seconds(results, "unsandboxed"), _seconds(results, "sandboxed")
    students = copies * rounds
    print(
        json.dumps(
            {
                "host": _host(),
                "copies": copies,
                "rounds": rounds,
                "unsandboxed_s_per_student": round(bare / students, 1),
                "sandboxed_s_per_student": round(boxed / students, 1),
                "sandbox_cost_percent": round(100 * (boxed - bare) / bare, 1),
                "assignments": {
                    a: {
                        f"{m}_s": [r["seconds"] for r in runs]
                        for m, runs in by_mode.items()
                    }
                    for a, by_mode in results.items()
                },
            }
        )
    )
    if not complete:
        sys.exit("some submissions were not graded: see the reports above")


def _scores(result):
    return [line.split()[:5] for line in result["report"] if "graded" in line]


def _same_scores(results, reference: str) -> dict[str, bool]:
    return {
        a: all(
            _scores(r) == _scores(by_mode[reference][0])
            for runs in by_mode.values()
            for r in runs
        )
        for a, by_mode in results.items()
    }


def _compare_modes(results, complete: bool, copies: int, rounds: int, **extra) -> None:
    """Print two modes' seconds per student, their ratio and whether every assignment
    got the same scores in both; exit non-zero if not, or if a submission was not
    graded."""
    before_mode, after_mode = list(next(iter(results.values())))
    same = _same_scores(results, before_mode)
    before, after = _seconds(results, before_mode), _seconds(results, after_mode)
    students = copies * rounds
    print(
        json.dumps(
            {
                "host": _host(),
                "copies": copies,
                "rounds": rounds,
                f"{before_mode}_s_per_student": round(before / students, 1),
                f"{after_mode}_s_per_student": round(after / students, 1),
                "ratio": round(after / before, 3),
                **extra,
                "assignments": {
                    a: {
                        **{
                            f"{m}_s": [r["seconds"] for r in runs]
                            for m, runs in by_mode.items()
                        },
                        "same_scores": same[a],
                    }
                    for a, by_mode in results.items()
                },
            }
        )
    )
    if not complete or not all(same.values()):
        sys.exit("some submissions were not graded, or scores differ: see above")


def process_cost(assignments: list[str], copies: int, rounds: int) -> None:
    """One student at a time, the tests in the kernel and then in the grader's process,
    both with the model cache warmed (as an instructor grades); the scores must agree."""
    modes = {
        "in_kernel": {
            "extra": ("--workers=1",),
            "model_cache": True,
            "in_kernel": True,
        },
        "in_grader": {"extra": ("--workers=1",), "model_cache": True},
    }
    results, complete = paired_runs(assignments, copies, modes, rounds)
    _compare_modes(results, complete, copies, rounds)


def model_cache_gain(assignments: list[str], copies: int, rounds: int) -> None:
    """One student at a time, without the model cache and then with the cache warmed
    from the solutions, in the same run; the scores must be the same."""
    modes = {
        "without_cache": {"extra": ("--workers=1",)},
        "with_cache": {"extra": ("--workers=1",), "model_cache": True},
    }
    results, complete = paired_runs(assignments, copies, modes, rounds)
    warming = sum(r["warm_cache_s"] for b in results.values() for r in b["with_cache"])
    _compare_modes(
        results, complete, copies, rounds, warm_cache_s=round(warming / rounds, 1)
    )


if __name__ == "__main__":
    main()
