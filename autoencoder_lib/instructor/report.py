"""What the class runner says of each student: the outcome of a run, in one line,
the cells that hit a limit, why a kernel died, and the progress of a class."""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import limits, submissions

# Calls that end the kernel; a submission containing one is the likely cause of a death.
_KERNEL_KILLERS = re.compile(
    r"os\._exit|os\.kill|sys\.exit|exit\(|quit\(|signal\.SIG|os\.abort"
)


@dataclass
class Outcome:
    student: str
    graded: bool
    score: float | None = None
    max_score: float | None = None
    manual_points: float = 0.0
    sandboxed: bool = True
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    earlier: bool = False

    def line(self) -> str:
        if self.graded:
            status = f"graded  {self.score:g} / {self.max_score:g}"
        else:
            status = "NOT GRADED"
        notes = list(self.notes)
        if self.graded and self.manual_points:
            notes.insert(0, f"{self.manual_points:g} points wait for grading by hand")
        if self.earlier:
            notes.insert(0, "graded earlier, unchanged since (FORCE=1 regrades)")
        if self.flags:
            notes.append("FLAGGED for review: " + "; ".join(self.flags[:4]))
            if len(self.flags) > 4:
                notes[-1] += f"; and {len(self.flags) - 4} more (see the log)"
        if not self.sandboxed:
            notes.append("graded UNSANDBOXED")
        return f"  {self.student:<24} {status:<20} {'; '.join(notes)}"

    def needs_look(self) -> bool:
        return not self.graded or bool(self.flags) or bool(self.notes)


def limits_line() -> str:
    return (
        f"{limits.cell_timeout_s()} s per cell, "
        f"{limits.kernel_memory_gb():g} GiB and {limits.scratch_mb()} MiB of disk "
        "per kernel"
    )


def cell_notes(notebook: Path) -> list[str]:
    """Cells of a graded notebook that hit a limit, in plain words."""
    timeout = limits.cell_timeout_s()
    memory = f"{limits.kernel_memory_gb():g}"
    notes = []
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for number, cell in enumerate(nb.get("cells", []), start=1):
        outputs = cell.get("outputs", [])
        names = {o.get("ename") for o in outputs}
        text = "".join("".join(o.get("text", "")) for o in outputs) + "".join(
            "".join(o.get("data", {}).get("text/plain", "")) for o in outputs
        )
        where = f"cell {number}"
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id:
            where += f" ({grade_id})"
        if "CellTimeoutError" in names:
            notes.append(f"{where} stopped at the {timeout} s time limit")
        if "MemoryError" in names:
            notes.append(f"{where} hit the {memory} GiB memory limit")
        if "output cut by the grader" in text:
            notes.append(f"{where} printed too much; its output was cut")
        if "No space left on device" in json.dumps(outputs):
            notes.append(f"{where} filled its {limits.scratch_mb()} MiB of disk")
    return notes


def death_hint(folder: Path) -> str:
    for path in sorted(folder.glob("*.ipynb")):
        nb, error = submissions.read_notebook(path)
        if error:
            continue
        for number, cell in enumerate(nb.get("cells", []), start=1):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            match = _KERNEL_KILLERS.search(source)
            if cell.get("cell_type") == "code" and match:
                return f" (cell {number} calls {match.group(0).rstrip('(')})"
    return ""


class Progress:
    """done / total and the time left, on stderr, as each student finishes."""

    def __init__(self, assignment: str, total: int):
        self.assignment, self.total, self.done = assignment, total, 0
        self.start = time.monotonic()

    def tick(self) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(
            f"  ... {self.assignment}: {self.done} / {self.total} graded, "
            f"{elapsed:.0f} s so far, about {left:.0f} s left",
            file=sys.stderr,
            flush=True,
        )
