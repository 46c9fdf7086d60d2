"""A class of hostile and broken submissions: grades do not move, nothing is lost.

A tiny assignment (three one-line exercises, no Keras) keeps this fast; the limits,
the sandbox, the guard and the report are the ones `make autograde` uses on the
course's notebooks (`python -m autoencoder_lib.instructor.grading`). Each student is
one attack or one breakage with its expected verdict; the good students must be graded
right, and no file outside the grading kernels' scratch space may change.
"""

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader_cells import nbgrader_cell
from needs import in_ci, missing

from autoencoder_lib.instructor import sandbox
from autoencoder_lib.instructor.course import ROOT, Course

ASSIGNMENT = "zz_hostile"
GOOD_DOUBLE = "def double(x):\n    return 2 * x"
GOOD_SQUARE = "def square(x):\n    return x * x"
GOOD_HALVE = "def halve(x):\n    return np.asarray(x) / 2"
TOKEN = uuid.uuid4().hex[:12]  # names the files attacks try to plant
HOST_PLANTS = [
    Path("/tmp") / f"planted-{TOKEN}",
    Path.home() / f"planted-{TOKEN}",
    Path(sysconfig.get_paths()["purelib"]) / f"planted-{TOKEN}.pth",
    ROOT / f"planted-{TOKEN}",
]

# What a hostile page would run in the instructor's browser: it marks the page.
ACTIVE_HTML = (
    "<script>window.__pwned = 1; document.title = 'PWNED'</script>"
    '<img src=x onerror="window.__pwned = 1">'
)
ACTIVE_JS = "window.__pwned = 1; document.title = 'PWNED';"
ACTIVE_MARKDOWN = (
    "My answer <script>window.__pwned = 1</script>\n\n"
    '<img src=x onerror="window.__pwned = 1">\n\n'
    "[click me](javascript:window.__pwned=1)\n\n```mermaid\ngraph TD; A-->B\n```"
)
# Files a submission leaves beside its notebook: the grader's own modules, a config
# that IPython would read from the working folder, a module named like numpy.
PLANTED_MODULES = {
    "autoencoder_lib/__init__.py": "",
    "autoencoder_lib/instructor/__init__.py": "",
    "autoencoder_lib/instructor/limits.py": "def enter_workdir(path):\n    pass\n",
    "autoencoder_lib/instructor/guard.py": (
        "import json\ndef install(bindings):\n    pass\n"
        "def check(nonce):\n    return json.dumps({'nonce': nonce, 'found': []})\n"
    ),
    "ipython_kernel_config.py": (
        "c.InteractiveShellApp.exec_lines = "
        "['import numpy; numpy.allclose = lambda *a, **k: True']\n"
    ),
    "ipython_config.py": (
        "c.InteractiveShellApp.exec_lines = "
        "['import numpy; numpy.allclose = lambda *a, **k: True']\n"
    ),
}

# In CI the tests run, and the class fixture fails with the reason (tests/needs.py).
needs_sandbox = pytest.mark.skipif(
    sandbox.unavailable() is not None and not in_ci(),
    reason=f"no sandbox here: {sandbox.unavailable()}",
)


# The tests run in the grader's process (instructor/grader.py): they reach the student's
# work only through `student`, as data.
SETUP = "import numpy as np\nfrom autoencoder_lib import answers\n\nstudent = answers.of(globals())"
HIDDEN_LINE = 'student.call("double", -3)'


