"""Lambda handler: deactivate the AWS access key that leaked into an assistant's command.

spanwatch invokes it asynchronously with one incident (its incident-log line, plus
`idempotency_key`). The evidence never carries the key id, only `AKIA…[redacted sha256:<16 hex>]`:
the function finds the key among the account's IAM keys by that digest and sets it Inactive.

This example only logs what it would do. To make it act, give its role iam:ListUsers,
iam:ListAccessKeys and iam:UpdateAccessKey and replace `log.info("would …")` with the calls shown
beside it. Deactivating is idempotent, so a repeated invocation (Lambda's own retries, or
spanwatch resending after a crash) changes nothing; `idempotency_key` is logged to tell them apart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

log = logging.getLogger()
log.setLevel(logging.INFO)

KEY_DIGEST = re.compile(r"\b(?:AKIA)…\[redacted (sha256:[0-9a-f]{16})\]")


def leaked_key_digests(value: Any) -> list[str]:
    """Every AWS long-term key digest in the evidence, in order, each once."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop(0)
        if isinstance(item, str):
            found += [d for d in KEY_DIGEST.findall(item) if d not in found]
        elif isinstance(item, dict):
            stack += list(item.values())
        elif isinstance(item, list):
            stack += item
    return found


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = event.get("incident") or {}
    if event.get("type") != "incident.opened" or incident.get("rule_id") != "credential-in-command":
        log.info("ignored %s for %s", event.get("type"), incident.get("rule_id"))
        return {"actions": []}
    digests = leaked_key_digests(incident.get("evidence"))
    group = incident.get("group") or {}
    actions = []
    for digest in digests:
        # for user in iam.list_users(): for key in iam.list_access_keys(UserName=user):
        #     if "sha256:" + sha256(key["AccessKeyId"]).hexdigest()[:16] == digest:
        #         iam.update_access_key(UserName=..., AccessKeyId=..., Status="Inactive")
        log.info(
            "would deactivate the IAM access key %s leaked by %s in session %s "
            "(incident %s, idempotency key %s)",
            digest,
            group.get("user"),
            group.get("session"),
            incident.get("id"),
            event.get("idempotency_key"),
        )
        actions.append({"deactivate": digest, "user": group.get("user")})
    if not digests:
        log.info("incident %s names no AWS access key: nothing to deactivate", incident.get("id"))
    return {"actions": actions}
