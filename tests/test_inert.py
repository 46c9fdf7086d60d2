"""The graded notebook the instructor's side renders is inert: text and plain images.

The whole path (a hostile class graded, its formgrader page and feedback page opened in
Chromium) is in tests/test_hostile_submissions.py; these check each rule on its own.
"""

import json

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autoencoder_lib.instructor import inert

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
    "RU5ErkJggg=="
)


def _outputs(*outputs):
    nb = new_notebook(cells=[new_code_cell("x", outputs=list(outputs))])
    inert.make_inert(nb, set())
    nbformat.validate(nb)
    return nb.cells[0].outputs


def test_active_mime_types_become_a_note_and_text_stays():
    out = new_output(
        "display_data",
        {
            "text/html": "<script>alert(1)</script>",
            "application/javascript": "alert(1)",
            "image/svg+xml": "<svg onload='alert(1)'/>",
            "text/markdown": "<img src=x onerror=alert(1)>",
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc"},
            "text/plain": "the table",
        },
    )
    (kept,) = _outputs(out)
    assert set(kept.data) == {"text/plain"}
    assert kept.data["text/plain"].startswith("the table\n[")
    for kind in ("text/html", "application/javascript", "image/svg+xml"):
        assert kind in kept.data["text/plain"]


def test_plain_images_stay_and_forged_ones_go():
    good = new_output(
        "display_data",
        {"image/png": PNG, "text/plain": "fig"},
        metadata={"image/png": {"width": 200, "height": "1 onerror=alert(1)"}},
    )
    forged = new_output(
        "display_data", {"image/png": 'AAAA" onerror="alert(1)', "text/plain": "x"}
    )
    kept_good, kept_forged = _outputs(good, forged)
    assert kept_good.data["image/png"] == PNG
    assert kept_good.metadata == {"image/png": {"width": 200}}
    assert "image/png" not in kept_forged.data
    assert "image/png" in kept_forged.data["text/plain"]


def test_streams_errors_and_results_keep_their_text_only():
    stream = new_output("stream", name="<script>", text="hello")
    error = new_output("error", ename="E", evalue="v", traceback=["a", "b"])
    result = new_output("execute_result", {"text/html": "<b>x</b>"}, execution_count=3)
    kept_stream, kept_error, kept_result = _outputs(stream, error, result)
    assert (kept_stream.name, kept_stream.text) == ("stdout", "hello")
    assert kept_error.traceback == ["a", "b"]
    assert kept_result.execution_count == 3
    assert set(kept_result.data) == {"text/plain"}


def test_markdown_from_the_student_is_shown_as_escaped_text():
    instructor = "## Exercise 1\n\nWrite the encoder."
    student = "Answer ```` with backticks ```\n<script>alert(1)</script>"
    nb = new_notebook(
        cells=[new_markdown_cell(instructor), new_markdown_cell(student)],
        metadata={"widgets": {"state": {}}},
    )
    nb.cells[1]["attachments"] = {"a.svg": {"image/svg+xml": "<svg/>"}}
    nb.cells[1].metadata["tags"] = ['"><script>']
    changed = inert.make_inert(nb, {instructor})
    assert nb.cells[0].source == instructor
    fenced = nb.cells[1].source
    assert fenced.startswith("`````\n") and fenced.endswith("\n`````")
    assert student in fenced
    assert "attachments" not in nb.cells[1] and nb.cells[1].metadata == {}
    assert "widgets" not in nb.metadata
    assert "widget state removed" in changed
    # nbconvert renders the fence as escaped code: no tag survives.
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    html = markdown2html_mistune(fenced)
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_instructors_text_comes_from_the_source_notebook(tmp_path):
    source = new_notebook(
        cells=[
            new_markdown_cell("Intro"),
            new_markdown_cell(
                "the model answer",
                metadata={"nbgrader": {"solution": True, "grade_id": "w"}},
            ),
        ]
    )
    path = tmp_path / "nb.ipynb"
    nbformat.write(source, path)
    assert inert.instructor_markdown(path) == {"Intro"}
    assert inert.instructor_markdown(tmp_path / "missing.ipynb") == set()
    path.write_text("[" * 100_000)
    assert inert.instructor_markdown(path) == set()


def test_nbgrader_metadata_is_kept_for_grading():
    meta = {"grade": True, "grade_id": "t", "points": 2, "locked": True}
    nb = new_notebook(cells=[new_code_cell("x", metadata={"nbgrader": meta})])
    nb.cells[0].metadata["collapsed"] = True
    inert.make_inert(nb, set())
    assert json.loads(json.dumps(nb.cells[0].metadata)) == {"nbgrader": meta}
