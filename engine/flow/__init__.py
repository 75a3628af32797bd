"""The Bytewax dataflow that replay and the live engine share, and the parts it is made of.

- `dataflow`: the wiring, read -> decode -> match -> order -> correlate and detect ->
  incidents -> deliver; the only place the steps meet Bytewax's operators.
- `steps`: each step as a plain object (decode, match, order, the shards, the incident stage),
  driven and tested without Bytewax.
- `run_setup`: what a run is made of (loaded rules, detectors, incident settings) and where
  each kind of item goes; the shards' state.
- `items`: the values that travel between the steps.
- `event_order`: event-time epochs and the watermark's frontier.
- `epoch_merge`: the incident stage's wait for every shard's share of an epoch.
- `bytewax_step`: a keyed stateful step whose snapshots are cheap; `state_pickle` reads them
  back, whichever module layout wrote them.
- `quarantine`: items a step could not handle, put aside with the reason.
- `replay_source` and `sinks`: replay's sorted history in, the incident log and notifications out.
- `local_cluster` and `replay_process`: replay on a cluster of local processes.
"""
