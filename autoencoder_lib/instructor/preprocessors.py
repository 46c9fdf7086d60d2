"""The course's nbgrader preprocessors; ``nbgrader_config.py`` wires them in.

- :class:`GuardedExecute`: nbgrader's Execute with every kernel in the sandbox
  (:mod:`.sandbox`), the machinery of the test cells checked and restored around each
  graded cell (:mod:`.guard`), outputs capped as they arrive, and the time-outs that are
  about the machine (start-up, IOPub) made generous, so that a busy machine makes
  grading slower and never changes a grade. Only the per-cell limit, which is about
  the student's code, fails a cell.
- :class:`ClipOutputs`: stored outputs cut to a size per output, text and binary.
- :class:`ShortTestErrors`: feedback shows a test's error as one line.
- :class:`StampCourseLinks`: fills the repository and Colab links into a release.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import secrets
from pathlib import Path

from nbclient.exceptions import DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Bool, Float, Integer, Unicode

from . import grader, limits

REPORT_ENV = "AUTOENCODER_GRADER_REPORT"  # where GuardedExecute writes its findings
UNSANDBOXED_ENV = "AUTOENCODER_UNSANDBOXED"  # "1": the instructor opted out


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def instructor_imports(nb) -> dict[str, str]:
    """name -> module bound by ``import`` lines of the instructor's locked cells."""
    names: dict[str, str] = {}
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if cell.cell_type != "code" or not meta.get("locked") or meta.get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    # Only submodules are checked (``from pkg import module``).
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _size(msg: dict) -> int:
    content = msg.get("content", {})
    if msg.get("msg_type") == "stream":
        return len(content.get("text", ""))
    if msg.get("msg_type") == "error":
        return sum(len(line) for line in content.get("traceback", []))
    return sum(
        len(v) if isinstance(v, str) else len(json.dumps(v))
        for v in content.get("data", {}).values()
    )


