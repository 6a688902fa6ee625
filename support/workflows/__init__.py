"""Every Inngest function this service serves. ``FUNCTIONS`` is the list given to ``serve()``."""

from __future__ import annotations

from typing import Any

import inngest

from support.workflows.record_inbound import record_inbound

FUNCTIONS: list[inngest.Function[Any]] = [
    record_inbound,
]
