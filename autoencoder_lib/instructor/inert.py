"""What of a student's notebook the instructor's side may render: inert text and images.

The formgrader and the feedback pages turn a graded notebook into HTML in a browser
that holds the instructor's Jupyter session. Anything active there (a ``<script>``, an
``onerror`` handler, a ``javascript:`` link, widget state, a Javascript output) would
run with the instructor's rights, so the graded notebook keeps only what cannot run:

- outputs keep plain text and PNG, JPEG or GIF images whose data is plain base64 (a
  quote in it would break out of the ``<img>`` tag), with numeric sizes only; HTML,
  Markdown, SVG, LaTeX, Javascript and widget views are replaced by a note;
- markdown cells that are not the instructor's own text (the written answers, any cell a
  student added or edited) are shown as a code block, whose text is escaped, and lose
  their attachments;
- raw cells lose the format that would pass them to the page unescaped;
- the notebook's widget state and any metadata a template could place in the page
  unescaped (cell tags, output metadata) are dropped.

The instructor's text is whatever markdown the source notebook in ``solutions/`` has,
word for word; without that notebook every markdown cell is shown as text.
"""

from __future__ import annotations

import binascii
import json
import re
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool, Unicode

IMAGES = ("image/png", "image/jpeg", "image/gif")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_STREAMS = ("stdout", "stderr")


def _note(kinds: list[str]) -> str:
    return f"[{', '.join(kinds)} output removed by the grader: shown only as text]"


def _base64(value) -> str | None:
    """``value`` as base64 text if it is exactly that, else None."""
    text = "".join(value) if isinstance(value, list) else value
    if not isinstance(text, str):
        return None
    text = "".join(text.split())
    if not _BASE64.fullmatch(text):
        return None
    try:
        binascii.a2b_base64(text)
    except (binascii.Error, ValueError):
        return None
    return text


def _size(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if 0 < value < 100_000 else None


def _text(value) -> str:
    if isinstance(value, list):
        value = "".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def output(out: dict) -> NotebookNode:
    """An inert copy of one output: text and plain images only."""
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name")
        return NotebookNode(
            output_type="stream",
            name=name if name in _STREAMS else "stdout",
            text=_text(out.get("text", "")),
        )
    if kind == "error":
        return NotebookNode(
            output_type="error",
            ename=_text(out.get("ename", "")),
            evalue=_text(out.get("evalue", "")),
            traceback=[_text(line) for line in out.get("traceback", []) or []],
        )
    data = out.get("data", {}) if isinstance(out.get("data"), dict) else {}
    kept, metadata, removed = {}, {}, []
    for key, value in data.items():
        if key == "text/plain":
            kept[key] = _text(value)
        elif key in IMAGES and _base64(value) is not None:
            kept[key] = _base64(value)
            meta = (out.get("metadata") or {}).get(key)
            if isinstance(meta, dict):
                sizes = {k: _size(meta.get(k)) for k in ("width", "height")}
                sizes = {k: v for k, v in sizes.items() if v is not None}
                if sizes:
                    metadata[key] = sizes
        else:
            removed.append(key)
    if removed:
        kept["text/plain"] = (
            kept.get("text/plain", "") + ("\n" if "text/plain" in kept else "")
        ) + _note(removed)
    node = NotebookNode(output_type="display_data", data=kept, metadata=metadata)
    if kind == "execute_result":
        node.output_type = "execute_result"
        count = out.get("execution_count")
        node.execution_count = count if isinstance(count, int) else None
    return node


def as_code_block(source: str) -> str:
    """Markdown that shows ``source`` as escaped text: a fence longer than any run of
    backticks inside, so nothing in the text can close it."""
    longest = max((len(run) for run in re.findall(r"`+", source)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{source}\n{fence}"


def instructor_markdown(source_notebook: Path | None) -> set[str]:
    """The markdown the instructor wrote (the source notebook's, answers excepted)."""
    if source_notebook is None or not source_notebook.is_file():
        return set()
    try:
        nb = json.loads(source_notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return set()
    texts = set()
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if cell.get("cell_type") == "markdown" and not meta.get("solution"):
            texts.add(_text(cell.get("source", "")))
    return texts


def _cell_metadata(cell) -> dict:
    """Only nbgrader's metadata, and only values that are plain data."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict):
        return {}
    kept = {
        k: v
        for k, v in meta.items()
        if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) < 200)
    }
    return {"nbgrader": kept}


def make_inert(nb, instructor_text: set[str]) -> list[str]:
    """Make ``nb`` inert in place; what was changed, in words."""
    changed = []
    if nb.get("metadata", {}).pop("widgets", None) is not None:
        changed.append("widget state removed")
    for number, cell in enumerate(nb.get("cells", []), start=1):
        cell["metadata"] = nbformat.from_dict(_cell_metadata(cell))
        kind = cell.get("cell_type")
        if kind == "markdown":
            source = _text(cell.get("source", ""))
            if cell.pop("attachments", None):
                changed.append(f"cell {number}: attachments removed")
            if source not in instructor_text:
                cell["source"] = as_code_block(source)
        elif kind == "raw":
            cell.pop("attachments", None)
        elif kind == "code":
            new = [output(o) for o in cell.get("outputs", [])]
            for before, after in zip(cell.get("outputs", []), new, strict=True):
                if set(before.get("data", {})) - set(after.get("data", {})):
                    changed.append(f"cell {number}: active output removed")
            cell["outputs"] = new
    return changed


class InertOutputs(Preprocessor):
    """nbgrader step: the graded notebook made inert (module docstring)."""

    enabled = Bool(True)
    source_directory = Unicode(
        "solutions", help="Where the instructor's source notebooks are."
    ).tag(config=True)

    def preprocess(self, nb, resources):
        from .grader import source_notebook

        source = source_notebook(resources, self.source_directory)
        make_inert(nb, instructor_markdown(source))
        return nb, resources
