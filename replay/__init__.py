"""spanwatch: replay — history readers and the telemetry simulator.

`readers` expands history paths and yields raw numbered lines (engine decodes them);
`simulator` writes an organisation's OTLP/JSON telemetry with labelled injected incidents and
their ground truth; `simulator.cli.simulate_command` is what `spanwatch simulate` runs. This
package imports nothing of the other spanwatch packages.
"""
