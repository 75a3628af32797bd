"""spanwatch: notifiers — delivery of incident notifications to people and systems.

Entry points (kept out of this module so that importing `notifiers.model` stays cheap):
`notifiers.config.NotifiersConfig`, `notifiers.dispatcher.Dispatcher`,
`notifiers.slack_actions.make_slack_actions_app`, `notifiers.cli.retry_dead_letters`.
One module per channel: console, file, slack, teams, sns, webhook; responders (actions on AWS)
in `notifiers.responders`, one module per kind.
"""