def _source_notebook():
    setup = nbgrader_cell(SETUP, "setup")
    setup.metadata["autoencoder"] = {"grader": "setup"}
    nb = new_notebook(
        cells=[
            setup,
            nbgrader_cell(
                "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n"
                "    ### END SOLUTION",
                "double",
                solution=True,
            ),
            nbgrader_cell(
                'assert student.call("double", 2) == 4\n### BEGIN HIDDEN TESTS\n'
                f"assert {HIDDEN_LINE} == -6\n### END HIDDEN TESTS",
                "test_double",
                points=1,
            ),
            nbgrader_cell(
                "def square(x):\n    ### BEGIN SOLUTION\n    return x * x\n"
                "    ### END SOLUTION",
                "square",
                solution=True,
            ),
            nbgrader_cell(
                'assert student.call("square", 3) == 9\n### BEGIN HIDDEN TESTS\n'
                'assert student.call("square", -2) == 4\n### END HIDDEN TESTS',
                "test_square",
                points=1,
            ),
            nbgrader_cell(
                "def halve(x):\n    ### BEGIN SOLUTION\n    return np.asarray(x) / 2\n"
                "    ### END SOLUTION",
                "halve",
                solution=True,
            ),
            nbgrader_cell(
                'result = student.call("halve", np.array([2.0, 5.0]))\n'
                "assert np.allclose(result, [1.0, 2.5])\n### BEGIN HIDDEN TESTS\n"
                'result = student.call("halve", np.array([-4.0]))\n'
                "assert np.allclose(result, [-2.0])\n### END HIDDEN TESTS",
                "test_halve",
                points=1,
            ),
        ]
    )
    nb.metadata["autoencoder"] = {"grader": "process"}
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _release_tiny(course, source_nb=None):
    """Put the tiny assignment (or ``source_nb``) in the course; its release."""
    source = course.root / "solutions" / ASSIGNMENT
    source.mkdir()
    nbformat.write(source_nb or _source_notebook(), source / "hostile.ipynb")
    return nbformat.read(course.release(ASSIGNMENT) / "hostile.ipynb", 4)


def _answered(release, double=GOOD_DOUBLE, square=GOOD_SQUARE, halve=GOOD_HALVE):
    nb = copy.deepcopy(release)
    nb.cells[1].source = double
    nb.cells[3].source = square
    nb.cells[5].source = halve
    return nb


