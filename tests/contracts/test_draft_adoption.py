"""A retried ``create-draft`` adopts the draft Front already has, although Front rewrote its HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from support import db, drafts
from support.front import FrontClient, FrontUnavailable
from tests.fakes.front import FrontFake, front_markup

TOKEN = "front-token"
BODY = 'Hi Jane,\n\nUse **Export** > "CSV" & *then* [the guide](https://example.com/a?b=1&c=2).\n\n- one\n- two'


@pytest.fixture
def front(clean_db: str) -> Iterator[FrontFake]:
    db.configure(clean_db)
    with FrontFake(token=TOKEN) as fake:
        fake.add_inbox("inb_1", ["cha_1"])
        fake.add_conversation("cnv_1", "inb_1", "Help", [{"message_id": "msg_1", "text": "hi"}])
        yield fake


def client(front: FrontFake) -> FrontClient:
    return FrontClient(TOKEN, front.url, timeout=2)


def test_front_rewrites_the_html_but_keeps_the_words(front: FrontFake) -> None:
    html = drafts.to_html(BODY)
    with client(front) as c:
        draft = c.create_draft("cnv_1", body_html=html, channel_id="cha_1")
        [listed] = c.conversation_drafts("cnv_1")
    assert listed.id == draft.id
    assert listed.body_html != html  # the old byte-for-byte check could never adopt it
    assert listed.body_html == front_markup(html)
    assert drafts.visible_text(listed.body_html) == drafts.visible_text(html)


def test_a_retry_after_front_accepted_adopts_the_normalised_draft(
    front: FrontFake, clean_db: str
) -> None:
    # attempt 1: the row is reserved and Front writes the draft, but the answer is lost
    front.slow_next("POST /conversations/*/drafts", 1.0)
    with FrontClient(TOKEN, front.url, timeout=0.3) as c, pytest.raises(FrontUnavailable):
        drafts.create_once(c, key="inbound:evt_1", conversation_id="cnv_1", body=BODY)
    assert len(front.drafts) == 1 and drafts.get("inbound:evt_1")["status"] == "creating"
    # attempt 2 finds it by its words and writes nothing
    with client(front) as c:
        row = drafts.create_once(c, key="inbound:evt_1", conversation_id="cnv_1", body=BODY)
    assert row["status"] == "created" and row["frontDraftId"] == front.drafts[0]["draft"]["id"]
    assert len(front.calls("POST /conversations/*/drafts")) == 1
    # a third call reads the row and does not call Front at all
    front.clear_requests()
    with client(front) as c:
        again = drafts.create_once(c, key="inbound:evt_1", conversation_id="cnv_1", body=BODY)
    assert again["frontDraftId"] == row["frontDraftId"] and front.requests == []


def test_other_words_or_an_older_draft_are_not_adopted(front: FrontFake, clean_db: str) -> None:
    with client(front) as c:
        older = c.create_draft("cnv_1", body_html=drafts.to_html(BODY), channel_id="cha_1")
        c.create_draft("cnv_1", body_html=drafts.to_html("Something else"), channel_id="cha_1")
    # our row was reserved an hour after the teammate's identical draft, then the call failed
    engine = sa.create_engine(clean_db)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO drafts (id, conversation_id, status, body, body_html, created_at,"
                " updated_at) VALUES ('inbound:evt_2', 'cnv_1', 'creating', :b, :h,"
                " :t, :t)"
            ),
            {"b": BODY, "h": drafts.to_html(BODY), "t": _in_an_hour(older.created_at)},
        )
    engine.dispose()
    with client(front) as c:
        row = drafts.create_once(c, key="inbound:evt_2", conversation_id="cnv_1", body=BODY)
    assert row["frontDraftId"] not in (older.id, None)
    assert len(front.drafts) == 3


def _in_an_hour(created_at: float) -> str:
    return (dt.datetime.fromtimestamp(created_at, dt.UTC) + dt.timedelta(hours=1)).strftime(
        "%Y-%m-%d %H:%M:%S"
    )
