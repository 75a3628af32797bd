"""The live engine (`spanwatch run`): receivers take telemetry in, the intake log makes it
durable, the dataflow takes it tick by tick, and the API answers people.

The parts, in the order a request goes through them:

- taking requests in: `otlp_http` and `otlp_grpc` (the OTLP receivers), `kafka` with
  `kafka_config` (the Collector's Kafka exporter as a source), `listen` (their sockets),
  `body` (bounded request bodies), `ingest_auth` and `bearer` (who may write), `senders`
  (which sender an event came from: the unit of the watermarks).
- making it durable: `intake` (accepted means on disk before the answer), `wal` with
  `wal_format` and `wal_retention` (the intake log, its frames and what a recovery still
  needs), `inbox` (the bounded hand-over to the dataflow), `disk_space`, `recovery_dir`.
- feeding the dataflow: `source` (one partition that takes from the inbox each tick).
- what comes out: `incident_log` (each transition once, on disk), `views` (what the API answers
  without the dataflow), `silence_file` (silences that survive a restart).
- people and machines asking: `api/` (the HTTP API), `client` (`spanwatch incidents ...`),
  `health` (`spanwatch health`).
- running it: `run` (the engine's wiring), `cluster` (several processes), `shutdown` (stopping
  within a bound).
"""
