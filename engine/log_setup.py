"""What `spanwatch run` logs: spanwatch's own lines from INFO up, every library's from WARNING.

Libraries log at INFO and below what an operator need not read and should not keep: botocore
says where it found AWS credentials ("Found credentials in environment variables."), HTTP
clients name the URLs they call at DEBUG (a Slack or Teams webhook's URL is its secret).
"""

from __future__ import annotations

import logging

OWN_LOGGERS = ("spanwatch", "notifiers", "rules")  # the names spanwatch's modules log under
FORMAT = "%(asctime)s %(levelname)s %(message)s"


def configure(level: int = logging.INFO) -> None:
    """One handler on stderr: libraries at WARNING and up, spanwatch's own from `level`."""
    logging.basicConfig(level=logging.WARNING, format=FORMAT)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
