"""The nbgrader round trip, on every assignment in solutions/.

A submission made of the solutions gets full marks on every autograded cell, the blank
release gets zero on each, written answers wait for a human, and each plausible wrong
answer of wrong_answers.py loses the marks of its exercise. Grading runs in fast mode
through nbgrader's own command line with the repository's nbgrader_config.py, after
warming the model cache from the solutions as an instructor does (make warm-cache).
"""

import hashlib
import html
import os
import re
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest
from nbgrader_cells import printed
from wrong_answers import WRONG_ANSWERS

from autoencoder_lib.config import MODEL_CACHE_DIR_ENV, MODEL_CACHE_ENV
from autoencoder_lib.instructor import sandbox, warm_cache
from autoencoder_lib.instructor.course import (
    RELEASE,
    SOLUTIONS,
    Course,
    assignments,
    fill,
    grade_cells,
    notebooks,
    solution_answers,
)
from autoencoder_lib.instructor.grading import MODEL_CACHE_FOLDER

NOISE_PROBE = "zz_noise_probe"


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _noise_probe_notebook():
    """A tiny assignment whose test cells write to stderr, to test the IgnorePattern set-up."""
    from nbformat.v4 import new_code_cell, new_notebook

    def graded(source, grade_id):
        cell = new_code_cell(source)
        cell.metadata["nbgrader"] = {
            "grade": True, "grade_id": grade_id, "locked": True, "points": 1,
            "schema_version": 3, "solution": False, "task": False,
        }  # fmt: skip
        return cell

    backend_line = (
        "import os\n"
        "os.write(2, b'E0000 00:00:1732000000.123456    2224 cuda_platform.cc:52] "
        "failed call to cuInit: INTERNAL: CUDA error\\n')\n"
        "assert True"
    )
    own_line = (
        "import sys\nsys.stderr.write('my own message on stderr\\n')\nassert True"
    )
    return new_notebook(
        cells=[graded(backend_line, "backend_noise"), graded(own_line, "own_stderr")],
        metadata={
            "kernelspec": {
                "name": "python3",
                "display_name": "Python 3",
                "language": "python",
            }
        },
    )


def _grade(root, assignment, models, warmed=lambda notebook: False):
    """Release, submit and autograde one assignment in its own temporary course, its
    model cache warmed from the solutions into ``models`` (unless ``warmed(notebook)``
    says that nbval's run of that solution filled it already)."""
    course = Course(root)
    if assignment == NOISE_PROBE:
        probe = course.root / "solutions" / NOISE_PROBE
        probe.mkdir()
        nbformat.write(_noise_probe_notebook(), probe / "probe.ipynb")
    submitted = {}
    release = course.release(assignment)
    # As an instructor does (make warm-cache): the solutions' models trained once, which
    # every student whose model is the solution's then loads instead of training.
    # Wrong models still train (and lose their marks), as in a real class.
    (course.root / MODEL_CACHE_FOLDER).symlink_to(models, target_is_directory=True)
    for source_path in notebooks(assignment, course.root / "solutions"):
        # The course's solutions are a copy of the repository's, which nbval runs.
        original = SOLUTIONS / source_path.relative_to(course.root / "solutions")
        if assignment != NOISE_PROBE and not warmed(original):
            warm_cache.warm(source_path, models)
        source_nb = nbformat.read(source_path, as_version=4)
        release_nb = nbformat.read(release / source_path.name, as_version=4)
        right = solution_answers(source_nb)
        students = {"solution": right, "blank": {}}
        for student, wrong in WRONG_ANSWERS.get(assignment, {}).items():
            students[student] = {**right, **wrong["replace"]}
        for student, answers in students.items():
            path = course.submit(
                student, assignment, source_path.name, fill(release_nb, answers)
            )
            submitted[path] = _sha(path)
    # The runner's solution check would grade the solution a second time: here it is
    # a student of its own, whose full marks test_solution_gets_full_marks asserts (the
    # check itself is tested in test_hostile_submissions). The probe's "solution" also
    # fails one test on purpose.
    # The suite switches the cache off for its own kernels; grading uses it, as by default.
    env = {**os.environ, MODEL_CACHE_ENV: "1"}
    env.pop(MODEL_CACHE_DIR_ENV, None)
    course.report = course.autograde(assignment, "--no-solution-check", env=env).stdout
    course.feedback(assignment)
    return course, submitted


