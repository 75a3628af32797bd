"""The state directory, checked once at start-up: made if missing, and writable.

Everything the live engine keeps (recovery, the incident log, silences, the outbox of the
notifiers) lives there, so a directory that cannot be used is said in one line with the
setting's file and line, not as a traceback from whichever part touched it first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.config import SpanwatchConfig
from engine.yamlfile import ConfigError


def prepare_state_dir(config: SpanwatchConfig) -> Path:
    """The state directory, created when missing; ConfigError when it is unusable."""
    path = Path(config.state_dir)

    def unusable(reason: str) -> ConfigError:
        return ConfigError([config.problem("state_dir", f"{path}: {reason}")])

    if path.exists() and not path.is_dir():
        raise unusable("is a file, not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(f"cannot be created ({exc.strerror or exc})") from None
    try:
        fd, probe = tempfile.mkstemp(dir=path, prefix=".writable-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise unusable(f"is not writable ({exc.strerror or exc})") from None
    return path