def _attacks(course_root: Path) -> dict[str, dict]:
    """student -> the code of their `double` answer (or a whole notebook change),
    and the verdict the grader must reach."""
    root = str(course_root)
    find_source = f"""
import json, os, pathlib
here, found = pathlib.Path.cwd(), None
for folder in [here, *here.parents, pathlib.Path({root!r}), pathlib.Path({str(ROOT)!r})]:
    path = folder / "solutions" / "{ASSIGNMENT}" / "hostile.ipynb"
    if path.is_file():
        found = path
if found:
    for cell in json.loads(found.read_text())["cells"]:
        exec("".join(cell["source"]).replace("### BEGIN SOLUTION", ""))
    print("".join(json.loads(found.read_text())["cells"][2]["source"]))
"""
    tamper = f"""
import sqlite3, pathlib
for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents, pathlib.Path({root!r})]:
    db = folder / "gradebook.db"
    if db.is_file():
        con = sqlite3.connect(db)
        con.execute("update grade set auto_score = 28, manual_score = 28")
        con.execute("update submitted_notebook set flagged = 0")
        con.commit()
    for other in folder.glob("submitted/*/{ASSIGNMENT}/hostile.ipynb"):
        other.write_text("{{}}")
    for other in folder.glob("autograded/*/{ASSIGNMENT}/hostile.ipynb"):
        other.write_text("{{}}")
"""
    plant = "\n".join(
        f"try:\n    open({str(p)!r}, 'w').write('import os')\nexcept OSError as e:\n"
        f"    print(type(e).__name__)"
        for p in HOST_PLANTS + [course_root / "nbgrader_config.py"]
    )
    return {
        "reads_solutions": {
            "double": find_source,
            "expect": ("graded  2 / 3", None),
        },
        "tampers_gradebook": {
            "double": tamper + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", "FLAGGED for review"),
        },
        "plants_files": {
            "double": plant + "\n" + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", None),
        },
        "patches_allclose": {
            "halve": "np.allclose = lambda *a, **k: True\ndef halve(x):\n    return x",
            "expect": ("graded  2 / 3", "numpy.allclose was replaced"),
        },
        "patches_during_test": {
            "halve": "def halve(x):\n    np.allclose = lambda *a, **k: True\n"
            "    return x",
            "expect": ("graded  2 / 3", "during test_halve: numpy.allclose"),
        },
        "rebinds_np": {
            "halve": "class Fake:\n    def __getattr__(self, name):\n"
            "        return lambda *a, **k: True\n"
            "np = Fake()\ndef halve(x):\n    return x",
            "expect": ("graded  2 / 3", "no longer refers to numpy"),
        },
        "input_transformer": {
            "double": "get_ipython().input_transformers_cleanup.append(\n"
            "    lambda lines: [l.replace('assert', 'pass #') for l in lines])",
            "expect": ("graded  2 / 3", "input_transformers_cleanup was changed"),
        },
        "custom_exception_handler": {
            "double": "get_ipython().set_custom_exc((Exception,), "
            "lambda *a, **k: None)",
            "expect": ("graded  2 / 3", "shell.custom_exceptions was replaced"),
        },
        "leaks_hidden_tests": {
            "double": "import linecache, sys\ndef double(x):\n"
            "    caller = sys._getframe(1).f_code.co_filename\n"
            "    print(''.join(linecache.getlines(caller)))\n    return 2 * x",
            "expect": ("graded  3 / 3", "reads interpreter frames"),
        },
        "trace_function": {
            "double": "import sys\nsys.settrace(lambda *a: None)\n" + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", "set a trace function"),
        },
        "leaves_process": {
            "double": "import subprocess\nsubprocess.Popen(['sleep', '4242'], "
            "start_new_session=True)\n" + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", None),
        },
        "fills_disk": {
            "double": "try:\n    with open('big', 'wb') as f:\n"
            "        for _ in range(3 * 1024):\n            f.write(b'x' * 2**20)\n"
            "except OSError as error:\n    print(error)\n" + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", "filled its 64 MiB of disk"),
        },
        "big_images": {
            "double": "import base64, os\nfrom IPython.display import Image, display\n"
            "png = base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA"
            "DUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')\n"
            "for _ in range(4):\n    display(Image(data=png + os.urandom(3_000_000)))\n"
            + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", "printed too much; its output was cut"),
        },
        # Verdicts are decided in the grader's process, from data: an object that
        # equals anything, or a kernel-side channel that forges its replies, fails.
        "equals_everything": {
            "double": "class Yes:\n    def __eq__(self, other):\n        return True\n"
            "def double(x):\n    return Yes()",
            "expect": ("graded  2 / 3", None),
        },
        "forges_replies": {
            "double": "import json\nfrom autoencoder_lib import answers\n"
            "def forged(request, namespace):\n"
            "    return json.dumps({'value': answers.encode(True)})\n"
            "answers.respond.__code__ = forged.__code__\n" + GOOD_DOUBLE,
            "expect": ("graded  0 / 3", None),
        },
        # Limits are set from outside the kernel: none of these can lift them.
        "lifts_memory_limit": {
            "double": "import resource\ntry:\n    resource.setrlimit(resource.RLIMIT_DATA,"
            " (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
            "except (ValueError, OSError) as error:\n    print('refused:', error)\n"
            "hog = np.ones(2 * 2**30 // 8)\n" + GOOD_DOUBLE,
            "expect": ("graded  2 / 3", "hit the 1 GiB memory limit"),
        },
        "forks_many": {
            "double": "import subprocess\nprocs = []\ntry:\n    for _ in range(400):\n"
            "        procs.append(subprocess.Popen(['sleep', '4243']))\n"
            "except OSError as error:\n    print('stopped after', len(procs), error)\n"
            + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", None),
        },
        "ignores_interrupt": {
            "double": "import time\nwhile True:\n    try:\n        time.sleep(100)\n"
            "    except KeyboardInterrupt:\n        pass",
            "expect": ("NOT GRADED", "did not stop when interrupted"),
        },
        # Student HTML and Javascript, which the formgrader and feedback would render.
        "runs_script": {
            "double": "from IPython.display import HTML, Javascript, display\n"
            f"display(HTML({ACTIVE_HTML!r}))\n"
            f"display(Javascript({ACTIVE_JS!r}))\n"
            "display({'image/svg+xml': '<svg onload=\"window.__pwned=1\"></svg>', "
            "'image/png': 'AAAA\" onerror=\"window.__pwned=1', "
            "'text/plain': 'an image'}, raw=True)\n" + GOOD_DOUBLE,
            "expect": ("graded  3 / 3", None),
        },
    }