# Each assignment is graded in its own course (own gradebook), so they can run side by
# side; grading kernels are mostly single-threaded start-up and small models.
GRADING_WORKERS = max(1, min(3, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory, solutions_model_cache, ran_under_nbval):
    """Every assignment released, submitted and autograded once; tests read the results."""
    jobs = [*assignments(), NOISE_PROBE]
    roots = {a: tmp_path_factory.mktemp(a) for a in jobs}
    with ThreadPoolExecutor(max_workers=GRADING_WORKERS) as pool:
        futures = {
            a: pool.submit(_grade, roots[a], a, solutions_model_cache, ran_under_nbval)
            for a in jobs
        }
        results = {a: future.result() for a, future in futures.items()}
    courses = {a: course for a, (course, _) in results.items()}
    submitted = {p: h for _, files in results.values() for p, h in files.items()}
    return courses, submitted


def _scores(courses, assignment):
    (path,) = notebooks(assignment)
    return path, courses[assignment].scores(assignment, path.stem)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignments())
def test_solution_gets_full_marks(graded_course, assignment):
    courses, _ = graded_course
    path, scores = _scores(courses, assignment)
    cells = grade_cells(nbformat.read(path, as_version=4))
    for grade_id, info in cells.items():
        if not info["grade"]:
            continue
        score = scores["solution"][grade_id]
        if info["cell_type"] == "code":
            assert score["auto"] == score["max"] > 0, (
                f"{grade_id}: the solution got {score}"
            )
        else:
            assert score["manual_needed"], (
                f"{grade_id}: the written answer is not flagged for a human"
            )


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignments())
def test_blank_release_gets_zero(graded_course, assignment):
    courses, _ = graded_course
    _, scores = _scores(courses, assignment)
    autograded = {k: v for k, v in scores["blank"].items() if v["auto"] is not None}
    assert autograded, "no autograded cells found"
    assert all(v["auto"] == 0 for v in autograded.values()), autograded


@pytest.mark.slow
@pytest.mark.parametrize(
    "assignment, student",
    [(a, s) for a in assignments() for s in WRONG_ANSWERS.get(a, {})],
)
def test_wrong_answers_lose_their_marks(graded_course, assignment, student):
    courses, _ = graded_course
    _, scores = _scores(courses, assignment)
    wrong = WRONG_ANSWERS[assignment][student]
    got = scores[student]
    for cell in wrong["loses"]:
        assert got[cell]["auto"] == 0, (
            f"{wrong['why']}: {cell} still scored {got[cell]}"
        )
    for cell in wrong["keeps"]:
        assert got[cell]["auto"] == got[cell]["max"], (
            f"{wrong['why']}: {cell} lost marks {got[cell]}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignments())
def test_honest_answers_are_not_flagged(graded_course, assignment):
    """The guard and the code scan see nothing in the solution, the blank release or
    the plausible wrong answers: flags are for cheating, and the report says so."""
    courses, _ = graded_course
    report = courses[assignment].report
    lines = [line for line in report.splitlines() if line.startswith("  ")]
    assert len(lines) == 2 + len(WRONG_ANSWERS.get(assignment, {})), report
    assert not [line for line in lines if "FLAGGED" in line], report
    if sandbox.unavailable() is None:
        assert "UNSANDBOXED" not in report, "graded outside the sandbox"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignments())
def test_the_solutions_models_are_loaded_from_the_warm_cache(graded_course, assignment):
    """Each real assignment's grading read the instructor's warm cache through the
    sandbox: the solution's trainings were loaded, and a model that differs from the
    solution's still trained (test_wrong_answers_lose_their_marks: it lost its marks)."""
    courses, _ = graded_course
    for path in notebooks(assignment):
        source = nbformat.read(path, as_version=4)
        fits = [
            call
            for cell in source.cells
            if cell.cell_type == "code"
            for call in re.findall(r"training\.fit\([^)]*\)", cell.source)
        ]
        if all("verbose=False" in call for call in fits):
            pytest.skip(f"{path.name} trains silently (verbose=False): no line to read")
        graded = courses[assignment].root / "autograded" / "solution" / assignment
        text = printed(nbformat.read(graded / path.name, as_version=4))
        assert "Loaded from the model cache" in text, f"{path.name} trained again"