class GuardedExecute(Execute):
    """nbgrader's Execute, sandboxed and guarded (module docstring)."""

    sandbox = Bool(True, help="Run each kernel in bubblewrap.").tag(config=True)
    scratch_mb = Integer(
        limits.scratch_mb(), help="MiB the kernel may write (its tmpfs)."
    ).tag(config=True)
    memory_gb = Float(
        limits.kernel_memory_gb(),
        help="GiB a kernel may allocate (RLIMIT_DATA, set from outside).",
    ).tag(config=True)
    cell_output_bytes = Integer(
        limits.CELL_OUTPUT_BYTES, help="Output kept per cell, as it arrives."
    ).tag(config=True)
    notebook_output_bytes = Integer(
        limits.NOTEBOOK_OUTPUT_BYTES, help="Output kept per notebook."
    ).tag(config=True)
    source_directory = Unicode(
        "solutions",
        help="Where the instructor's source notebooks are: they say which notebooks "
        "have their test cells run in the grader's process (instructor/grader.py).",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if os.environ.get(UNSANDBOXED_ENV) == "1":
            self.sandbox = False
        # nbgrader's Execute passes its own kernel manager class; ours wins.
        from . import sandbox as _sandbox

        self.kernel_manager_class = _sandbox.ConfinedKernelManager
        if self.sandbox:
            from . import sandbox

            reason = sandbox.unavailable()
            if reason:
                raise RuntimeError(
                    f"Grading needs the sandbox, and {reason}. Install bubblewrap, or "
                    f"grade unsandboxed knowingly with {UNSANDBOXED_ENV}=1 "
                    "(make autograde UNSANDBOXED=1)."
                )
            self.kernel_manager_class = sandbox.SandboxedKernelManager
        self._findings: list[str] = []
        self._zeroed: list[str] = []

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if hasattr(km, "scratch_mb"):
            km.scratch_mb = self.scratch_mb
        if hasattr(km, "memory_bytes"):
            km.memory_bytes = int(self.memory_gb * 2**30)
        return km

    async def _async_handle_timeout(self, timeout, cell=None):
        """Past the time limit: interrupt; a cell that has not stopped
        ``limits.KILL_GRACE_S`` later (it caught the interrupt) ends its kernel."""
        reply = await super()._async_handle_timeout(timeout, cell)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.KILL_GRACE_S
        while loop.time() < deadline:
            if await ensure_async(self.kc.shell_channel.msg_ready()):
                return reply
            await asyncio.sleep(0.2)
        number = self._cell_numbers.get(id(cell), "?")
        grade_id = _nbgrader(cell or {}).get("grade_id")
        where = f"cell {number}" + (f" ({grade_id})" if grade_id else "")
        self._killed = (
            f"{where} ran past the {timeout} s time limit and did not stop when "
            f"interrupted; its kernel was ended {limits.KILL_GRACE_S} s later"
        )
        self.log.error(self._killed)
        await ensure_async(self.km.shutdown_kernel(now=True))
        raise DeadKernelError(self._killed)

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        seal = getattr(self.km, "seal", None)
        if seal is not None:
            seal()
        return kc

    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def preprocess(self, nb, resources=None, km=None):
        self._findings, self._zeroed = [], []
        self._killed = None
        self._sizes: dict[int, int] = {}
        self._total = 0
        self._cell_numbers = {id(cell): n for n, cell in enumerate(nb.cells, start=1)}
        source = grader.source_notebook(resources, self.source_directory)
        self._setup_ids = grader.plan(source)
        self._grader = (
            None
            if self._setup_ids is None
            else grader.GraderNamespace(grader.KernelStudent(self._ask_kernel))
        )
        bindings = json.dumps(instructor_imports(nb))
        from .sandbox import WORKDIR

        workdir = WORKDIR if self.sandbox else ""
        # Before any import: nothing beside the notebook may shadow the grader's
        # modules (ipykernel puts the working folder first on sys.path).
        self.extra_arguments = [
            "--HistoryManager.hist_file=:memory:",
            "--IPKernelApp.exec_lines=import sys; "
            "sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
            "import autoencoder_lib.instructor.limits as _l, "
            "autoencoder_lib.instructor.guard as _g; "
            f"_l.enter_workdir({workdir!r}); _g.install({bindings}); del _l, _g",
        ]
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._write_report(resources)

    def preprocess_cell(self, cell, resources, index):
        meta = _nbgrader(cell)
        graded = cell.cell_type == "code" and meta.get("grade")
        in_grader = self._grader is not None and cell.cell_type == "code"
        if in_grader and not graded and meta.get("grade_id") in self._setup_ids:
            # The grader's set-up (imports, data): in the kernel, and here.
            cell, resources = super().preprocess_cell(cell, resources, index)
            failed = [
                o
                for o in self._grader.run(cell.source, f"set-up {meta['grade_id']}")
                if o.output_type == "error"
            ]
            for output in failed:
                output.evalue = f"the grader's set-up failed: {output.evalue}"
            cell.outputs.extend(failed)
            return cell, resources
        if not graded:
            return super().preprocess_cell(cell, resources, index)
        grade_id = meta.get("grade_id", f"cell {index + 1}")
        before = self._guard()
        if before:
            self._findings.extend(f"before {grade_id}: {item}" for item in before)
        if in_grader and not meta.get("solution"):
            # The test runs here; the student's kernel only answers its requests.
            cell.outputs = self._grader.run(cell.source, f"test {grade_id}")
            cell.execution_count = None
        else:
            cell, resources = super().preprocess_cell(cell, resources, index)
        after = self._guard()
        if after:
            self._findings.extend(f"during {grade_id}: {item}" for item in after)
            self._zeroed.append(grade_id)
            cell.outputs.append(
                NotebookNode(
                    output_type="error",
                    ename="GraderIntegrityError",
                    evalue="this test cell ran with the grader's checks changed ("
                    + "; ".join(after[:3])
                    + "); it scores zero and the instructor is told",
                    traceback=[],
                )
            )
        return cell, resources

    def _ask_kernel(self, request: str) -> str:
        """One request of the grader's test code to the student's kernel
        (answers.respond there), under the cell time limit."""
        msg_id = self.kc.execute(
            "",
            silent=True,
            store_history=False,
            user_expressions={"r": grader.request_code(request)},
        )
        reply = self.wait_for_reply(msg_id)
        if reply is None or reply.get("content", {}).get("status") != "ok":
            raise AssertionError(
                f"the student's code did not answer within {self.timeout} s"
            )
        return grader.reply_text(reply["content"]["user_expressions"]["r"])

    def _guard(self) -> list[str]:
        """Run the kernel-side check; what it found (a failure to run counts)."""
        nonce = secrets.token_hex(8)
        expression = (
            "__import__('autoencoder_lib.instructor.guard', fromlist=['check'])"
            f".check({nonce!r})"
        )
        try:
            msg_id = self.kc.execute(
                "", silent=True, store_history=False, user_expressions={"g": expression}
            )
            reply = self.wait_for_reply(msg_id)
        except DeadKernelError:
            raise
        except Exception as error:  # a timeout, or a broken channel
            return [f"the grader's check did not answer ({type(error).__name__})"]
        try:
            value = reply["content"]["user_expressions"]["g"]
        except (KeyError, TypeError):
            return ["the grader's check did not run (no answer in the kernel's reply)"]
        if value.get("status") != "ok":
            why = f"{value.get('ename')}: {str(value.get('evalue'))[:120]}"
            return [f"the grader's check did not run ({why})"]
        try:
            result = json.loads(ast.literal_eval(value["data"]["text/plain"]))
        except Exception:
            return ["the grader's check did not run (the kernel's reply was changed)"]
        if result.get("nonce") != nonce:
            return ["the grader's check answered with a forged reply"]
        return list(result.get("found", [])) + list(result.get("events", []))

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg)
        used = self._sizes.get(cell_index, 0)
        if used < 0:  # already cut
            return None
        if (
            used + size > self.cell_output_bytes
            or self._total + size > self.notebook_output_bytes
        ):
            self._sizes[cell_index] = -1
            outs.append(
                NotebookNode(
                    output_type="stream",
                    name="stdout",
                    text=f"\n... output cut by the grader: this cell's output passed "
                    f"{self.cell_output_bytes:,} bytes (or the notebook's "
                    f"{self.notebook_output_bytes:,}); the rest was dropped ...\n",
                )
            )
            return None
        self._sizes[cell_index] = used + size
        self._total += size
        return super().output(outs, msg, display_id, cell_index)

    def _write_report(self, resources) -> None:
        path = os.environ.get(REPORT_ENV)
        if not path:
            return
        notebook = (resources or {}).get("unique_key", "notebook")
        report_path = Path(path)
        report = json.loads(report_path.read_text()) if report_path.is_file() else {}
        report[notebook] = {
            "findings": self._findings,
            "zeroed": self._zeroed,
            "killed": self._killed,
            "sandboxed": self.kernel_manager_class.__name__ == "SandboxedKernelManager",
        }
        report_path.write_text(json.dumps(report, indent=1))


