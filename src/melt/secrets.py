"""Secrets out of what melt keeps: a password in a URL (``postgresql://user:PW@host``, an
``--endpoint`` with userinfo) or the value of a password/token/key option becomes ``***``
before a command, a config or a log line is stored or printed. One function per shape,
all built on `mask_text`; the store applies them to what it writes (store/db.py) and the
CLI installs `SecretFilter` on its log handlers.

URLs follow RFC 3986: a password's ``/ ? # @`` are percent-encoded (as SQLAlchemy and
every HTTP client require), so the userinfo ends at the first of them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

MASK = "***"

# scheme://user:password@ or scheme://userinfo@ (the user part kept where it is a name).
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)"
    r"(?P<user>[^\s/?#@:'\"]*)(?::(?P<password>[^\s/?#@'\"]*))?@"
)
# Schemes whose userinfo without a password is itself a credential (a token as the user).
_TOKEN_AS_USER = ("http://", "https://", "ws://", "wss://")
# An option whose value is a secret: its name ends with one of these words
# (`--api-key`, `--hf-token`, `--db-password`; not `--api-key-env`, which names a variable).
_SECRET_WORDS = r"(?:password|passwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key)"
_SECRET_OPTION = re.compile(rf"^--?[\w-]*{_SECRET_WORDS}$", re.IGNORECASE)
_SECRET_OPTION_IN_TEXT = re.compile(
    rf"(?P<option>(?<![\w-])--?[\w-]*{_SECRET_WORDS})(?P<sep>=|\s+)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s'\"]+)",
    re.IGNORECASE,
)
_SECRET_KEY = re.compile(rf"^[\w-]*{_SECRET_WORDS}$", re.IGNORECASE)


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, user, password = match["scheme"], match["user"], match["password"]
    if password is not None:
        return f"{scheme}{user}:{MASK}@"
    if scheme.lower() in _TOKEN_AS_USER and user:
        return f"{scheme}{MASK}@"
    return match[0]


def mask_url(url: str) -> str:
    """The URL with its password (or an HTTP URL's whole userinfo) replaced by ``***``."""
    return _URL_USERINFO.sub(_mask_userinfo, url)


def mask_text(text: str) -> str:
    """Any text (a shell command line, a log message, an error) with every URL password and
    every secret option's value replaced by ``***``."""
    text = mask_url(text)
    return _SECRET_OPTION_IN_TEXT.sub(lambda m: f"{m['option']}{m['sep']}{MASK}", text)


def mask_command(argv: Sequence[str]) -> list[str]:
    """A command's arguments as melt may record them: a secret option's value (``--token
    X`` or ``--token=X``) and URL passwords masked."""
    out: list[str] = []
    secret_next = False
    for arg in argv:
        name, eq, _ = arg.partition("=")
        if secret_next:
            out.append(MASK)
        elif eq and _SECRET_OPTION.match(name):
            out.append(f"{name}={MASK}")
        else:
            out.append(mask_url(arg))
        secret_next = not eq and bool(_SECRET_OPTION.match(arg))
    return out


def mask_data(value: Any) -> Any:
    """A JSON-like value (a config, a run's settings) with secrets masked: every string as
    `mask_text` does, and the value of a key named like a secret (``password``, ``api_key``)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {
            k: MASK
            if isinstance(k, str) and _SECRET_KEY.match(k) and isinstance(v, str) and v
            else mask_data(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(mask_data(v) for v in value)
    return value


class SecretFilter(logging.Filter):
    """A handler filter: the record's message, with its arguments, is masked before any
    handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: the handler reports it as logging does
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put a `SecretFilter` on every handler of `logger` (the root logger by default) that
    has none yet: records from every melt module pass through these handlers."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
