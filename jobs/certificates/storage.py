"""Where certificate files live: ``<CERTIFICATE_DIR>/event-<id>/<number>.pdf``.

Rows store the path relative to the storage directory, so the directory can be moved or mounted elsewhere
without rewriting the database. One directory per event makes the demo's clean-up a single ``rmtree``.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from ..files import atomic_write


class CertificateStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._resolved = root.resolve()  # once: resolving walks every component of the path with a system call

    def relative_path(self, event_id: int, number: str) -> str:
        return str(PurePosixPath(f"event-{event_id}") / f"{number}.pdf")

    def absolute(self, relative: str) -> Path:
        """The file of a stored relative path; refuses one that would lead outside the storage directory."""
        parts = PurePosixPath(relative)
        if parts.is_absolute() or ".." in parts.parts:
            raise ValueError(f"certificate path {relative!r} points outside {self.root}")
        return self._resolved.joinpath(*parts.parts)

    def write(self, relative: str, pdf: bytes) -> Path:
        """Write atomically (a reader never sees half a file) and return the absolute path."""
        path = self.absolute(relative)
        atomic_write(path, pdf)
        return path

    def exists(self, relative: str | None) -> bool:
        return relative is not None and self.absolute(relative).is_file()

    def read(self, relative: str) -> bytes:
        return self.absolute(relative).read_bytes()

    def remove_event(self, event_id: int) -> None:
        shutil.rmtree(self.root / f"event-{event_id}", ignore_errors=True)