def _clip_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return (
        text[:limit] + f"\n... output cut by the grader: {len(text):,} characters, "
        f"{limit:,} kept ...\n"
    )


class ClipOutputs(Preprocessor):
    """Cut each stored output to ``limit_bytes``: text clipped, binary replaced."""

    enabled = Bool(True)
    limit_bytes = Integer(limits.OUTPUT_LIMIT_BYTES).tag(config=True)
    binary_limit_bytes = Integer(limits.BINARY_LIMIT_BYTES).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                output["text"] = _clip_text(output["text"], self.limit_bytes)
            data = output.get("data", {})
            for key in list(data):
                value = data[key]
                text = value if isinstance(value, str) else json.dumps(value)
                binary = not key.startswith("text/")
                limit = self.binary_limit_bytes if binary else self.limit_bytes
                if len(text) <= limit:
                    continue
                if not binary:
                    data[key] = _clip_text(value, self.limit_bytes)
                else:
                    del data[key]
                    data["text/plain"] = (
                        f"... output cut by the grader: a {key} output of "
                        f"{len(text):,} bytes (limit {limit:,}) ..."
                    )
        return cell, resources


def hidden_test_lines(nb, begin="BEGIN HIDDEN TESTS", end="END HIDDEN TESTS") -> set:
    """The non-trivial lines of every hidden-test block of a notebook."""
    lines, inside = set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if begin in line:
                inside = True
            elif end in line:
                inside = False
            elif inside and len(line.strip()) > 15:
                lines.add(line.strip())
    return lines