@pytest.mark.slow
def test_every_assignment_has_wrong_answers():
    missing = [a for a in assignments() if not WRONG_ANSWERS.get(a)]
    assert not missing, (
        f"add plausible wrong answers to tests/wrong_answers.py for {missing}"
    )


@pytest.mark.slow
def test_solution_test_cells_print_nothing_on_stderr(graded_course):
    """Backend start-up noise must land nowhere near a graded cell."""
    courses, _ = graded_course
    for assignment in assignments():
        for path in notebooks(assignment):
            graded = nbformat.read(
                courses[assignment].root
                / "autograded"
                / "solution"
                / assignment
                / path.name,
                as_version=4,
            )
            for cell in graded.cells:
                if (
                    cell.metadata.get("nbgrader", {}).get("grade")
                    and cell.cell_type == "code"
                ):
                    streams = [o for o in cell.outputs if o.get("name") == "stderr"]
                    assert not streams, (
                        f"{cell.metadata['nbgrader']['grade_id']}: {streams}"
                    )


@pytest.mark.slow
def test_backend_noise_costs_no_marks_but_other_stderr_still_counts(graded_course):
    courses, _ = graded_course
    scores = courses[NOISE_PROBE].scores(NOISE_PROBE, "probe")["solution"]
    assert scores["backend_noise"]["auto"] == 1, "an absl log line on stderr cost marks"
    # nbgrader's rule stands for everything else: the pattern is not a blanket pass.
    assert scores["own_stderr"]["auto"] == 0


@pytest.mark.slow
def test_submissions_are_never_modified(graded_course):
    _, submitted = graded_course
    for path, digest in submitted.items():
        assert _sha(path) == digest, f"grading modified the student's file {path}"


def _hidden_lines(assignment):
    """Lines of the hidden tests that appear nowhere else: not in the release, nor in
    the answers (solutions, wrong-answer fixtures) a student's feedback shows."""
    (source_path,) = notebooks(assignment)
    pattern = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
    source = nbformat.read(source_path, as_version=4)
    release = nbformat.read(RELEASE / assignment / source_path.name, as_version=4)
    visible = "\n".join(
        [cell.source for cell in release.cells]
        + [re.sub(pattern, "", cell.source, flags=re.S) for cell in source.cells]
        + [
            code
            for wrong in WRONG_ANSWERS.get(assignment, {}).values()
            for code in wrong["replace"].values()
        ]
    )
    lines = set()
    for cell in source.cells:
        for block in re.findall(pattern, cell.source, re.S):
            lines.update(
                line.strip()
                for line in block.splitlines()
                if len(line.strip()) > 15 and line.strip() not in visible
            )
    return source_path.stem, lines


def _leaks(text, lines):
    plain = html.unescape(re.sub(r"<[^>]+>", "", text))
    return sorted(line for line in lines if line in plain)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", assignments())
def test_feedback_does_not_show_hidden_tests(graded_course, assignment):
    courses, _ = graded_course
    root = courses[assignment].root
    stem, lines = _hidden_lines(assignment)
    assert lines, "no hidden test lines found to look for"
    # The detector works: the autograded notebook itself holds the hidden tests.
    autograded = root / "autograded" / "solution" / assignment / f"{stem}.ipynb"
    assert _leaks(nbformat.writes(nbformat.read(autograded, as_version=4)), lines)
    students = ["solution", "blank", *WRONG_ANSWERS.get(assignment, {})]
    for student in students:
        page = root / "feedback" / student / assignment / f"{stem}.html"
        leaked = _leaks(page.read_text(), lines)
        assert not leaked, f"{student}'s feedback shows hidden test lines: {leaked[:3]}"
