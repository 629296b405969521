"""Hub ids: spec syntax, offline behaviour and the cache, with the real huggingface_hub.

Nothing here reaches the internet: "offline" is HF_HUB_OFFLINE or an endpoint on a closed
local port; a cached file is laid out in huggingface_hub's documented cache format
(`models--org--name/{refs/main, snapshots/<commit>/<file>}`), which the library itself reads;
downloads come from a local server that speaks the Hub's HTTP protocol.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest

from melt.errors import MeltError
from melt.models.hub import (
    HubRef,
    fetch_hub,
    hub_cache_dir,
    is_hub_spec,
    parse_hub_spec,
    reachable,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def online_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No offline setting, as in a process started without HF_HUB_OFFLINE: huggingface_hub
    reads it once at import, so its constant is reset along with the variable."""
    import huggingface_hub.constants

    monkeypatch.setenv("MELT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def _cache_file(repo_id: str, filename: str, data: bytes) -> Path:
    """Put `data` into the Hub cache as `repo_id:filename` at revision main = COMMIT."""
    repo = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    target = repo / "snapshots" / COMMIT / filename
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    return target


@pytest.mark.parametrize(
    ("spec", "ref"),
    [
        ("HuggingFaceTB/SmolLM2-135M-Instruct", HubRef("HuggingFaceTB/SmolLM2-135M-Instruct")),
        ("org/name:model-Q4_K_M.gguf", HubRef("org/name", "model-Q4_K_M.gguf")),
        ("org/my_model.v2:sub/dir/x.gguf", HubRef("org/my_model.v2", "sub/dir/x.gguf")),
    ],
)
def test_parse_hub_spec(spec: str, ref: HubRef) -> None:
    assert parse_hub_spec(spec) == ref
    assert str(ref) == spec
    assert is_hub_spec(spec)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("just-a-name", "is not a Hugging Face Hub id"),
        ("org/name/extra", "is not a Hugging Face Hub id"),
        ("/abs/path/model", "is not a Hugging Face Hub id"),
        ("./org/name", "is not a Hugging Face Hub id"),
        ("models/local.gguf", "is not a Hugging Face Hub id"),
        ("org/na me", "is not a Hugging Face Hub id"),
        ("org/name:", "is not a Hugging Face Hub id"),
        ("org/name:weights.safetensors", "is not a .gguf file in the repository"),
        ("org/name:../../etc/x.gguf", "is not a .gguf file in the repository"),
        ("org/name:/abs.gguf", "is not a .gguf file in the repository"),
    ],
)
def test_bad_spec_syntax_is_one_line_naming_the_spec(spec: str, expected: str) -> None:
    with pytest.raises(MeltError) as err:
        fetch_hub(spec)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)
    assert "org/name:file.gguf" in str(err.value)


def test_paths_do_not_read_as_hub_ids() -> None:
    assert not is_hub_spec("models/local.gguf")
    assert not is_hub_spec("./org/name")
    assert not is_hub_spec("/abs/org/name")
    assert not is_hub_spec("smollm2-135m-instruct")


def test_hf_hub_offline_without_a_cached_file_says_how_to_pass_a_local_file(
    online_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MeltError) as err:
        fetch_hub("org/name:model.gguf")
    message = str(err.value)
    assert "\n" not in message
    assert "HF_HUB_OFFLINE is set" in message
    assert "not in the cache" in message
    assert "--model PATH.gguf" in message


