"""spanwatch: replay — history readers and the telemetry simulator.

`readers` expands history paths and yields raw numbered lines (engine decodes them);
`simulate` writes an organisation's OTLP/JSON telemetry with labelled injected incidents and
their ground truth; `cli.simulate_command` is what `spanwatch simulate` runs. This package
imports nothing of the other spanwatch packages.
"""
