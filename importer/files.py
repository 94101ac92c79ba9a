"""Writing files so that a reader never sees half of one: the one atomic save of the package."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def save_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` for a temporary file beside ``path``, flush it to disk, then move it onto
    ``path`` in one step (same folder: an atomic rename). On any failure the temporary file is removed and
    ``path`` is left as it was. Returns ``path``."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        write(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
