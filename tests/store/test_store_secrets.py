"""No secret reaches the store: a bench given a PostgreSQL URL with a password and an
`--endpoint` with userinfo (a real PostgreSQL server, a real llama-server) records both as
``***`` in its experiment's command and config, and nowhere in any table holds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from tests.fixtures.llama_server import API_KEY, API_KEY_ENV, RunningServer, llama_server
from tests.store.conftest import new_database
from tests.store.test_store import RUN

from melt.models import Artifact
from melt.store import open_store, schema
from melt.store.location import locate

FIXTURES = Path(__file__).parents[1] / "fixtures" / "melt"
STORE_PASSWORD = "hunter2-store"
ENDPOINT_PASSWORD = "s3cret-endpoint"


@pytest.fixture
def server(llama_server_binary: Path, bundled: Artifact, tmp_path: Path) -> Iterator[RunningServer]:
    with llama_server(llama_server_binary, bundled.path, tmp_path) as running:
        yield running


def _every_row(url: str) -> list[dict[str, object]]:
    engine = create_engine(locate(url).url)
    try:
        with engine.connect() as conn:
            return [
                dict(row._mapping)
                for table in schema.metadata.sorted_tables
                for row in conn.execute(select(table))
            ]
    finally:
        engine.dispose()


def test_a_bench_stores_no_password_of_its_store_or_endpoint(
    melt: Callable[..., object],
    postgres_server: str,
    server: RunningServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    url = new_database(postgres_server)  # trust auth: any password is accepted
    store = url.replace("://melt@", f"://melt:{STORE_PASSWORD}@")
    endpoint = server.url.replace("://", f"://bench-user:{ENDPOINT_PASSWORD}@")
    result = melt(
        "bench",
        "--framework",
        "openai-http",
        "--endpoint",
        endpoint,
        "--api-key-env",
        API_KEY_ENV,
        "--threads",
        "1",
        "--max-new-tokens",
        "4",
        "--conversations",
        "1",
        "--warmup",
        "0",
        "--store",
        store,
        "--json",
    )
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    rows = _every_row(url)
    (experiment,) = [row for row in rows if "command" in row and "config" in row]
    command = str(experiment["command"])
    assert f"--store postgresql://melt:***@{url.split('@', 1)[1]} " in command
    assert f"--endpoint {server.url.replace('://', '://bench-user:***@')} " in command
    everything = repr(rows)
    assert STORE_PASSWORD not in everything
    assert ENDPOINT_PASSWORD not in everything


def test_an_import_stores_no_password_of_its_store(
    melt: Callable[..., object], postgres_server: str
) -> None:
    url = new_database(postgres_server)
    store = url.replace("://melt@", f"://melt:{STORE_PASSWORD}@")
    log = FIXTURES / "llamacpp" / "timings_sigint.log"
    result = melt("import", str(log), "--store", store)
    assert result.code == 0, result.err  # type: ignore[attr-defined]
    rows = _every_row(url)
    (experiment,) = [row for row in rows if "command" in row and "config" in row]
    assert (
        experiment["command"]
        == f"melt import {log} --store {url.replace('://melt@', '://melt:***@')}"
    )
    assert STORE_PASSWORD not in repr(rows)


def test_the_store_masks_what_it_is_given(postgres_url: str) -> None:
    store = open_store(postgres_url, write=True)
    exp = store.create_experiment(
        "e",
        "melt bench --endpoint https://user:pw-1@h/v1 --hf-token tok-2",
        {"endpoint": "http://u:pw-3@h/v1", "nested": [{"api_key": "key-4"}]},
    )
    env = store.environment_id({"host": "h"})
    run_id = store.create_run(
        experiment_id=exp, **{**RUN, "environment_id": env, "settings": {"url": "http://a:pw-5@h"}}
    )
    store.finish_run(run_id, "failed", error="cannot reach postgresql://melt:pw-6@db/melt")
    rows = _every_row(postgres_url)
    text = repr(rows)
    for secret in ("pw-1", "tok-2", "pw-3", "key-4", "pw-5", "pw-6"):
        assert secret not in text
    (experiment,) = [row for row in rows if "command" in row and "config" in row]
    assert experiment["command"] == "melt bench --endpoint https://user:***@h/v1 --hf-token ***"
    assert experiment["config"] == {
        "endpoint": "http://u:***@h/v1",
        "nested": [{"api_key": "***"}],
    }
    assert store.run(run_id)["error"] == "cannot reach postgresql://melt:***@db/melt"
