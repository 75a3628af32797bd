"""From what arrives (OTLP/JSON, OTLP/protobuf, a flat event) to the normalised event.

The parts, in the order a record goes through them:

- `line_decoder`: one history line or Kafka message (JSON) -> events, or `DecodeError` saying
  why the line is not one; the entry point of replay, backtests and the Kafka source.
- `json_decoder`: an OTLP/JSON request (the Collector's file exporter, protobuf's canonical
  JSON mapping) -> events.
- `proto_decoder`: an OTLP/protobuf request (the live receivers, Kafka's `otlp_proto`) ->
  events.
- `normalised_event`: where both encodings end: the flat event, its canonical keys and values.
- `aliases`: which attribute spellings fill each canonical key.
- `model_identity`: one canonical model name for every spelling of a model.
- `event_checks`: values and times that must not enter state, refused with a reason.
"""
