"""Responders: actions a route triggers besides notifications.

A responder is a receiver whose payload is one incident and whose send is an AWS call: put an
event on EventBridge, invoke a Lambda function asynchronously, start a Step Functions execution,
send to an SQS queue. Routes and escalation levels name responders exactly like receivers, and
delivery is the notifiers' own: the durable outbox, the delivery log, retries, the circuit
breaker, redaction and dead letters. What differs lives here: one action per incident and
transition with an idempotency key (`actions`), the payload and its size limit, `dry_run`, the
start-up check of the target, and what to do when a crash leaves a send in doubt.
"""
