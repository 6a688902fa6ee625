"""Front drafts written exactly once per run, and markdown turned into the HTML Front expects.

Why a table: a step that creates a draft can be retried after Front accepted the draft (the response
was lost, the process died before the step's result reached Inngest). ``create_once(key=...)``
therefore:

1. looks up the ``drafts`` row for a deterministic ``key`` (``inbound:<front event id>``,
   ``revise:<action id>``, ``action:<action id>``); a row ``created`` means the draft exists: its id is
   returned and Front is not called;
2. otherwise writes the row as ``creating`` *before* calling Front (committed);
3. when the row was already ``creating`` (an earlier attempt got as far as the call), lists the
   conversation's drafts and adopts one with the same *words* instead of writing a second one
   (if Front cannot list drafts, it writes the draft: a duplicate draft is visible and harmless,
   a missing reply is not);
4. creates the draft on the conversation's channel (found through its inbox) and marks the row
   ``created`` with Front's draft id, in the same breath as the answer arrives.

Why words and not the HTML: Front stores a draft's body in its own markup (``<p>`` may come back as
``<div>``, ``<strong>`` as ``<b>``, whitespace and entities rewritten), so the HTML we sent is not what
``GET /conversations/{id}/drafts`` returns, byte for byte. Front's API gives a reply draft no field
of ours that it keeps verbatim (no metadata, no external id; a subject would change the email), and
invisible markers are the first thing an HTML sanitiser drops. What Front keeps is the text: the
adoption key is the body's visible text with tags removed, entities decoded and whitespace dropped
(``visible_text``), on a draft created since the row was reserved (less a clock-skew margin), so a
teammate's older draft with the same words is not taken for ours.

Markdown is rendered with markdown-it-py in CommonMark mode with raw HTML disabled, so text from the
model can not inject markup into the email.
"""

from __future__ import annotations

import datetime as dt
import functools
import html as html_lib
import logging
import re
from typing import Any

from sqlalchemy.exc import IntegrityError

from support import audit, db
from support.db.models import Draft, utcnow
from support.front import FrontClient
from support.front_errors import FrontError, FrontNotFound
from support.results import DraftRecord

log = logging.getLogger(__name__)


@functools.cache
def _renderer() -> Any:
    """CommonMark with raw HTML off; imported on first use (it is not needed to serve requests)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def to_html(markdown: str) -> str:
    html: str = _renderer().render(markdown)
    return html.strip()


def record(row: Draft) -> DraftRecord:
    """The row as a step output: every field of ``DraftRecord`` but ``key`` is the column of that
    name."""
    columns = {name: getattr(row, name) for name in DraftRecord.model_fields if name != "key"}
    return DraftRecord(key=row.id, **columns)


def to_json(row: Draft) -> dict[str, Any]:
    return record(row).dump()


def _reserve(key: str, **fields: Any) -> tuple[DraftRecord, bool]:
    """(row, existed_before). Inserts the ``creating`` row when there is none."""
    try:
        with db.session() as s:
            row = s.get(Draft, key)
            if row is not None:
                return record(row), True
            row = Draft(id=key, status="creating", **fields)
            s.add(row)
            s.flush()
            return record(row), False
    except IntegrityError:  # a concurrent attempt inserted it first
        with db.session() as s:
            row = s.get(Draft, key)
            assert row is not None
            return record(row), True


def get(key: str) -> dict[str, Any] | None:
    with db.session() as s:
        row = s.get(Draft, key)
        return to_json(row) if row is not None else None


def create_once(
    front: FrontClient,
    *,
    key: str,
    conversation_id: str,
    body: str,
    app_id: int | None = None,
    action_id: str | None = None,
    inbox_id: str | None = None,
    category: str | None = None,
    confidence: float | None = None,
) -> dict[str, Any]:
    html = to_html(body)
    row, existed = _reserve(
        key,
        conversation_id=conversation_id,
        app_id=app_id,
        action_id=action_id,
        body=body,
        body_html=html,
        category=category,
        confidence=confidence,
    )
    if row.status != "creating" and row.front_draft_id:
        return row.dump()
    draft_id: str | None = None
    channel_id: str | None = None
    if existed:
        draft_id = _find_existing(front, conversation_id, html, _reserved_at(key))
    if draft_id is None:
        channel_id = front.channel_for(conversation_id, preferred_inbox=inbox_id)
        draft_id = front.create_draft(conversation_id, body_html=html, channel_id=channel_id).id
    with db.session() as s:
        draft = s.get(Draft, key)
        assert draft is not None
        draft.status, draft.front_draft_id = "created", draft_id
        draft.channel_id = channel_id or draft.channel_id
        audit.append_in(
            s,
            "draft.created",
            actor="agent",
            action_id=action_id,
            conversation_id=conversation_id,
            detail={"key": key, "frontDraftId": draft_id},
        )
        s.flush()
        return to_json(draft)


def visible_text(html: str) -> str:
    """What Front keeps of an HTML body whatever markup it rewrites: its characters, with tags
    removed, entities decoded and whitespace dropped (Front may add or move tags and line breaks
    anywhere, even inside a word)."""
    return "".join(html_lib.unescape(_TAG.sub("", html)).split())


_TAG = re.compile(r"<[^>]*>")
CLOCK_SKEW = dt.timedelta(minutes=5)


def _reserved_at(key: str) -> dt.datetime | None:
    with db.session() as s:
        row = s.get(Draft, key)
        return row.created_at if row is not None else None


def _find_existing(
    front: FrontClient, conversation_id: str, html: str, since: dt.datetime | None
) -> str | None:
    try:
        drafts = front.conversation_drafts(conversation_id)
    except (FrontNotFound, FrontError) as exc:
        if type(exc) not in (FrontNotFound, FrontError):
            raise  # rate limits, outages and bad tokens are the step's business
        log.warning("drafts.list_failed conversation_id=%s error=%s", conversation_id, exc)
        return None
    words = visible_text(html)
    earliest = (since - CLOCK_SKEW).replace(tzinfo=dt.UTC).timestamp() if since else None
    for draft in drafts:
        if earliest is not None and draft.created_at < earliest:
            continue
        if visible_text(draft.body_html or draft.text) == words:
            log.info("drafts.adopted conversation_id=%s draft_id=%s", conversation_id, draft.id)
            return draft.id
    return None


def mark_sent(key: str) -> None:
    with db.session() as s:
        draft = s.get(Draft, key)
        if draft is not None:
            draft.status, draft.sent_at = "sent", utcnow()