def _students(release, course_root):
    """student -> notebook (or raw text for files that are not notebooks)."""
    good = _answered(release)
    stripped = copy.deepcopy(good)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    edited_test = _answered(release, double="def double(x):\n    return 3 * x")
    edited_test.cells[2].source = "assert True"
    points = copy.deepcopy(good)
    points.cells[2].metadata["nbgrader"]["points"] = 100
    duplicate = copy.deepcopy(good)
    duplicate.cells.insert(3, copy.deepcopy(duplicate.cells[2]))
    added = copy.deepcopy(good)
    added.cells.append(
        new_code_cell(
            "assert True",
            metadata={
                "nbgrader": {
                    "grade_id": "bonus",
                    "grade": True,
                    "solution": False,
                    "locked": False,
                    "points": 100,
                    "schema_version": 3,
                }
            },
        )
    )
    students = {
        # Sorted first: a notebook nbgrader chokes on must not stop anyone after it.
        "aa_duplicate_test_cell": duplicate,
        "aa_adds_graded_cell": added,
        "good": good,
        "loops": _answered(release, double="while True:\n    pass"),
        "hogs_memory": _answered(
            release, double="hog = []\nwhile True:\n    hog.append(np.ones(10**8))"
        ),
        "calls_exit": _answered(release, double="import os\nos._exit(1)"),
        "kills_kernel": _answered(
            release, double="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
        ),
        "prints_megabytes": _answered(
            release, double="print('x' * 20_000_000)\n" + GOOD_DOUBLE
        ),
        "edits_test_cell": edited_test,
        "edits_points": points,
        "colab_stripped": stripped,
        "not_a_notebook": "PK\x03\x04 this is a zip file, not a notebook",
        "truncated_json": json.dumps(nbformat.from_dict(good))[:400],
        "nested_json": '{"cells": [], "x": ' + "[" * 5000 + "]" * 5000 + "}",
    }
    for student, attack in _attacks(course_root).items():
        answers = {k: attack[k] for k in ("double", "square", "halve") if k in attack}
        students[student] = _answered(release, **answers)
    scripted = students["runs_script"]
    scripted.cells.append(new_markdown_cell(ACTIVE_MARKDOWN))
    scripted.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {}}
    # A wrong answer that patches numpy and plants the grader's modules beside itself.
    students["shadows_grader"] = _answered(
        release,
        halve="np.allclose = lambda *a, **k: True\ndef halve(x):\n    return x",
    )
    return students


# student -> {relative path: text}: files beside the notebook.
EXTRA_FILES = {"shadows_grader": PLANTED_MODULES}


EXPECTED = {
    "aa_duplicate_test_cell": ("NOT GRADED", "'test_double' appears in 2 cells"),
    "aa_adds_graded_cell": ("NOT GRADED", "adds a graded cell 'bonus'"),
    "good": ("graded  3 / 3", None),
    "loops": ("graded  2 / 3", "stopped at the 10 s time limit"),
    "hogs_memory": ("graded  2 / 3", "hit the 1 GiB memory limit"),
    "prints_megabytes": ("graded  3 / 3", "printed too much; its output was cut"),
    # nbgrader puts the release's test cell and points back before grading.
    "edits_test_cell": ("graded  2 / 3", "'test_double' was edited"),
    "edits_points": ("graded  3 / 3", "points of 'test_double' changed"),
    "calls_exit": (
        "NOT GRADED",
        "kernel died while running the notebook (cell 2 calls os._exit)",
    ),
    "kills_kernel": (
        "NOT GRADED",
        "kernel died while running the notebook (cell 2 calls os.kill)",
    ),
    "colab_stripped": ("NOT GRADED", "nbgrader cell metadata is gone"),
    "not_a_notebook": ("NOT GRADED", "is not a notebook"),
    "truncated_json": ("NOT GRADED", "truncated JSON"),
    "nested_json": ("NOT GRADED", "nests more than 64 levels deep"),
    "shadows_grader": ("graded  2 / 3", "numpy.allclose was replaced"),
}


def _tree_digest(folder: Path, skip=()) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part in skip for part in p.relative_to(folder).parts)
    }


