"""Autograde a class, one student at a time in private, and report what happened.

    python -m autoencoder_lib.instructor.grading [ASSIGNMENT ...] [--unsandboxed]

This is what ``make autograde`` runs. For each assignment with submissions in
``submitted/``:

1. the submissions check (:mod:`.submissions`) runs first; a student whose file
   nbgrader cannot grade (not a notebook, truncated, metadata stripped by Colab, a
   duplicated or added graded cell, nothing submitted) is left out, with the reason;
2. each other student is graded by ``nbgrader autograde`` in a private course folder
   of their own (a copy of their submission and a gradebook holding only the
   assignment), with every kernel in the sandbox (:mod:`.sandbox`) and the test
   cells' machinery guarded (:mod:`.guard`). One student's notebook can only fail
   that student's run;
3. the trusted process merges each result into the course's gradebook (whatever
   ``db_url`` nbgrader is configured with) and copies the graded notebook into
   ``autograded/``; submissions whose cells reach for the interpreter's machinery, or
   whose run tripped the guard, are flagged in the gradebook for review;
4. it checks, by checksum, that no submitted file and no other student's gradebook
   rows changed while it graded;
5. a table says, per student: graded (score, and points waiting for grading by hand)
   or not graded with the reason, any cell that hit a limit, and any flag.

The parts, by concern: :mod:`.class_runner` (one assignment for a class: the solution
check, the private runs, the merges), :mod:`.tasks` (one student's run), :mod:`.records`
(the gradebook merge, the checksums, the records an interrupted run resumes from),
:mod:`.report` (what the table says), :mod:`.code_scan` (answer cells that reach for the
grader's machinery), :mod:`.executors` (threads, Dask, Slurm), and this module, the
command line. Test cells of the notebooks that say so run in the grader's process
(:mod:`.grader`).

Nothing under ``submitted/`` is written. Exit status 1 when some student needs the
instructor's attention, 2 when grading cannot start, 0 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .class_runner import CANARY, MODEL_CACHE_FOLDER, autograde
from .code_scan import suspicious_code
from .course import assignments as course_assignments
from .executors import SLURM_WAIT_ENV, dask_executor, default_workers, slurm_executor
from .records import course_config, file_digests, gradebook_digests, merge, verify
from .report import Outcome, limits_line

# Other code and the tests import these from here (the command's module).
__all__ = [
    "MODEL_CACHE_FOLDER",
    "CANARY",
    "autograde",
    "suspicious_code",
    "gradebook_digests",
    "file_digests",
    "merge",
    "verify",
    "course_config",
    "Outcome",
    "default_workers",
    "SLURM_WAIT_ENV",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m autoencoder_lib.instructor.grading",
        description="Autograde submitted/ (what `make autograde` runs).",
    )
    parser.add_argument("assignments", nargs="*")
    parser.add_argument(
        "--unsandboxed",
        action="store_true",
        help="grade without bubblewrap (every report line says so)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="students graded at once on this machine (default: one per core, as "
        "many as memory holds)",
    )
    parser.add_argument(
        "--scheduler",
        help="grade on the Dask cluster whose scheduler is at this address "
        "(tcp://host:8786) instead of this machine",
    )
    parser.add_argument(
        "--slurm",
        type=int,
        metavar="JOBS",
        help="grade on Dask workers started as this many Slurm jobs (dask-jobqueue; "
        "partition, account and walltime from Dask's jobqueue.slurm configuration)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="regrade submissions graded before and unchanged since",
    )
    parser.add_argument(
        "--no-solution-check",
        action="store_true",
        help="write grades even if the solution itself loses marks when graded here",
    )
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    sandboxed = not options.unsandboxed
    if options.scheduler and options.slurm:
        parser.error("--scheduler and --slurm are two clusters: choose one")
    if options.slurm is not None and options.slurm < 1:
        parser.error("--slurm needs at least one job")
    args = options.assignments
    course = Path.cwd()
    submitted = course / "submitted"
    if not submitted.is_dir():
        print(
            "No submitted/ folder: collect submissions first (docs/instructors.md, Grading)."
        )
        return 1
    remote = bool(options.scheduler or options.slurm)
    if sandboxed and not remote:
        from . import sandbox

        reason = sandbox.unavailable()
        if reason:
            print(
                f"Grading refused: {reason}. Student code would run with your "
                "permissions. Install bubblewrap, or grade without the sandbox "
                "knowingly: make autograde UNSANDBOXED=1."
            )
            return 2
    assignments = args or course_assignments(course / "solutions")
    client, executor = None, None
    if options.scheduler:
        client, executor = dask_executor(options.scheduler)
    elif options.slurm:
        client, executor = slurm_executor(options.slurm)
    workers = options.workers or default_workers()
    where = f"{workers} at a time"
    if options.scheduler:
        where = f"on {options.scheduler}"
    elif options.slurm:
        where = f"on {options.slurm} Slurm job(s)"
    attention = 0
    try:
        for assignment in assignments:
            if not any(submitted.glob(f"*/{assignment}")):
                continue
            mode = "sandboxed" if sandboxed else "UNSANDBOXED"
            print(
                f"{assignment}  (limits: {limits_line()}; fast mode; {mode}; {where})",
                flush=True,
            )
            try:
                outcomes = autograde(
                    course,
                    assignment,
                    sandboxed=sandboxed,
                    workers=workers,
                    check_solution=not options.no_solution_check,
                    executor=executor,
                    force=options.force,
                )
            except RuntimeError as error:
                print(f"  grading of {assignment} stopped: {error}")
                attention += 1
                continue
            for outcome in outcomes:
                print(outcome.line(), flush=True)
                attention += outcome.needs_look()
    except KeyboardInterrupt:
        print(
            "Interrupted. Every student merged so far is in the gradebook; run the "
            "same command again to grade only the rest."
        )
        return 130
    finally:
        if client is not None:
            client.close()
    print(f"{attention} submission(s) need a look." if attention else "All graded.")
    return 1 if attention else 0


if __name__ == "__main__":
    sys.exit(main())
