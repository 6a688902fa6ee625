"""Small pure helpers: durations, times, ids, CEL, GCRA and request signing."""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import hmac
import json
import os
import re
import threading
import time
import urllib.parse

import celpy
import jcs

# ---------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}


def parse_duration(text: str | int | float | None) -> float | None:
    """Inngest time string ("10s", "2h45m", "1d") -> seconds. Numbers are ms."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text) / 1000.0
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration: {text!r}")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def parse_iso(text: str) -> float:
    """ISO 8601 / RFC 3339 timestamp -> unix seconds."""
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.timestamp()


def parse_retry_after(value: str | None) -> tuple[str, float] | None:
    """Retry-After header -> ("delay", seconds) or ("at", real unix seconds)."""
    if not value:
        return None
    value = value.strip()
    try:
        return ("delay", float(value))
    except ValueError:
        pass
    try:
        return ("at", parse_iso(value))
    except ValueError:
        pass
    try:
        return ("at", email.utils.parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        return None


def to_iso(ts: float) -> str:
    value = datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------- ids

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now: float) -> str:
    """A ULID (26 chars, Crockford base32) like the ids the real server makes."""
    number = (int(now * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return "".join(reversed(chars))


def hash_step_id(step_id: str, index: int = 0) -> str:
    """The wire id of a step: sha1("id"), repeats sha1("id:1"), sha1("id:2")..."""
    raw = step_id if index == 0 else f"{step_id}:{index}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()  # noqa: S324


# ---------------------------------------------------------------- clock


class VirtualClock:
    """Unix-seconds clock. Frozen by default (moves only on advance()); with
    realtime=True it also follows the wall clock."""

    def __init__(self, start: float | None = None, realtime: bool = False):
        self._base = time.time() if start is None else start
        self._real0 = time.time()
        self._offset = 0.0
        self.realtime = realtime
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            elapsed = time.time() - self._real0 if self.realtime else 0.0
            return self._base + self._offset + elapsed

    def now_ms(self) -> int:
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
        return self.now()

    def set(self, when: float) -> None:
        delta = when - self.now()
        if delta > 0:
            self.advance(delta)


# ---------------------------------------------------------------- CEL


class CelError(Exception):
    pass


class Cel:
    """Evaluates Inngest expressions with cel-python (compiled programs cached)."""

    def __init__(self) -> None:
        self._env = celpy.Environment()
        self._programs: dict[str, object] = {}
        self._lock = threading.Lock()

    def check(self, expr: str) -> str | None:
        """Return an error message if the expression does not compile."""
        try:
            self._program(expr)
        except Exception as err:  # noqa: BLE001 - report any compile error
            return f"invalid expression {expr!r}: {err}"
        return None

    def evaluate(self, expr: str, activation: dict[str, object]) -> object:
        with self._lock:
            program = self._program(expr)
            cel_vars = {k: celpy.json_to_cel(v) for k, v in activation.items()}
            try:
                result = program.evaluate(cel_vars)  # type: ignore[attr-defined]
            except Exception as err:  # noqa: BLE001 - missing keys etc.
                raise CelError(str(err)) from err
        if isinstance(result, Exception):
            raise CelError(str(result))
        return cel_to_python(result)

    def is_true(self, expr: str | None, activation: dict[str, object]) -> bool:
        if not expr:
            return True
        try:
            return self.evaluate(expr, activation) is True
        except CelError:
            return False

    def key(self, expr: str | None, activation: dict[str, object]) -> str:
        """Evaluate a key expression to a stable string ("" when absent/failing)."""
        if not expr:
            return ""
        try:
            value = self.evaluate(expr, activation)
        except CelError:
            return ""
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    def _program(self, expr: str) -> object:
        program = self._programs.get(expr)
        if program is None:
            program = self._env.program(self._env.compile(expr))
            self._programs[expr] = program
        return program


def cel_to_python(value: object) -> object:
    types = celpy.celtypes
    if isinstance(value, types.BoolType):
        return bool(value)
    if isinstance(value, (types.IntType, types.UintType)):
        return int(value)
    if isinstance(value, types.DoubleType):
        return float(value)
    if isinstance(value, types.StringType):
        return str(value)
    if isinstance(value, types.MapType):
        return {str(cel_to_python(k)): cel_to_python(v) for k, v in value.items()}
    if isinstance(value, types.ListType):
        return [cel_to_python(v) for v in value]
    if value is None or isinstance(value, types.NullType):
        return None
    return value


# ---------------------------------------------------------------- GCRA


class Gcra:
    """The server's GCRA (queue/lua gcra.lua): emission = period/limit, up to
    limit+burst admissions at once, then one per emission interval."""

    def __init__(self, limit: int, period: float, burst: int):
        self.limit = max(int(limit), 1)
        self.period = float(period)
        self.burst = max(int(burst), 0)
        self._tat: dict[str, float] = {}

    def try_take(self, key: str, now: float) -> tuple[bool, float]:
        """Admit one at `now`? Returns (allowed, earliest time it would be)."""
        emission = self.period / self.limit
        tolerance = emission * (self.limit + self.burst)
        tat = self._tat.get(key, now)
        new_tat = max(tat, now) + emission
        allow_at = new_tat - tolerance
        if now < allow_at:
            return False, allow_at
        self._tat[key] = new_tat
        return True, now

    def next_allowed(self, key: str, now: float) -> float:
        emission = self.period / self.limit
        tolerance = emission * (self.limit + self.burst)
        tat = self._tat.get(key, now)
        return max(now, max(tat, now) + emission - tolerance)


# ---------------------------------------------------------------- signing


def strip_key_prefix(signing_key: str) -> str:
    return re.sub(r"^signkey-\w+-", "", signing_key)


def hashed_signing_key(signing_key: str) -> str:
    """What the SDK puts in `Authorization: Bearer ...` for API calls."""
    return hashlib.sha256(bytes.fromhex(strip_key_prefix(signing_key))).hexdigest()


def canonical_json(obj: object) -> bytes:
    """JCS (RFC 8785) bytes: what the SDK canonicalizes bodies to before HMAC."""
    return jcs.canonicalize(obj)


def sign(body: bytes, signing_key: str, unix_s: int | None = None) -> str:
    """`X-Inngest-Signature` value: HMAC-SHA256 keyed with the key text after
    the `signkey-<env>-` prefix (not hex-decoded) over body + str(t)."""
    unix_s = int(time.time()) if unix_s is None else unix_s
    mac = hmac.new(strip_key_prefix(signing_key).encode("utf-8"), body, hashlib.sha256)
    mac.update(str(unix_s).encode("utf-8"))
    return f"t={unix_s}&s={mac.hexdigest()}"


def verify(body: bytes, header: str | None, signing_key: str) -> bool:
    if not header:
        return False
    parsed = urllib.parse.parse_qs(header)
    if "t" not in parsed or "s" not in parsed:
        return False
    expected = sign(body, signing_key, int(parsed["t"][0]))
    return hmac.compare_digest(expected.split("&s=")[1], parsed["s"][0])
