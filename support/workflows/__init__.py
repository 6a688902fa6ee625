"""Every Inngest function this service serves. ``FUNCTIONS`` is the list given to ``serve()``."""

from __future__ import annotations

from typing import Any

import inngest

from support.workflows.reconcile_decisions import reconcile_decisions
from support.workflows.record_inbound import record_inbound
from support.workflows.request_approval import request_approval

FUNCTIONS: list[inngest.Function[Any]] = [
    record_inbound,
    request_approval,
    reconcile_decisions,
]
