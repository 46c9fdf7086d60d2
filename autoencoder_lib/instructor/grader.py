"""The grader's side of a test cell: run in nbgrader's own (trusted) process.

A notebook whose source says so (``metadata.autoencoder.grader == "process"``) is graded
with its test cells run here, never in the student's kernel. The cells its source marks
as the grader's set-up (``metadata.autoencoder.grader == "setup"`` on a locked cell:
imports, data, constants) run in both places; every other cell runs in the kernel only.
A test cell reaches the student's work through ``student``
(:class:`KernelStudent`): each request names a variable or a function of the
student's and carries the grader's inputs as data, and what comes back is data
(:func:`autoencoder_lib.answers.decode`). The hidden tests never enter the kernel, the
verdict is decided here, and nothing the student's code does in its own process (patched
functions, forged values, replaced modules) reaches this one.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
from pathlib import Path

from nbformat import NotebookNode

from autoencoder_lib import answers

SETUP, PROCESS = "setup", "process"


def _role(node) -> str | None:
    meta = node.get("metadata", {}).get("autoencoder", {})
    return meta.get("grader") if isinstance(meta, dict) else None


def source_notebook(resources, source_directory: str) -> Path | None:
    """The instructor's source of the notebook nbgrader is processing, from the
    ``nbgrader`` resources of an autograde or feedback run."""
    info = (resources or {}).get("nbgrader", {})
    if not (info.get("assignment") and info.get("notebook")):
        return None
    return Path(source_directory) / info["assignment"] / f"{info['notebook']}.ipynb"


def plan(source_notebook: Path | None) -> set[str] | None:
    """The grade_ids of the grader's set-up cells, from the instructor's source
    notebook; None when the notebook is graded in the kernel (not marked, or not
    found)."""
    if source_notebook is None or not source_notebook.is_file():
        return None
    nb = json.loads(source_notebook.read_text(encoding="utf-8"))
    if _role(nb) != PROCESS:
        return None
    setup = set()
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) or {}
        if _role(cell) == SETUP and meta.get("locked") and meta.get("grade_id"):
            setup.add(meta["grade_id"])
    return setup


class KernelStudent:
    """``student`` in the grader: the student's kernel, reached as data only."""

    def __init__(self, request):
        # request(text) -> text: one round trip to answers.respond in the kernel.
        self._request = request

    def _ask(self, op: str, name: str, args=None, rows=None):
        message = {"op": op, "name": name}
        if rows is not None:
            message["rows"] = int(rows)
        if args is not None:
            message["args"] = answers.encode(args)
        text = self._request(json.dumps(message))
        try:
            reply = json.loads(text)
        except (TypeError, ValueError):
            raise answers.AnswerError("the kernel's reply was not data") from None
        if not isinstance(reply, dict):
            raise answers.AnswerError("the kernel's reply was not data")
        if "error" in reply:
            ename, evalue = (list(reply["error"]) + ["", ""])[:2]
            if ename == "NameError" and op != "call":
                raise answers.StudentCodeError(
                    f"{evalue}: run the cell that defines it first"[:2000]
                )
            if op == "call":
                raise answers.StudentCodeError(answers.raised(name, ename, evalue))
            raise answers.StudentCodeError(f"{name}: {ename}: {evalue}"[:2000])
        return answers.decode(reply.get("value"))

    def has(self, name: str) -> bool:
        try:
            return bool(self._ask("has", name))
        except answers.StudentCodeError:
            return False

    def value(self, name: str, rows: int | None = None):
        return self._ask("value", name, rows=rows)

    def shape(self, name: str) -> tuple:
        found = self._ask("shape", name)
        if not isinstance(found, list) or not all(isinstance(n, int) for n in found):
            raise answers.AnswerError("the kernel's reply was not a shape")
        return tuple(found)

    def model(self, name: str):
        return answers.require_model(self.value(name), name)

    def call(self, name: str, *args, **kwargs):
        return self._ask("call", name, [list(args), kwargs])


def request_code(request: str) -> str:
    """The expression the kernel evaluates for one request (user_expressions)."""
    return (
        "__import__('autoencoder_lib.answers', fromlist=['respond'])"
        f".respond({request!r}, globals())"
    )


def reply_text(user_expression: dict) -> str:
    """The reply text from the kernel's evaluated user expression."""
    if user_expression.get("status") != "ok":
        raise answers.AnswerError(
            "the kernel could not answer: "
            f"{user_expression.get('ename')}: {str(user_expression.get('evalue'))[:200]}"
        )
    text = user_expression.get("data", {}).get("text/plain", "")
    if not isinstance(text, str) or len(text) > 3 * answers.MAX_BYTES:
        raise answers.AnswerError("the kernel's reply was not data, or too large")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise answers.AnswerError("the kernel's reply was not data") from None
    if not isinstance(value, str):
        raise answers.AnswerError("the kernel's reply was not data")
    return value


class GraderNamespace:
    """The namespace the grader's set-up and test cells of one notebook run in."""

    def __init__(self, student: KernelStudent):
        self.student = student
        self.namespace: dict = {"__name__": "__grader__"}

    def run(self, source: str, label: str) -> list[NotebookNode]:
        """Run one cell's code here; its outputs as nbgrader stores them."""
        out = io.StringIO()
        error = None
        previous = answers._grader_channel
        answers._grader_channel = self.student
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(compile(source, f"<{label}>", "exec"), self.namespace)
        except Exception as raised:  # the test's verdict: a failed check
            error = raised
        finally:
            answers._grader_channel = previous
        outputs = []
        if out.getvalue():
            outputs.append(
                NotebookNode(output_type="stream", name="stdout", text=out.getvalue())
            )
        if error is not None:
            ename = type(error).__name__
            if isinstance(error, answers.StudentCodeError):
                ename = "AssertionError"
            outputs.append(
                NotebookNode(
                    output_type="error",
                    ename=ename,
                    evalue=str(error),
                    traceback=[f"{ename}: {error}"],
                )
            )
        return outputs
