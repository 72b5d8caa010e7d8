"""Writing a file or folder under a temporary sibling name and renaming it into
place only when it is complete, so that a failed or interrupted write never
leaves a file at the path that looks finished.

The temporary sibling is ``.NAME.winit-TOKEN.tmp`` in the same folder (a rename
within one file system is atomic). A process killed outright (SIGKILL, power
loss) can leave one behind; nothing else does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Any


def _remove(path: Path) -> None:
    """Remove a file, a link or a folder tree, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def check_free(path: Path, overwrite: bool) -> None:
    """Refuse an existing ``path`` unless ``overwrite``."""
    if not overwrite and (path.exists() or path.is_symlink()):
        msg = f"{path} exists; pass overwrite=True to replace it"
        raise FileExistsError(msg)


class Staged:
    """A file or folder being written at a temporary sibling of ``path``.

    Subclasses create their content at :attr:`staging`. Use as a context manager,
    or call :meth:`commit` (rename into place) or :meth:`discard` (remove). Only
    the object that created the staging file can commit or discard it; a copy
    pickled into another process only writes into it.
    """

    def __init__(self, path: str | os.PathLike[str], overwrite: bool) -> None:
        self.path = Path(path)
        self.overwrite = bool(overwrite)
        check_free(self.path, self.overwrite)
        token = secrets.token_hex(4)
        self.staging = self.path.with_name(f".{self.path.name}.winit-{token}.tmp")
        self._owner = True
        self._done = False

    # -- the owner's life cycle ---------------------------------------------------------

    def commit(self) -> Path:
        """Rename the staged content into place (replacing an existing ``path``
        when ``overwrite`` was given) and return the path."""
        self._check_owner("commit")
        if not self.overwrite and (self.path.exists() or self.path.is_symlink()):
            self.discard()
            msg = (
                f"{self.path} appeared while it was being written; pass overwrite=True to "
                "replace it"
            )
            raise FileExistsError(msg)
        if self.path.is_dir() and not self.path.is_symlink():
            # a folder is not replaced by a rename: move it aside first
            old = self.staging.with_suffix(".old")
            os.replace(self.path, old)
            os.replace(self.staging, self.path)
            _remove(old)
        else:
            if self.staging.is_dir() and (self.path.exists() or self.path.is_symlink()):
                self.path.unlink()  # a file (or link) where the folder goes
            os.replace(self.staging, self.path)
        self._done = True
        return self.path

    def discard(self) -> None:
        """Remove the staged content; ``path`` is left as it was."""
        self._check_owner("discard")
        _remove(self.staging)
        self._done = True

    def _check_owner(self, what: str) -> None:
        if not self._owner:
            msg = f"only the target made by winit.files.create can {what}; this is a copy"
            raise RuntimeError(msg)
        if self._done:
            msg = f"{self.path}: the write was already committed or discarded"
            raise RuntimeError(msg)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if self._done:
            return
        if kind is None:
            self.commit()
        else:
            self.discard()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_owner"] = False  # a copy in a worker writes; it never renames or removes
        return {k: v for k, v in state.items() if not k.startswith("_cache")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