class RedactHiddenTests(Preprocessor):
    """Feedback: remove every output line that quotes a hidden test.

    A submission's code runs while the hidden tests run, and can read their source (the
    caller's frame, IPython's cell cache) and print it, in the test cell or later. Runs
    before ClearHiddenTests, while the graded notebook still holds the tests."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        hidden = hidden_test_lines(nb)
        if not hidden:
            return nb, resources

        def redact(text: str) -> str:
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not any(h in line for h in hidden)
            ]
            if len(kept) == len(text.splitlines(keepends=True)):
                return text
            return "".join(kept) + "[lines quoting the hidden tests were removed]\n"

        for cell in nb.cells:
            for output in cell.get("outputs", []):
                if "text" in output:
                    output["text"] = redact(output["text"])
                for key, value in output.get("data", {}).items():
                    if isinstance(value, str):
                        output["data"][key] = redact(value)
                if output.get("output_type") == "error":
                    output["evalue"] = redact(output.get("evalue", ""))
                    output["traceback"] = [
                        redact(t) for t in output.get("traceback", [])
                    ]
        return nb, resources


_PLACEHOLDERS = ("your-org", "{{", "example.com", "example.org")


def check_repository(url: str) -> str:
    """The public repository students get the course from; a placeholder is refused."""
    url = (url or "").strip().removesuffix(".git").rstrip("/")
    if not re.match(r"^https://[^/\s]+/[^\s]+$", url) or any(
        p in url for p in _PLACEHOLDERS
    ):
        raise ValueError(
            "Say where students get the course: REPOSITORY=https://github.com/<org>/"
            f"<repo> (the student edition's public repository), not {url or 'nothing'!r}."
        )
    return url


class ShortTestErrors(Preprocessor):
    """In graded test cells, keep only the last line of an error: type and message."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and _nbgrader(cell).get("grade"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        return cell, resources


class StampCourseLinks(Preprocessor):
    """Fill {{COURSE_REPOSITORY}}, {{COURSE_VERSION}} (the library's version, which
    the student edition tags) and {{COLAB_URL}} in the released notebooks.

    Without a repository (``course/`` here, the instructor's preview) the repository
    and Colab markers stay as they are: only the student edition, built with the
    public repository students get, carries links. A placeholder is refused."""

    enabled = Bool(True)
    repository = Unicode(
        "",
        help="The public repository students install from and Colab opens "
        "(the student edition's); empty for the instructor's preview.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        from autoencoder_lib import __version__ as version

        replacements = {"{{COURSE_VERSION}}": version}
        if self.repository:
            repository = check_repository(self.repository)
            info = resources.get("nbgrader", {})
            path = f"course/{info.get('assignment')}/{info.get('notebook')}.ipynb"
            github = repository.split("github.com/", 1)
            replacements["{{COURSE_REPOSITORY}}"] = repository
            replacements["{{COLAB_URL}}"] = (
                f"https://colab.research.google.com/github/{github[1]}/blob/main/{path}"
                if len(github) == 2
                else "https://colab.research.google.com/"
            )
        for cell in nb.cells:
            for marker, value in replacements.items():
                cell.source = cell.source.replace(marker, value)
        return nb, resources