def _grade(course, env=None, *students):
    env = dict(
        os.environ if env is None else env,
        AUTOENCODER_CELL_TIMEOUT="10",
        AUTOENCODER_KERNEL_MEMORY_GB="1",
        AUTOENCODER_SCRATCH_MB="64",
        AUTOENCODER_KERNEL_TASKS="128",
    )
    result = course.autograde(ASSIGNMENT, env=env, timeout=1200)
    report = {
        line.split()[0]: line
        for line in result.stdout.splitlines()
        if line.startswith("  ")
    }
    return result, report


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory):
    if sandbox.unavailable() is not None:
        missing(f"no sandbox here: {sandbox.unavailable()}")
    course = Course(tmp_path_factory.mktemp("hostile"))
    release = _release_tiny(course)
    for student, content in _students(release, course.root).items():
        folder = course.root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        path = folder / "hostile.ipynb"
        if isinstance(content, str):
            path.write_text(content)
        else:
            nbformat.write(content, path)
        for name, text in EXTRA_FILES.get(student, {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
    outside = {
        "course": _tree_digest(
            course.root, skip={"gradebook.db", "autograded", "logs", "feedback"}
        ),
        "library": _tree_digest(ROOT / "autoencoder_lib", skip={"__pycache__"}),
        "site-packages": sorted(os.listdir(sysconfig.get_paths()["purelib"])),
    }
    result, report = _grade(course)
    course.feedback(ASSIGNMENT)
    return course, result, report, outside


def _expected(course_root):
    expected = dict(EXPECTED)
    for student, attack in _attacks(course_root).items():
        expected[student] = attack["expect"]
    return expected


@needs_sandbox
def test_each_student_gets_the_expected_verdict(hostile_class):
    course, result, report, _ = hostile_class
    assert result.returncode == 1, result.stdout + result.stderr  # needs a look
    expected = _expected(course.root)
    assert set(report) == set(expected), result.stdout
    for student, (status, reason) in expected.items():
        line = report[student]
        assert status in line, line
        if reason:
            assert reason in line, line
    assert report["good"].split("graded  3 / 3")[1].strip() == "", report["good"]
    assert "UNSANDBOXED" not in result.stdout


@needs_sandbox
def test_the_gradebook_holds_the_reported_scores(hostile_class):
    course, _, report, _ = hostile_class
    scores = course.scores(ASSIGNMENT, "hostile")
    for student, line in report.items():
        if "NOT GRADED" in line:
            assert student not in scores, f"{student} was scored in silence"
            continue
        got = sum(g["auto"] or 0 for g in scores[student].values())
        assert f"graded  {got:g} / 3" in line, (student, scores[student])
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gradebook:
        flagged = {
            s.student.id
            for s in gradebook.assignment_submissions(ASSIGNMENT)
            if any(nb.flagged for nb in s.notebooks)
        }
    assert "tampers_gradebook" in flagged and "input_transformer" in flagged
    assert "good" not in flagged


@needs_sandbox
def test_nothing_outside_the_sandbox_changed(hostile_class):
    course, _, _, outside = hostile_class
    assert (
        _tree_digest(
            course.root, skip={"gradebook.db", "autograded", "logs", "feedback"}
        )
        == outside["course"]
    ), "a file of the course (submitted/, solutions/, config) changed"
    assert (
        _tree_digest(ROOT / "autoencoder_lib", skip={"__pycache__"})
        == outside["library"]
    )
    assert (
        sorted(os.listdir(sysconfig.get_paths()["purelib"])) == outside["site-packages"]
    )
    for path in HOST_PLANTS:
        assert not path.exists(), f"a submission wrote {path}"


def _all_outputs(course, student) -> str:
    graded = course.root / "autograded" / student / ASSIGNMENT / "hostile.ipynb"
    cells = json.loads(graded.read_text())["cells"]
    return json.dumps([cell.get("outputs", []) for cell in cells])


@needs_sandbox
def test_hidden_tests_never_enter_the_students_kernel(hostile_class):
    """The tests run in the grader's process: a submission that reads its caller's
    source, the solutions or IPython's history finds no hidden test to print."""
    course, *_ = hostile_class
    for student in ("reads_solutions", "leaks_hidden_tests", "good"):
        assert "-3" not in _all_outputs(course, student), student
    graded = course.root / "autograded" / "good" / ASSIGNMENT / "hostile.ipynb"
    sources = [c["source"] for c in json.loads(graded.read_text())["cells"]]
    assert HIDDEN_LINE in "".join(map("".join, sources)), "the graded tests are there"


@needs_sandbox
def test_feedback_never_quotes_the_hidden_tests(hostile_class):
    course, *_ = hostile_class
    pages = sorted((course.root / "feedback").glob(f"*/{ASSIGNMENT}/hostile.html"))
    assert len(pages) >= 10
    for page in pages:
        assert "double&quot;, -3" not in page.read_text(), page
        assert '"double", -3' not in page.read_text(), page


@needs_sandbox
def test_no_process_outlives_grading(hostile_class):
    for command in ("sleep 4242", "sleep 4243"):
        found = subprocess.run(["pgrep", "-f", command], capture_output=True)
        assert found.returncode == 1, found.stdout


def _printed(course, student, cell=1):
    graded = course.root / "autograded" / student / ASSIGNMENT / "hostile.ipynb"
    outputs = json.loads(graded.read_text())["cells"][cell].get("outputs", [])
    return "".join("".join(o.get("text", "")) for o in outputs)


@needs_sandbox
def test_limits_hold_against_the_kernel_itself(hostile_class):
    """Set from outside: the kernel can neither raise the memory limit nor start
    more processes than the cap (128 in this class)."""
    course, *_ = hostile_class
    assert "refused: not allowed to raise maximum limit" in _printed(
        course, "lifts_memory_limit"
    )
    stopped = _printed(course, "forks_many")
    assert "stopped after" in stopped, stopped
    assert int(stopped.split("stopped after")[1].split()[0]) < 128, stopped


@needs_sandbox
def test_a_cell_that_ignores_the_interrupt_is_ended(hostile_class):
    course, result, report, _ = hostile_class
    line = report["ignores_interrupt"]
    assert "cell 2 (double) ran past the 10 s time limit" in line, line
    log = (course.root / "logs" / ASSIGNMENT / "ignores_interrupt.log").read_text()
    assert "its kernel was ended" in log


@needs_sandbox
def test_outputs_are_capped_whatever_their_type(hostile_class):
    course, *_ = hostile_class
    for student in ("big_images", "prints_megabytes"):
        graded = course.root / "autograded" / student / ASSIGNMENT / "hostile.ipynb"
        assert graded.stat().st_size < 1_000_000, student


@needs_sandbox
def test_submissions_are_never_modified(hostile_class):
    *_, outside = hostile_class
    course = hostile_class[0]
    now = _tree_digest(course.root / "submitted")
    before = {
        k.removeprefix("submitted/"): v
        for k, v in outside["course"].items()
        if k.startswith("submitted/")
    }
    assert now == before


@pytest.fixture
def busy_cpu():
    """Two busy loops, one per core of the CI machine, for the length of a test."""
    loops = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)
    ]
    time.sleep(0.5)
    yield
    for loop in loops:
        loop.kill()
        loop.wait()


