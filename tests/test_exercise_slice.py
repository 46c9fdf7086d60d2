"""The exercises-only cut of a notebook (autoencoder_lib/instructor/exercise_slice.py):
what it keeps and leaves out, read from the code, on a small notebook and on the course's."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader_cells import nbgrader_cell

from autoencoder_lib.instructor.course import all_notebooks, graded_or_solution
from autoencoder_lib.instructor.exercise_slice import exercise_cells, exercises_only


def _notebook():
    return new_notebook(
        cells=[
            new_markdown_cell("# A notebook"),  # 0
            new_code_cell("%matplotlib inline\nimport numpy as np"),  # 1 set-up
            new_code_cell("from lib import training, plots, models"),  # 2 set-up
            new_code_cell("x = np.ones(3)\nunused = np.zeros(2)"),  # 3 defines x
            new_code_cell("model = models.dense(3)"),  # 4 defines model
            new_code_cell("training.fit(model, x, x)"),  # 5 trains model, no name
            new_code_cell("model.compile('adam')"),  # 6 a method of model
            new_code_cell("plots.show(unused)"),  # 7 a demonstration
            new_code_cell("table = {k: k for k in range(3)}"),  # 8 a demonstration
            new_code_cell("x[0] = 2"),  # 9 changes an item of x
            nbgrader_cell(
                "def double(v):\n    return 2 * v", "double", solution=True
            ),  # 10
            nbgrader_cell(
                "assert double(model(x)).shape == (3,)", "test", points=1
            ),  # 11
            new_code_cell("plots.show(double(x))"),  # 12 after the last test
            new_code_cell("this is not python"),  # 13 after the last test
        ]
    )


def test_keeps_what_the_tests_read_and_what_changes_it():
    assert exercise_cells(_notebook()) == [1, 2, 3, 4, 5, 6, 9, 10, 11]


def test_a_cell_that_does_not_parse_before_the_last_test_is_kept():
    nb = _notebook()
    nb.cells[8].source = "!pip install something\ntable = {"
    assert 8 in exercise_cells(nb)


def test_left_out_cells_are_emptied_in_a_copy_and_numbers_stay():
    nb = _notebook()
    cut = exercises_only(nb)
    assert len(cut.cells) == len(nb.cells)
    assert [i for i, c in enumerate(cut.cells) if c.source == ""] == [7, 8, 12, 13]
    assert nb.cells[7].source == "plots.show(unused)", "the original was changed"


@pytest.mark.parametrize("path", all_notebooks(), ids=lambda p: p.stem)
def test_every_exercise_and_test_cell_of_the_course_is_kept(path):
    nb = nbformat.read(path, as_version=4)
    kept = set(exercise_cells(nb))
    graded = {i for i, c in enumerate(nb.cells) if graded_or_solution(c)}
    code = {i for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    assert graded & code <= kept
    assert kept < code, "nothing left out: the cut saves no time"
