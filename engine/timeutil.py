"""Event-time formatting shared by the incident log, the CLI and the control stream.

The leaf packages may not import one another, so each keeps its own copy of these two
functions; the engine, which may import them all, uses the replay package's.
"""

from replay.timefmt import iso, parse_time

__all__ = ["iso", "parse_time"]
