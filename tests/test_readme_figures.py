"""The README (its notebook table) and benchmarks/RESULTS.md (its measured figures) quote
each notebook's full-mode figures; every one of them must be the figure the notebook
itself states (both come from `make full-run`), so that the two cannot drift apart: a
number quoted that its notebook does not say is an error."""

import json
import re
import sys

import pytest

from autoencoder_lib.instructor.course import ROOT, SOLUTIONS, assignments

# Figures worth comparing: decimals (0.0049, 22.5), thousands (1,923) and times (139 s).
_FIGURE = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+\.\d+)(?!\w)")
_SECONDS = re.compile(r"(?<![\w.,])(\d+) s\b")


def _figures(text: str) -> set[str]:
    return set(_FIGURE.findall(text)) | {f"{t} s" for t in _SECONDS.findall(text)}


def _readme_figures() -> dict[str, set[str]]:
    """Per notebook number: the figures of its row in the notebooks table and of its
    paragraphs and tables under "Measured figures" in benchmarks/RESULTS.md."""
    readme = (ROOT / "README.md").read_text()
    quoted: dict[str, set[str]] = {}
    for line in readme.splitlines():
        row = re.match(r"\| `(\d\d)_\w+` \|", line)
        if row:
            quoted.setdefault(row.group(1), set()).update(
                _figures(line.rsplit(" | ", 1)[-1])
            )
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    section = results.split("## Measured figures", 1)[1]
    section = section.split("\nIn fast mode", 1)[0]
    current = None
    for block in section.split("\n\n"):
        named = re.search(r"^(?:Notebook (\d\d) \(|\| (\d\d),)", block, re.M)
        if named:
            current = named.group(1) or named.group(2)
        if current:
            quoted.setdefault(current, set()).update(_figures(block))
    return quoted


def _notebook_text(assignment: str) -> str:
    path = SOLUTIONS / assignment / f"{assignment}.ipynb"
    return "\n".join(
        "".join(c["source"]) for c in json.loads(path.read_text())["cells"]
    )


def test_the_readme_quotes_every_notebook():
    assert sorted(_readme_figures()) == [a[:2] for a in assignments()]


@pytest.mark.parametrize("assignment", assignments())
def test_every_readme_figure_is_the_notebooks_own(assignment):
    text = _notebook_text(assignment)
    said = _figures(text) | set(re.findall(r"\d[\d.,]*", text))
    missing = sorted(f for f in _readme_figures()[assignment[:2]] if f not in said)
    assert not missing, (
        f"README.md quotes {missing} for {assignment}, which its notebook does not "
        "say: rerun `make full-run` and quote the notebook's own figures in both"
    )


def test_a_figure_the_notebook_does_not_say_is_caught(monkeypatch):
    real = _notebook_text("01_basic_autoencoder")
    quoted = _readme_figures()["01"]
    assert quoted, "the README quotes figures for 01"
    figure = sorted(quoted)[0]
    monkeypatch.setattr(
        sys.modules[__name__],
        "_notebook_text",
        lambda assignment: real.replace(figure, "<removed>"),
    )
    with pytest.raises(AssertionError, match="which its notebook does not say"):
        test_every_readme_figure_is_the_notebooks_own("01_basic_autoencoder")