@needs_sandbox
def test_a_saturated_cpu_changes_no_grade(tmp_path, hostile_class, busy_cpu):
    _, _, unloaded, _ = hostile_class
    course = Course(tmp_path)
    release = _release_tiny(course)
    everyone = _students(release, course.root)
    chosen = ["good", "edits_points", "patches_allclose", "big_images"]
    for student in chosen:
        course.submit(student, ASSIGNMENT, "hostile.ipynb", everyone[student])
    _, loaded = _grade(course)
    for student in chosen:
        assert loaded[student].split()[1:5] == unloaded[student].split()[1:5], (
            loaded[student],
            unloaded[student],
        )


def test_grading_refuses_without_a_sandbox_unless_told(tmp_path):
    course = Course(tmp_path)
    (course.root / "submitted" / "someone" / ASSIGNMENT).mkdir(parents=True)
    env = dict(os.environ, PATH="/nonexistent")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import shutil, sys; shutil.which = lambda *a, **k: None; "
            "from autoencoder_lib.instructor import grading; sys.exit(grading.main())",
        ],
        cwd=course.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Grading refused: bubblewrap is not installed" in result.stdout
    assert "UNSANDBOXED=1" in result.stdout


def test_an_unsandboxed_run_says_so_on_every_line(tmp_path):
    course = Course(tmp_path)
    release = _release_tiny(course)
    for student in ("one", "two"):
        course.submit(student, ASSIGNMENT, "hostile.ipynb", _answered(release))
    result = course.autograde(ASSIGNMENT, "--unsandboxed")
    lines = [line for line in result.stdout.splitlines() if line.startswith("  ")]
    assert len(lines) == 2 and all(
        "graded  3 / 3" in line and "graded UNSANDBOXED" in line for line in lines
    ), result.stdout
    assert "fast mode; UNSANDBOXED;" in result.stdout.splitlines()[0]


