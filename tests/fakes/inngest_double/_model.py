"""Registered functions, runs, waits and scheduled jobs."""

from __future__ import annotations

import dataclasses
import typing
import urllib.parse

from ._support import hash_step_id, parse_duration

DEFAULT_RETRIES = 4  # server default when the SDK sends no `retries`
TERMINAL = ("completed", "failed", "cancelled")


@dataclasses.dataclass
class FunctionDef:
    """One function as registered through POST /fn/register."""

    id: str
    name: str
    app: str
    url: str
    triggers: list[dict[str, typing.Any]]
    retries: int
    throttle: dict[str, typing.Any] | None
    concurrency: list[dict[str, typing.Any]]
    cancel: list[dict[str, typing.Any]]
    idempotency: str | None
    rate_limit: dict[str, typing.Any] | None
    debounce: dict[str, typing.Any] | None
    raw: dict[str, typing.Any]

    @classmethod
    def from_config(cls, cfg: dict[str, typing.Any], app: str) -> FunctionDef:
        step = (cfg.get("steps") or {}).get("step") or {}
        retries = (step.get("retries") or {}).get("attempts")
        return cls(
            id=cfg["id"],
            name=cfg.get("name") or cfg["id"],
            app=app,
            url=(step.get("runtime") or {}).get("url", ""),
            triggers=list(cfg.get("triggers") or []),
            retries=DEFAULT_RETRIES if retries is None else int(retries),
            throttle=cfg.get("throttle"),
            concurrency=list(cfg.get("concurrency") or []),
            cancel=list(cfg.get("cancel") or []),
            idempotency=cfg.get("idempotency"),
            rate_limit=cfg.get("rateLimit"),
            debounce=cfg.get("debounce"),
            raw=cfg,
        )

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    def expressions(self) -> list[str]:
        """Every CEL expression in the config (checked at registration)."""
        found = [t.get("expression") for t in self.triggers]
        found += [c.get("if") for c in self.cancel]
        found += [c.get("key") for c in self.concurrency]
        found.append(self.idempotency)
        for block in (self.throttle, self.rate_limit, self.debounce):
            if block:
                found.append(block.get("key"))
        return [e for e in found if e]

    def event_triggers(self, name: str) -> list[dict[str, typing.Any]]:
        return [t for t in self.triggers if "event" in t and _name_matches(t["event"], name)]

    @property
    def cron(self) -> str | None:
        return next((t["cron"] for t in self.triggers if "cron" in t), None)

    def call_url(self, target: str | None) -> str:
        parts = urllib.parse.urlsplit(self.url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query["fnId"] = self.id
        query["stepId"] = target or "step"
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _name_matches(pattern: str, name: str) -> bool:
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return pattern == name


@dataclasses.dataclass(eq=False)
class Run:
    """One function run and everything the double did for it."""

    run_id: str
    fn_id: str
    event: dict[str, typing.Any]
    created_at: float
    status: str = "queued"
    output: object = None
    error: dict[str, typing.Any] | None = None
    steps: dict[str, object] = dataclasses.field(default_factory=dict)
    stack: list[str] = dataclasses.field(default_factory=list)
    step_names: dict[str, str] = dataclasses.field(default_factory=dict)
    history: list[dict[str, typing.Any]] = dataclasses.field(default_factory=list)
    started_at: float | None = None
    finished_at: float | None = None
    attempt: int = 0
    calls: int = 0
    disable_immediate: bool = False
    planned: set[str] = dataclasses.field(default_factory=set)
    parent: tuple[Run, str] | None = None
    concurrency_keys: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    pending: dict[str, typing.Any] | None = None
    busy: bool = False

    @property
    def events(self) -> list[dict[str, typing.Any]]:
        return [self.event]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def ops(self) -> list[str]:
        return [h["op"] for h in self.history if "op" in h]

    @property
    def attempts(self) -> list[dict[str, typing.Any]]:
        """One entry per call made to the app: target, attempt, status."""
        return [h for h in self.history if h.get("kind") == "call"]

    def memo(self, step_id: str, index: int = 0) -> object:
        """Memoized value of a step by its user-facing id (KeyError if none)."""
        return self.steps[hash_step_id(step_id, index)]

    def step_output(self, step_id: str, index: int = 0) -> object:
        memo = self.memo(step_id, index)
        return (
            memo.get("data") if isinstance(memo, dict) and set(memo) <= {"data", "error"} else memo
        )

    def log(self, now: float, **entry: typing.Any) -> None:
        self.history.append({"t": now, **entry})

    def to_dict(self) -> dict[str, typing.Any]:
        return {
            "run_id": self.run_id,
            "fn_id": self.fn_id,
            "status": self.status,
            "event": self.event,
            "output": self.output,
            "error": self.error,
            "steps": self.steps,
            "step_names": self.step_names,
            "pending": self.pending,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "history": self.history,
        }


@dataclasses.dataclass(eq=False)
class Wait:
    run: Run
    step: str
    event: str
    if_exp: str | None
    expires_at: float


@dataclasses.dataclass(order=True)
class Job:
    """Scheduled work: an HTTP call to the app, or a timer callback."""

    due: float
    seq: int
    run: Run = dataclasses.field(compare=False)
    target: str | None = dataclasses.field(default=None, compare=False)
    attempt: int = dataclasses.field(default=0, compare=False)
    timer: typing.Callable[[], None] | None = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass
class Debounced:
    fn: FunctionDef
    event: dict[str, typing.Any]
    first_at: float
    due: float


def duration_or_none(text: object) -> float | None:
    return parse_duration(text) if isinstance(text, (str, int, float)) else None
