"""The live engine: OTLP receivers, the API, and the inbox that feeds the dataflow."""
