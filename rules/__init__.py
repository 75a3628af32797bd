"""spanwatch rules: Sigma detection and correlation rules compiled for the hot path.

The engine uses `RuleSet` (stateless `evaluate`, `new_correlation_state`, `adopt`),
`CorrelationState` (keyed windows), `RuleReloader` and the `cli` functions.
"""

from .config import RulesConfig
from .correlation import CorrelationState
from .model import CorrelationInput, RuleHit, RuleLoadError, RuleProblem
from .reload import RuleReloader
from .ruleset import RuleSet

__all__ = [
    "CorrelationInput",
    "CorrelationState",
    "RuleHit",
    "RuleLoadError",
    "RuleProblem",
    "RuleReloader",
    "RuleSet",
    "RulesConfig",
]
