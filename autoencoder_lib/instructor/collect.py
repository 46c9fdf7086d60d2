"""`make collect`: whose file is whose, decided by the archive it came from.

nbgrader's ``zip_collect`` unpacks the LMS downloads and names each file's student from
the file's own name. A student's zip can hold a file named for anyone, so that name is
not evidence: :class:`OwnerCollector` gives each file to the owner of the outermost
LMS-named part of its path (the student's own archive or file, as the LMS named it),
refuses student ids that are not plain names (``.``, ``..``, path separators), and
reports a student's second file of the same name instead of stopping the class.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin
from traitlets import Unicode

_BAD_CHARACTERS = re.compile(r"[/\\\x00-\x1f]")


def id_problem(student_id: str) -> str | None:
    """Why ``student_id`` cannot name a folder of submitted/, or None."""
    if not student_id or student_id in (".", ".."):
        return "is empty or a relative folder name"
    if student_id.startswith(".") or _BAD_CHARACTERS.search(student_id):
        return "starts with a dot or holds a path separator or control character"
    return None


class OwnerCollector(FileNameCollectorPlugin):
    """nbgrader's file-name collector, with the owner taken from the archive."""

    owner_regexp = Unicode(
        r"^(?P<student_id>[^_/]+)_(?:late_)?\d+_\d+_",
        help="Matches the start of a name the LMS gave (a student's file or "
        "archive); its student_id group names the owner.",
    ).tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen: dict[tuple[str, str], str] = {}

    def _relative(self, submitted_file: str) -> Path:
        parent = self.parent
        if parent is not None and hasattr(parent, "extracted_directory"):
            root = parent._format_collect_path(parent.extracted_directory)
            try:
                return Path(os.path.relpath(submitted_file, root))
            except ValueError:
                pass
        return Path(Path(submitted_file).name)

    def collect(self, submitted_file: str) -> dict | None:
        if os.path.splitext(submitted_file)[1] not in self.valid_ext:
            return None
        relative = self._relative(submitted_file)
        owner = None
        for part in relative.parts:
            match = re.match(self.owner_regexp, part)
            if match:
                owner = match.group("student_id")
                break
        if owner is None:
            self.log.warning(
                "Skipped %s: no part of its path is named as the LMS names a "
                "student's submission",
                relative,
            )
            return None
        problem = id_problem(owner)
        if problem:
            self.log.warning(
                "Skipped %s: the student id %r %s", relative, owner, problem
            )
            return None
        named = super().collect(relative.name)
        file_id = named["file_id"] if named else relative.name
        if named and named.get("student_id") != owner:
            self.log.warning(
                "%s is named for %r but came in %r's submission: collected as %r's",
                relative, named.get("student_id"), owner, owner,
            )  # fmt: skip
        key = (owner, file_id)
        if key in self._seen:
            self.log.warning(
                "Skipped %s: %r already handed in a %s (%s); collect it by hand if "
                "it is the one to grade",
                relative, owner, file_id, self._seen[key],
            )  # fmt: skip
            return None
        self._seen[key] = str(relative)
        return {"student_id": owner, "file_id": file_id}
