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
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
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
        return cls(parts.scheme, parts.hostname, port, root, url)


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

    def request(self, method: str, path: str, body: Any | None = None) -> tuple[int, Any]:
        """Status and decoded JSON body (None when the body is not JSON)."""
        try:
            response = self._send(method, path, body)
            raw = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerError(f"{self._where(path)}: {_describe(exc)}") from exc
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    def get_json(self, path: str) -> Any:
        status, data = self.request("GET", path)
        if status != 200:
            raise ServerError(f"{self._where(path)}: HTTP {status}: {error_text(data)}")
        return data

    def post_json(self, path: str, body: Any) -> Any:
        status, data = self.request("POST", path, body)
        if status != 200:
            raise ServerError(f"{self._where(path)}: HTTP {status}: {error_text(data)}")
        return data

    def stream_events(self, path: str, body: Any) -> Iterator[SseEvent]:
        """POST `body` and yield each `data:` event as it arrives, until `[DONE]` or the end
        of the stream. Raises `ServerError` on an HTTP error, an `error` event or a dropped
        connection; comments (`:` pings) and other fields are skipped."""
        now = time.monotonic_ns
        try:
            response = self._send("POST", path, body)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerError(f"{self._where(path)}: {_describe(exc)}") from exc
        if response.status != 200:
            raw = response.read()
            raise ServerError(
                f"{self._where(path)}: HTTP {response.status}: {error_text(_json_or_text(raw))}"
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
                    raise ServerError(f"{self._where(path)}: not a JSON event: {payload[:200]!r}")
                if "error" in data:
                    raise ServerError(f"{self._where(path)}: {error_text(data)}")
                yield SseEvent(arrival, data)
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise ServerError(
                f"{self._where(path)}: the connection dropped mid-stream ({_describe(exc)})"
            ) from exc
        finally:
            if not done:
                self.close()
        if not done:
            raise ServerError(
                f"{self._where(path)}: the stream ended without [DONE] (the server closed "
                "the connection mid-reply)"
            )
        response.read()  # drain the terminating chunk so the connection can be reused

    def _where(self, path: str) -> str:
        e = self.endpoint
        return f"{e.scheme}://{e.host}:{e.port}{path}"


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
