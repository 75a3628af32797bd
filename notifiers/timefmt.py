"""RFC 3339 formatting (a copy of engine/timeutil.iso: notifiers imports nothing of engine)."""

from __future__ import annotations

import datetime as _dt


def iso(t: float) -> str:
    """RFC 3339 in UTC with a `Z`: whole seconds when exact, else milliseconds."""
    whole = int(t // 1)
    millis = round((t - whole) * 1000)
    if millis == 1000:
        whole, millis = whole + 1, 0
    base = _dt.datetime.fromtimestamp(whole, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}Z" if millis == 0 else f"{base}.{millis:03d}Z"
