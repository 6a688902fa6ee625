"""Parsers of raw environment values: each returns the typed value or raises ``ValueError`` with
what a valid value looks like (``load`` turns that into a ``ConfigError`` line)."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit


def url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http(s) URL")
    return value


def url_with_slash(value: str) -> str:
    return url(value).rstrip("/") + "/"


def url_without_slash(value: str) -> str:
    return url(value).rstrip("/")


def database_url(value: str) -> str:
    if not re.match(r"^(sqlite|mysql\+pymysql|mysql)://", value):
        raise ValueError("must start with sqlite:// or mysql+pymysql://")
    if value.startswith("mysql://"):
        value = "mysql+pymysql://" + value[len("mysql://") :]
    return value


def id_list(value: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    for item in ids:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", item):
            raise ValueError(f"{item!r} is not a Slack user id (like U0123ABCD)")
    return ids


def positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a whole number greater than 0")
    return number


def port(value: str) -> int:
    number = int(value)
    if not 0 < number < 65536:
        raise ValueError("must be a TCP port (1-65535)")
    return number


def boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def signing_key(value: str) -> str:
    """``signkey-<env>-<hex>``: Inngest's are 64 hex digits; a self-hosted server takes any even
    number of them (the hex is decoded); fewer than 32 is a key cut short when copied."""
    match = re.fullmatch(r"signkey-[a-z]+-([0-9a-fA-F]+)", value.strip())
    if not match:
        raise ValueError("must look like signkey-<env>-<hex>")
    digits = match.group(1)
    if len(digits) % 2 or len(digits) < 32:
        raise ValueError("the hex part must be an even number of digits, 64 for Inngest Cloud")
    return value.strip()


def log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


def text(value: str) -> str:
    return value.strip()


def log_format(value: str) -> str:
    fmt = value.strip().lower()
    if fmt not in ("text", "json"):
        raise ValueError("must be text or json")
    return fmt


def directory(value: str) -> str:
    if not os.path.isdir(value.strip()):
        raise ValueError("must be an existing directory")
    return value.strip()


def sentry_dsn(value: str) -> str:
    """``https://<public key>@<host>/<project id>``, checked as sentry-sdk's ``Dsn`` checks it (a DSN
    it refuses would stop the service in ``create_app``)."""
    dsn = value.strip()
    parts = urlsplit(dsn)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL (Sentry → Project Settings → Client Keys)")
    if not parts.username:
        raise ValueError("has no public key (https://<key>@<host>/<project id>)")
    if not parts.path.rsplit("/", 1)[-1].isdigit():
        raise ValueError("must end with the numeric project id (https://<key>@<host>/<project id>)")
    return dsn
