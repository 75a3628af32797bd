"""Settings shared by the whole suite.

Hypothesis's per-example deadline is a wall-clock limit: on a shared two-core CI machine it
fails a property for being slow, which is no part of what any test here pins (timing belongs in
bench/). Every property runs without it unless it sets its own.
"""

from hypothesis import settings

settings.register_profile("spanwatch", deadline=None)
settings.load_profile("spanwatch")