def test_an_unreachable_endpoint_is_reported_as_offline(
    online_env: None, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    assert not reachable(endpoint)
    with pytest.raises(MeltError) as err:
        fetch_hub("org/name:model.gguf")
    message = str(err.value)
    assert "\n" not in message
    assert f"{endpoint} cannot be reached" in message
    assert "--model PATH.gguf" in message


def test_a_repo_without_a_file_name_needs_the_network(
    online_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MeltError, match=r"name a cached file as org/name:FILE\.gguf"):
        fetch_hub("org/name")


@pytest.mark.parametrize("offline", ["HF_HUB_OFFLINE", "HF_ENDPOINT"])
def test_offline_a_cached_file_is_served_from_the_cache(
    online_env: None,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    offline: str,
) -> None:
    import huggingface_hub

    cached = _cache_file("org/name", "model.Q4_1.gguf", b"GGUF downloaded earlier")
    monkeypatch.setenv(
        offline, "1" if offline == "HF_HUB_OFFLINE" else f"http://127.0.0.1:{closed_port}"
    )

    path, origin = fetch_hub("org/name:model.Q4_1.gguf")

    assert path == cached
    assert path.read_bytes() == b"GGUF downloaded earlier"
    assert origin.source == "hub"
    assert origin.tool == "huggingface_hub"
    assert origin.tool_version == huggingface_hub.__version__
    assert origin.note == f"org/name:model.Q4_1.gguf@{COMMIT}"


def test_without_huggingface_hub_the_error_gives_the_install_hint(
    online_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # makes the import fail
    with pytest.raises(MeltError) as err:
        fetch_hub("org/name:model.gguf")
    assert "pip install 'melt-bench[hub]'" in str(err.value)
    assert "--model PATH.gguf" in str(err.value)


def test_reachable_sees_a_listening_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert reachable(f"http://127.0.0.1:{server.getsockname()[1]}")


class _HubProtocol(BaseHTTPRequestHandler):
    """The slice of the Hugging Face Hub's HTTP protocol that `hf_hub_download` and
    `list_repo_files` speak: the tree API, HEAD/GET on `resolve/<revision>/<file>` with the
    Hub's `X-Repo-Commit`/`ETag` headers, and its `X-Error-Code` on a 404. The real
    huggingface_hub client talks to it; no network is needed."""

    repos: ClassVar[dict[str, dict[str, bytes]]] = {}
    requests: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        return

    def _not_found(self, code: str) -> None:
        self.send_response(404)
        self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _route(self, head: bool) -> None:
        self.requests.append(f"{self.command} {self.path}")
        path = urlsplit(self.path).path
        if tree := re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)/?", path):
            files = self.repos.get(tree[1])
            if files is None:
                return self._not_found("RepoNotFound")
            listing = [
                {"type": "file", "path": name, "size": len(data), "oid": _oid(data)}
                for name, data in files.items()
            ]
            return self._send(json.dumps(listing).encode(), "application/json", head)
        if resolve := re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path):
            files = self.repos.get(resolve[1])
            if files is None:
                return self._not_found("RepoNotFound")
            if resolve[3] not in files:
                return self._not_found("EntryNotFound")
            data = files[resolve[3]]
            return self._send(data, "application/octet-stream", head, etag=_oid(data))
        return self._not_found("RepoNotFound")

    def _send(self, body: bytes, kind: str, head: bool, etag: str = "") -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Repo-Commit", COMMIT)
        if etag:
            self.send_header("ETag", f'"{etag}"')
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)


def _oid(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def local_hub(online_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _HubProtocol.repos = {
        "org/one": {"README.md": b"# one", "model.Q8_0.gguf": b"GGUF one"},
        "org/many": {"a.Q4_0.gguf": b"GGUF a", "b.Q8_0.gguf": b"GGUF b"},
        "org/safetensors": {"config.json": b"{}", "model.safetensors": b"\0"},
    }
    _HubProtocol.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HubProtocol)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    yield endpoint
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_repo_with_one_gguf_is_downloaded_into_the_melt_cache(local_hub: str) -> None:
    path, origin = fetch_hub("org/one")

    assert path.read_bytes() == b"GGUF one"
    assert path.is_relative_to(hub_cache_dir())
    assert origin.note == f"org/one:model.Q8_0.gguf@{COMMIT}"
    downloads = [r for r in _HubProtocol.requests if r.startswith("GET /org/one/resolve/")]
    assert len(downloads) == 1


def test_a_file_downloaded_once_is_served_offline(
    local_hub: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = fetch_hub("org/many:b.Q8_0.gguf")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _HubProtocol.requests.clear()

    again, origin = fetch_hub("org/many:b.Q8_0.gguf")

    assert again == first
    assert again.read_bytes() == b"GGUF b"
    assert origin.note == f"org/many:b.Q8_0.gguf@{COMMIT}"
    assert _HubProtocol.requests == []


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("org/many", r"has 2 \.gguf files; pick one as org/many:FILE\.gguf \(a\.Q4_0\.gguf, b"),
        ("org/safetensors", r"has no \.gguf file; download it .*convert_hf_to_gguf\.py"),
        ("org/missing", r"no Hub repository 'org/missing'"),
        ("org/one:model.Q2_K.gguf", r"has no file 'model\.Q2_K\.gguf'"),
    ],
)
def test_hub_answers_become_one_line_errors(local_hub: str, spec: str, expected: str) -> None:
    with pytest.raises(MeltError, match=expected) as err:
        fetch_hub(spec)
    assert "\n" not in str(err.value)
