"""One module per channel a notification can leave by: console, file, Slack, Teams, SNS and
signed webhooks. Each holds a `Receiver` whose `send` says whether a failure is worth a retry;
the lane in `notifiers.pipeline` decides and retries, so no channel retries on its own."""
