"""GGUF files from the Hugging Face Hub: `org/name` or `org/name:file.gguf`.

Downloads go through `huggingface_hub` into `cache_dir()/models/hub`, so a file fetched once
is served from disk afterwards, also offline. Offline means `HF_HUB_OFFLINE` is set (read at
call time, not only when `huggingface_hub` was imported) or the endpoint cannot be reached:
melt checks that with one TCP connection first, because `huggingface_hub` retries a dead
network for about 25 s before it gives up.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from melt.errors import MeltError
from melt.extras import install_hint
from melt.models.artifact import Origin, cache_dir

log = logging.getLogger(__name__)

INSTALL_HINT = install_hint("hub")
DEFAULT_ENDPOINT = "https://huggingface.co"
PROBE_TIMEOUT_S = 3.0
_TRUE = {"1", "ON", "YES", "TRUE"}
# Hub repo ids: `org/name` of letters, digits, '-', '_', '.'; a name ending in .gguf is a
# file path the user mistyped, not a repository.
_SPEC = re.compile(r"^(?P<repo>[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)(?::(?P<file>.+))?$")
_LOCAL_HINT = "download the .gguf file and pass its path instead (--model PATH.gguf)"


@dataclass(frozen=True, slots=True)
class HubRef:
    """A parsed Hub spec: a repository and, optionally, one GGUF file in it."""

    repo_id: str
    filename: str | None = None

    def __str__(self) -> str:
        return f"{self.repo_id}:{self.filename}" if self.filename else self.repo_id


def is_hub_spec(spec: str) -> bool:
    """Whether `spec` reads as a Hub id rather than a local path."""
    match = _SPEC.match(spec)
    return match is not None and not match["repo"].endswith(".gguf")


def parse_hub_spec(spec: str) -> HubRef:
    """`org/name` or `org/name:file.gguf` → HubRef, or a MeltError naming the bad part."""
    match = _SPEC.match(spec)
    if match is None or match["repo"].endswith(".gguf"):
        raise MeltError(
            f"'{spec}' is not a Hugging Face Hub id (expected org/name or org/name:file.gguf)"
        )
    filename = match["file"]
    if filename is not None:
        parts = PurePosixPath(filename).parts
        if not filename.endswith(".gguf") or filename.startswith("/") or ".." in parts:
            raise MeltError(
                f"'{filename}' in '{spec}' is not a .gguf file in the repository "
                "(expected org/name:file.gguf)"
            )
    return HubRef(repo_id=match["repo"], filename=filename)


def hub_cache_dir() -> Path:
    return cache_dir() / "models" / "hub"


def _hub() -> Any:
    """The `huggingface_hub` package with its `constants` and `errors` submodules loaded."""
    try:
        hub = importlib.import_module("huggingface_hub")
        for module in ("huggingface_hub.constants", "huggingface_hub.errors"):
            importlib.import_module(module)
        return hub
    except ImportError:
        raise MeltError(
            f"fetching models from the Hugging Face Hub needs huggingface_hub ({INSTALL_HINT}); "
            f"or {_LOCAL_HINT}"
        ) from None


def _offline_by_env(hub: Any) -> bool:
    """HF_HUB_OFFLINE now, or when huggingface_hub was imported (it honours that value)."""
    now = os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE
    return now or bool(hub.constants.HF_HUB_OFFLINE)


def _endpoint(hub: Any) -> str:
    return os.environ.get("HF_ENDPOINT") or hub.constants.ENDPOINT or DEFAULT_ENDPOINT


def reachable(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether one TCP connection to `url`'s host (or the proxy for it) opens in time."""
    parts = urlsplit(url)
    if parts.hostname and not urllib.request.proxy_bypass(parts.hostname):
        proxy = urllib.request.getproxies().get(parts.scheme)
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if not parts.hostname:
        return False
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _network_errors() -> tuple[type[BaseException], ...]:
    """OSError (requests-based clients) and the httpx transport errors newer clients raise."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(errors)


def _snapshot_entry(path: Path) -> str:
    """`file@commit` for a file in the Hub cache (`.../snapshots/<commit>/<file>`)."""
    parts = path.parts
    if "snapshots" not in parts:
        return path.name
    index = len(parts) - 1 - parts[::-1].index("snapshots")
    return "/".join(parts[index + 2 :]) + "@" + parts[index + 1]


def _from_cache(hub: Any, ref: HubRef, why: str) -> Path:
    if ref.filename is None:
        raise MeltError(
            f"cannot look up '{ref.repo_id}' on the Hugging Face Hub: {why}; "
            f"name a cached file as {ref.repo_id}:FILE.gguf, or {_LOCAL_HINT}"
        )
    try:
        return Path(
            hub.hf_hub_download(
                ref.repo_id, ref.filename, cache_dir=hub_cache_dir(), local_files_only=True
            )
        )
    except hub.errors.LocalEntryNotFoundError:
        raise MeltError(
            f"cannot fetch '{ref}' from the Hugging Face Hub: {why}, and it is not in the "
            f"cache '{hub_cache_dir()}'; {_LOCAL_HINT}"
        ) from None


def _pick_gguf(hub: Any, repo_id: str, endpoint: str) -> str:
    files = hub.HfApi(endpoint=endpoint).list_repo_files(repo_id)
    ggufs = sorted(name for name in files if name.endswith(".gguf"))
    if len(ggufs) == 1:
        return ggufs[0]
    if not ggufs:
        raise MeltError(
            f"Hub repository '{repo_id}' has no .gguf file; download it "
            f"(hf download {repo_id} --local-dir DIR) and pass DIR to convert it with "
            "llama.cpp's convert_hf_to_gguf.py"
        )
    shown = ", ".join(ggufs[:8]) + (", ..." if len(ggufs) > 8 else "")
    raise MeltError(
        f"Hub repository '{repo_id}' has {len(ggufs)} .gguf files; pick one as "
        f"{repo_id}:FILE.gguf ({shown})"
    )


def _download(hub: Any, ref: HubRef, endpoint: str) -> Path:
    errors = hub.errors
    try:
        filename = ref.filename or _pick_gguf(hub, ref.repo_id, endpoint)
        return Path(
            hub.hf_hub_download(ref.repo_id, filename, cache_dir=hub_cache_dir(), endpoint=endpoint)
        )
    except errors.LocalEntryNotFoundError:
        return _from_cache(hub, ref, f"{endpoint} did not answer")
    except errors.GatedRepoError:
        raise MeltError(
            f"Hub repository '{ref.repo_id}' is gated: accept its terms on the Hub and set "
            f"HF_TOKEN, or {_LOCAL_HINT}"
        ) from None
    except errors.RepositoryNotFoundError:
        raise MeltError(
            f"no Hub repository '{ref.repo_id}' (check the name; a private one needs HF_TOKEN)"
        ) from None
    except errors.EntryNotFoundError:
        raise MeltError(
            f"Hub repository '{ref.repo_id}' has no file '{ref.filename}' "
            f"(pass {ref.repo_id} alone to list its .gguf files)"
        ) from None
    except errors.HfHubHTTPError as exc:
        raise MeltError(f"the Hub refused '{ref}': {str(exc).splitlines()[0]}") from None
    except _network_errors() as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _from_cache(hub, ref, f"the network failed ({reason})")


def fetch_hub(spec: str) -> tuple[Path, Origin]:
    """Fetch `org/name` (its only .gguf file) or `org/name:file.gguf` into melt's cache.

    Returns the local path and its provenance: source `hub`, tool `huggingface_hub` and its
    version, and `repo:file@commit` in `note`.
    """
    ref = parse_hub_spec(spec)
    hub = _hub()
    endpoint = _endpoint(hub)
    if _offline_by_env(hub):
        path = _from_cache(hub, ref, "HF_HUB_OFFLINE is set")
    elif not reachable(endpoint):
        path = _from_cache(hub, ref, f"{endpoint} cannot be reached (no network?)")
    else:
        path = _download(hub, ref, endpoint)
    origin = Origin(
        source="hub",
        tool="huggingface_hub",
        tool_version=str(hub.__version__),
        note=f"{ref.repo_id}:{_snapshot_entry(path)}",
    )
    return path, origin
