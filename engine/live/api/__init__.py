"""The engine's HTTP API: health, incidents, acknowledgement, silences, Slack buttons.

Every write endpoint needs `Authorization: Bearer <token>` (the token comes from the
environment); acks, resolves and silences enter the dataflow's control stream, exactly as
a replay's `--control` file does, so all incident state stays in the dataflow. They are
written to the intake log first, like the receivers' events (a crash cannot lose an ack that
was answered). The incident stage applies them as soon as they arrive, and the request waits
(up to `control_wait` seconds) for the outcome: 200 when applied or already so, 404 for an unknown incident, 409
when refused (an ack of a resolved incident), 202 when the answer did not come in time. Once
answered, the next read shows the change. Reads of incidents and silences hold people's
names, emails and repositories: they need the read token or the write token, and so does
`/metrics` (usage labels name teams, repositories and the busiest people) unless
`metrics.auth: none`. `/healthz` stays open and answers only counts (senders under
pseudonyms).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

from engine.live.api.access import Access
from engine.live.api.control_desk import ControlDesk
from engine.live.api.incidents import IncidentRoutes
from engine.live.api.silences import SilenceRoutes
from engine.live.api.status import HealthRoute, MetricsRoute, event_time_health
from engine.live.intake import Intake
from engine.live.views import Views

__all__ = ["event_time_health", "make_api_app"]


def make_api_app(
    views: Views,
    intake: Intake,
    *,
    token: str | None,
    read_token: str | None = None,
    slack_actions: Starlette | None = None,
    clock: Callable[[], float] = time.time,
    ingest_refused: Callable[[], dict[str, int]] | None = None,
    control_wait: float = 2.0,
    health_extra: Callable[[], dict[str, Any]] | None = None,
    metrics: Callable[[], bytes] | None = None,
    metrics_open: bool = False,
) -> Starlette:
    """The API's routes by resource: health, incidents, silences, then metrics and Slack's
    buttons when the engine has them."""
    access = Access(token, read_token)
    desk = ControlDesk(views, intake, control_wait)
    routes: list[BaseRoute] = [
        HealthRoute(views, intake.inbox, ingest_refused, health_extra).route(),
        *IncidentRoutes(views, access, desk, clock).routes(),
        *SilenceRoutes(views, access, desk, clock).routes(),
    ]
    if metrics is not None:
        routes.append(MetricsRoute(metrics, access, open_to_all=metrics_open).route())
    if slack_actions is not None:
        routes.append(Route("/slack/actions", slack_actions, methods=["POST"]))
    return Starlette(routes=routes)