def test_a_broken_grading_environment_writes_no_grade(tmp_path):
    """The solution is graded beside the class; if it loses marks (here: its data
    folder is out of reach), no student's grade is written."""
    course = Course(tmp_path)
    nb = _source_notebook()
    nb.cells[0].source = "import numpy as np, os\nDATA = os.environ.get('NEEDED_DATA')"
    nb.cells[2].source = "assert DATA and double(2) == 4"
    release = _release_tiny(course, nb)
    course.submit("good", ASSIGNMENT, "hostile.ipynb", _answered(release))
    env = {k: v for k, v in os.environ.items() if k != "NEEDED_DATA"}
    result = course.autograde(ASSIGNMENT, env=env)
    assert result.returncode == 1
    assert (
        "grading of zz_hostile stopped: the instructor's own solution lost marks"
        in (result.stdout)
    ), result.stdout
    assert "test_double 0/1" in result.stdout
    assert not (course.root / "autograded" / "good").exists()
    assert "good" not in course.scores(ASSIGNMENT, "hostile")


CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
    None,
)


def _formgrader_page(notebook: Path, student: str) -> str:
    """The HTML the formgrader serves for a graded notebook: its own exporter and
    template, as nbgrader's SubmissionHandler calls them."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {
        "assignment_id": ASSIGNMENT,
        "notebook_id": "hostile",
        "submission_id": "x",
        "index": 0,
        "total": 1,
        "base_url": "",
        "student": student,
        "last_name": "",
        "first_name": "",
        "notebook_path": str(notebook),
    }
    html, _ = HTMLExporter(config=config).from_filename(str(notebook), resources)
    return html


def _ran_in_chromium(pages: dict[str, Path]) -> dict[str, list]:
    """name -> [window.__pwned, title, javascript: links] once each page has loaded."""
    if CHROMIUM is None:
        missing("Chromium is not installed: `apt-get install chromium` (Debian)")
    from playwright.sync_api import sync_playwright

    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        for name, path in pages.items():
            page = browser.new_page()
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(1000)
            found[name] = page.evaluate(
                "[window.__pwned === undefined ? null : window.__pwned, "
                "document.title, "
                "document.querySelectorAll('a[href^=\"javascript:\"]').length]"
            )
            page.close()
        browser.close()
    return found


@needs_sandbox
def test_student_html_and_scripts_never_run_on_the_instructors_side(
    hostile_class, tmp_path
):
    """The graded notebook and the feedback page, opened in Chromium as the formgrader
    and a browser show them: the student's scripts, handlers and links are inert.
    The same outputs left active do run there (the check can fail)."""
    course, *_ = hostile_class
    graded = course.root / "autograded" / "runs_script" / ASSIGNMENT / "hostile.ipynb"
    nb = json.loads(graded.read_text())
    assert "widgets" not in nb["metadata"]
    kinds = {
        k for c in nb["cells"] for o in c.get("outputs", []) for k in o.get("data", {})
    }
    assert kinds <= {"text/plain", "image/png", "image/jpeg", "image/gif"}, kinds
    assert "window.__pwned" in graded.read_text(), "the outputs are kept as text"
    active = new_notebook(
        cells=[
            new_markdown_cell(ACTIVE_MARKDOWN),
            nbformat.v4.new_code_cell(
                "",
                outputs=[
                    nbformat.v4.new_output("display_data", {"text/html": ACTIVE_HTML}),
                    nbformat.v4.new_output(
                        "display_data", {"application/javascript": ACTIVE_JS}
                    ),
                ],
            ),
        ]
    )
    nbformat.write(active, tmp_path / "active.ipynb")
    pages = {
        "formgrader": graded,
        "feedback": course.root / "feedback" / "runs_script" / ASSIGNMENT
        / "hostile.html",
        "control": tmp_path / "active.ipynb",
    }  # fmt: skip
    for name in ("formgrader", "control"):
        html = tmp_path / f"{name}.html"
        html.write_text(_formgrader_page(pages[name], "runs_script"))
        pages[name] = html
    found = _ran_in_chromium(pages)
    assert found["control"][0] == 1, f"the active control did not run: {found}"
    for name in ("formgrader", "feedback"):
        pwned, title, links = found[name]
        assert pwned is None and title != "PWNED" and links == 0, (name, found[name])
