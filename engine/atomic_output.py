"""Output files that appear whole or not at all.

A replay writes its incident log as it goes; stopped half-way (`--strict`, a crash, Ctrl-C),
it would leave a partial file that looks like a finished one. Writing to a hidden file beside
the target and renaming it on success (atomic within a directory) leaves either the complete
new file or whatever was there before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def partial_path(target: str) -> str:
    path = Path(target)
    return str(path.with_name(f".{path.name}.partial-{os.getpid()}"))


@contextmanager
def written_whole(targets: list[str | None]) -> Iterator[list[str | None]]:
    """Temporary paths for `targets` (None stays None); renamed over them when the block
    succeeds, removed when it raises or when `discard` is called on the yielded list."""
    temporaries = [partial_path(t) if t else None for t in targets]
    try:
        yield temporaries
    except BaseException:
        _remove(temporaries)
        raise
    for temporary, target in zip(temporaries, targets, strict=True):
        if temporary and target and Path(temporary).exists():
            os.replace(temporary, target)


def discard(temporaries: list[str | None]) -> None:
    """Throw away what was written: the targets keep whatever they held before."""
    _remove(temporaries)


def _remove(paths: list[str | None]) -> None:
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)
