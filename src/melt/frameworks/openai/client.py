"""A minimal HTTP client for OpenAI-compatible servers, with server-sent events stamped on
arrival.

Standard library only (`http.client`), so nothing between the socket and the clock read is
hidden: `stream_events` reads the response line by line and calls `time.monotonic_ns()` as
soon as a `data:` line has been read, before it is parsed. One persistent connection is kept,
as a chat app keeps one.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from melt.errors import MeltError

DEFAULT_TIMEOUT_S = 300.0


class ServerError(MeltError):
    """The server failed a request: an HTTP error status, an error event in the stream, a
    dropped connection. The message names the server's URL and what it said (one line, as
    the CLI shows it)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a server listens: `root` holds llama-server's own routes (`/health`,
    `/tokenize`), `api` the OpenAI routes (`/v1/chat/completions`)."""

    scheme: str
    host: str
    port: int
    root: str
    url: str

    @property
    def api(self) -> str:
        return self.root + "/v1"

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """`http://host:port`, with or without a trailing `/v1` (both are common)."""
        try:
            parts = urlsplit(url)
            hostname = parts.hostname
        except ValueError as exc:  # e.g. an unclosed IPv6 bracket: 'http://[::1/v1'
            raise MeltError(
                f"--endpoint '{url}' is not a valid URL ({exc}; e.g. http://127.0.0.1:8080/v1)"
            ) from None
        if parts.scheme not in ("http", "https") or not hostname:
            raise MeltError(
                f"--endpoint '{url}' is not an http(s) URL (e.g. http://127.0.0.1:8080/v1)"
            )
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise MeltError(f"--endpoint '{url}': {exc}") from None
        root = parts.path.rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        return cls(parts.scheme, hostname, port, root, url)


def api_key_headers(env_var: str | None) -> dict[str, str]:
    """The `Authorization` header for the key in `env_var` (none without a variable)."""
    if env_var is None:
        return {}
    key = os.environ.get(env_var)
    if not key:
        raise MeltError(
            f"--api-key-env {env_var}: the environment variable {env_var} is not set "
            f"(export {env_var}=<the server's API key>, or drop --api-key-env)"
        )
    return {"Authorization": f"Bearer {key}"}


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One `data:` event of a stream: when its line was read (controller monotonic ns) and
    its JSON payload."""

    arrival_ns: int
    data: dict[str, Any]


class HttpClient:
    """Requests to one server over one kept-alive connection; `headers` go with each (the
    API key's `Authorization` lives only here, in memory)."""

    def __init__(
        self,
        endpoint: Endpoint,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.endpoint = endpoint
        self._headers = {"Accept": "application/json", **(headers or {})}
        self._timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            kind = (
                http.client.HTTPSConnection
                if self.endpoint.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = kind(self.endpoint.host, self.endpoint.port, timeout=self._timeout_s)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, method: str, path: str, body: Any | None) -> http.client.HTTPResponse:
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(self._headers)
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                return conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server closed while idle: reconnect once.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body: Any | None = None) -> Reply:
        """The server's reply, whatever its status (`ServerError` only when there is none)."""
        try:
            response = self._send(method, path, body)
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerError(f"{self.where(path)}: {_describe(exc)}") from exc
        return Reply(
            response.status,
            _json_or_text(raw) if raw else None,
            response.getheader("Content-Type") or "",
            response.getheader("Location"),
        )

    def get_json(self, path: str) -> Any:
        return self._json(path, self.request("GET", path))

    def post_json(self, path: str, body: Any) -> Any:
        return self._json(path, self.request("POST", path, body))

    def _json(self, path: str, reply: Reply) -> Any:
        if reply.status != 200 or not isinstance(reply.data, dict | list):
            raise ServerError(f"{self.where(path)}: {reply.describe()}")
        return reply.data

    def stream_events(self, path: str, body: Any) -> Iterator[SseEvent]:
        """POST `body` and yield each `data:` event as it arrives, until `[DONE]` or the end
        of the stream. Raises `ServerError` on an HTTP error, an `error` event or a dropped
        connection; comments (`:` pings) and other fields are skipped."""
        now = time.monotonic_ns
        try:
            response = self._send("POST", path, body)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerError(f"{self.where(path)}: {_describe(exc)}") from exc
        if response.status != 200:
            raw = response.read()
            raise ServerError(
                f"{self.where(path)}: HTTP {response.status}: {error_text(_json_or_text(raw))}"
            )
        done = False
        try:
            while True:
                line = response.readline()
                arrival = now()
                if not line:
                    break
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    break
                data = _json_or_text(payload)
                if not isinstance(data, dict):
                    raise ServerError(f"{self.where(path)}: not a JSON event: {payload[:200]!r}")
                if "error" in data:
                    raise ServerError(f"{self.where(path)}: {error_text(data)}")
                yield SseEvent(arrival, data)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerError(
                f"{self.where(path)}: the connection dropped mid-stream ({_describe(exc)})"
            ) from exc
        finally:
            if not done:
                self.close()
        if not done:
            raise ServerError(
                f"{self.where(path)}: the stream ended without [DONE] (the server closed "
                "the connection mid-reply)"
            )
        response.read()  # drain the terminating chunk so the connection can be reused

    def where(self, path: str) -> str:
        e = self.endpoint
        return f"{e.scheme}://{e.host}:{e.port}{path}"


@dataclass(frozen=True, slots=True)
class Reply:
    """A server's answer to one request: status, body (decoded JSON, else its text, None
    when empty), content type and redirect target."""

    status: int
    data: Any
    content_type: str = ""
    location: str | None = None

    @property
    def ok_json(self) -> bool:
        return self.status == 200 and isinstance(self.data, dict)

    def describe(self) -> str:
        """What the server answered, in one line (for a message that says why melt stops)."""
        if 300 <= self.status < 400:
            return f"HTTP {self.status}, a redirect to {self.location or '(no Location)'}"
        if isinstance(self.data, str) and "html" in self.content_type.lower():
            return f"HTTP {self.status} with an HTML page, not JSON ({_one_line(self.data)})"
        if self.status == 200 and not isinstance(self.data, dict | list):
            return f"HTTP 200 but not JSON ({_one_line(error_text(self.data))})"
        return f"HTTP {self.status}: {_one_line(error_text(self.data))}"


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace").strip()


def error_text(data: Any) -> str:
    """The message of an OpenAI-style `{"error": {"message": ...}}` body, else the body."""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error)
        return str(error)
    return str(data)[:500] if data else "(empty body)"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running and listening there?)"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out waiting for the server"
    if isinstance(exc, http.client.IncompleteRead):
        return "incomplete read"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
