"""Grading with the instructor's trained-model cache (make warm-cache).

A tiny Keras assignment: build a small autoencoder, which the notebook then trains.
The instructor warms the cache from the solution; grading binds it read-only into every
sandboxed kernel. The solution's model is loaded, not trained; a different model trains
and loses its mark; a student who tries to write into or over the shared cache changes
nothing in it; and every student's own new entries stay in their scratch space.
"""

import copy
import hashlib
import os

import nbformat
import pytest
from nbformat.v4 import new_notebook
from nbgrader_cells import nbgrader_cell, printed
from needs import missing

from autoencoder_lib.instructor import sandbox, warm_cache
from autoencoder_lib.instructor.course import Course
from autoencoder_lib.instructor.grading import MODEL_CACHE_FOLDER

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True, scope="module")
def _sandbox_here():
    if sandbox.unavailable() is not None:
        missing(f"no sandbox here: {sandbox.unavailable()}")


ASSIGNMENT = "zz_cache"
LOADED = "Loaded from the model cache"
SETUP = """from autoencoder_lib import session
session.start(seed=0)
from autoencoder_lib import data, models, training
(x, _), _ = data.load_dataset("mnist")
x = x[:256]"""
SOLUTION = "def build():\n    return models.dense_autoencoder(latent_dim=4, hidden_units=(16,))"
TRAIN = """model = build()
model.compile(optimizer="adam", loss="mse")
history = training.fit(model, x, epochs=2, batch_size=64)
print("val_loss", history.history["val_loss"][-1])"""
# Tries to plant an entry in, and overwrite every entry of, the shared cache.
HOSTILE = (
    SOLUTION
    + """
import os, pathlib
written = []
for folder in os.environ.get("AUTOENCODER_MODEL_CACHE_SHARED", "").split(os.pathsep):
    for target in [pathlib.Path(folder) / "planted.npz",
                   *pathlib.Path(folder).glob("*.npz")]:
        try:
            target.write_bytes(b"poison")
            written.append(str(target))
        except OSError:
            pass
print("written:", written)"""
)


def _source():
    body = SOLUTION.replace("    return", "    ### BEGIN SOLUTION\n    return")
    nb = new_notebook(
        cells=[
            nbgrader_cell(SETUP, "setup"),
            nbgrader_cell(body + "\n    ### END SOLUTION", "build", solution=True),
            nbgrader_cell(TRAIN, "train"),
            nbgrader_cell(
                "assert model.count_params() == "
                "models.dense_autoencoder(latent_dim=4, hidden_units=(16,))"
                ".count_params()",
                "test_build",
                points=1,
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def _digest(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
    }


def _outputs(course, student):
    path = course.root / "autograded" / student / ASSIGNMENT / "cache.ipynb"
    return printed(nbformat.read(path, 4))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = Course(tmp_path_factory.mktemp("cache-course"))
    source = course.root / "solutions" / ASSIGNMENT
    source.mkdir(parents=True)
    nbformat.write(_source(), source / "cache.ipynb")
    release = nbformat.read(course.release(ASSIGNMENT) / "cache.ipynb", 4)
    assert warm_cache.main([ASSIGNMENT, "--course", str(course.root)]) == 0
    cache = course.root / MODEL_CACHE_FOLDER
    warmed = _digest(cache)
    answers = {
        "solution": SOLUTION,
        "other_model": SOLUTION.replace("(16,)", "(24,)"),
        "poisoner": HOSTILE,
    }
    for student, answer in answers.items():
        nb = copy.deepcopy(release)
        nb.cells[1].source = answer
        course.submit(student, ASSIGNMENT, "cache.ipynb", nb)
    env = dict(os.environ, AUTOENCODER_MODEL_CACHE="1")
    env.pop("AUTOENCODER_MODEL_CACHE_DIR", None)
    result = course.autograde(ASSIGNMENT, env=env, timeout=1200)
    return course, result, warmed


def test_the_warm_cache_holds_the_solutions_model(graded):
    _, _, warmed = graded
    assert len(warmed) == 1 and all(name.endswith(".npz") for name in warmed)


def test_the_solutions_model_is_loaded_and_scores(graded):
    course, result, _ = graded
    scores = course.scores(ASSIGNMENT, "cache")
    assert scores["solution"]["test_build"]["auto"] == 1, result.stdout
    assert LOADED in _outputs(course, "solution")


def test_another_model_trains_and_loses_its_mark(graded):
    course, result, _ = graded
    scores = course.scores(ASSIGNMENT, "cache")
    assert scores["other_model"]["test_build"]["auto"] == 0, result.stdout
    out = _outputs(course, "other_model")
    assert LOADED not in out and "Epoch 2/2" in out


def test_no_student_can_write_into_the_shared_cache(graded):
    course, _, warmed = graded
    out = _outputs(course, "poisoner")
    assert "written: []" in out, out
    assert _digest(course.root / MODEL_CACHE_FOLDER) == warmed
    # Nor did any student's own new entry (other_model's) land there.
    assert course.scores(ASSIGNMENT, "cache")["poisoner"]["test_build"]["auto"] == 1
