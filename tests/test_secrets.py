"""Secrets masked before melt keeps or prints them (melt/secrets.py): URL passwords, an
HTTP URL's userinfo, a secret option's value; and the CLI's log handlers mask every record."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from melt.secrets import SecretFilter, mask_command, mask_data, mask_text, mask_url

SRC = Path(__file__).parents[1] / "src"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://melt:hunter2@db.lab:5432/melt", "postgresql://melt:***@db.lab:5432/melt"),
        ("postgresql+psycopg://u:p%40ss@h/d", "postgresql+psycopg://u:***@h/d"),
        ("postgresql://:onlypw@h/d", "postgresql://:***@h/d"),
        ("https://sk-abc123@api.example/v1", "https://***@api.example/v1"),
        ("http://user:pw@127.0.0.1:8080/v1", "http://user:***@127.0.0.1:8080/v1"),
        # Nothing secret: left as it is.
        ("postgresql://melt@db.lab/melt", "postgresql://melt@db.lab/melt"),
        ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1"),
        ("http://host/search?mail=a@b.c", "http://host/search?mail=a@b.c"),
        ("results/melt.db", "results/melt.db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_mask_text_masks_every_url_and_secret_option_in_a_command_line() -> None:
    line = (
        "melt bench --store 'postgresql://melt:hunter2@db/melt' --endpoint=https://tok@h/v1 "
        "--hf-token abc --db-password='x y' --api-key-env OPENAI_API_KEY --max-new-tokens 4"
    )
    assert mask_text(line) == (
        "melt bench --store 'postgresql://melt:***@db/melt' --endpoint=https://***@h/v1 "
        "--hf-token *** --db-password=*** --api-key-env OPENAI_API_KEY --max-new-tokens 4"
    )


def test_mask_command_masks_option_values_and_urls() -> None:
    argv = ["melt", "--api-key", "sk-1", "--token=t", "postgresql://u:p@h/d", "--api-key-env", "K"]
    assert mask_command(argv) == [
        "melt",
        "--api-key",
        "***",
        "--token=***",
        "postgresql://u:***@h/d",
        "--api-key-env",
        "K",
    ]


def test_mask_data_masks_nested_strings_and_secret_keys() -> None:
    config = {
        "store": "postgresql://u:pw@h/d",
        "api_key": "sk-1",
        "options": [{"endpoint": "http://a:b@h/v1", "threads": 4}],
        "api_key_env": "OPENAI_API_KEY",
    }
    assert mask_data(config) == {
        "store": "postgresql://u:***@h/d",
        "api_key": "***",
        "options": [{"endpoint": "http://a:***@h/v1", "threads": 4}],
        "api_key_env": "OPENAI_API_KEY",
    }


def test_a_log_record_with_a_url_password_is_masked() -> None:
    record = logging.LogRecord(
        "melt.x", logging.WARNING, __file__, 1, "connecting to %s", ("postgresql://u:pw@h/d",), None
    )
    assert SecretFilter().filter(record)
    assert record.getMessage() == "connecting to postgresql://u:***@h/d"


def test_the_cli_log_handlers_mask_every_record() -> None:
    # A process of its own: the CLI's logging setup as a user's `melt` gets it.
    code = (
        "import logging\n"
        "from types import SimpleNamespace\n"
        "from melt.cli.main import main\n"
        "main(SimpleNamespace(invoked_subcommand='bench'), verbose=False)\n"
        "logging.getLogger('melt.store.db').warning(\n"
        "    'store %s unreachable (endpoint %s)',\n"
        "    'postgresql://melt:hunter2@db/melt', 'https://sk-secret@api/v1')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "200"},
        timeout=120,
        check=True,
    )
    assert "postgresql://melt:***@db/melt" in done.stderr
    assert "https://***@api/v1" in done.stderr
    assert "hunter2" not in done.stderr and "sk-secret" not in done.stderr
