"""The telemetry simulator behind `spanwatch simulate`: an organisation's assistant traffic as
OTLP/JSON lines, with labelled injected incidents and their ground truth.

`simulate` runs it; `population` draws the organisation, `workday` and `traffic` its ordinary
sessions, `injected_incidents` (with `placement` and `effects`) the incidents, and
`otlp_json_encoder` writes what a Collector's file exporter would. `shape` and `rebatch` give
histories shaped unlike the defaults; `universe` holds the names the default rules and
detectors are written against.
"""
