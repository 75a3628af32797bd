"""Output files that appear whole or not at all.

A replay writes its incident log as it goes; stopped half-way (`--strict`, a crash, Ctrl-C),
it would leave a partial file that looks like a finished one. Writing to a hidden file beside
the target and renaming it on success (atomic within a directory) leaves either the complete
new file or whatever was there before.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


class OutputError(Exception):
    """An output that cannot be written; says which and why, before any work is done."""


def partial_path(target: str) -> str:
    path = Path(target)
    return str(path.with_name(f".{path.name}.partial-{os.getpid()}"))


@contextlib.contextmanager
def written_whole(targets: list[str | None]) -> Iterator[list[str | None]]:
    """Temporary paths for `targets` (None stays None), created up front so that an output
    that cannot be written stops the work before it starts (OutputError); renamed over the
    targets when the block succeeds, removed when it raises or after `discard`."""
    temporaries = [partial_path(t) if t else None for t in targets]
    try:
        for temporary, target in zip(temporaries, targets, strict=True):
            if temporary and target:
                _create(temporary, target)
        yield temporaries
        for temporary, target in zip(temporaries, targets, strict=True):
            if temporary and target and Path(temporary).exists():
                try:
                    os.replace(temporary, target)
                except OSError as exc:
                    raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        _remove(temporaries)


def _create(temporary: str, target: str) -> None:
    if Path(target).is_dir():
        raise OutputError(f"cannot write {target}: it is a directory")
    blocking = next((p for p in Path(target).parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise OutputError(f"cannot write {target}: {blocking} is not a directory")
    try:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(temporary).open("wb").close()
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None


def discard(temporaries: list[str | None]) -> None:
    """Throw away what was written: the targets keep whatever they held before."""
    _remove(temporaries)


def _remove(paths: list[str | None]) -> None:
    for path in paths:
        if path:
            with contextlib.suppress(OSError):  # never created, or its directory is not one
                Path(path).unlink()
