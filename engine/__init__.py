"""spanwatch: engine."""
