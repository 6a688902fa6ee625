"""Every Inngest function this service serves. ``FUNCTIONS`` is the list given to ``serve()``."""

from __future__ import annotations

from typing import Any

import inngest

from support.workflows.auto_send_draft import auto_send_draft
from support.workflows.execute_action import execute_action
from support.workflows.handle_inbound_message import handle_inbound_message
from support.workflows.ping import ping
from support.workflows.process_refund import process_refund
from support.workflows.reconcile_decisions import reconcile_decisions
from support.workflows.request_approval import request_approval
from support.workflows.revise_draft import revise_draft

FUNCTIONS: list[inngest.Function[Any]] = [
    ping,
    request_approval,
    reconcile_decisions,
    handle_inbound_message,
    execute_action,
    process_refund,
    auto_send_draft,
    revise_draft,
]
