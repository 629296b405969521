"""An inventory's `llama_server:` reaches the device's facts on every transport, where the
llama-server framework and llama.cpp's tools (`--reconcile`, on-device perplexity) look for
it; it used to be accepted for local and SSH entries and then dropped."""

from __future__ import annotations

from pathlib import Path

from melt.devices.inventory import find_entry, load_inventory, open_device

INVENTORY = """devices:
  - name: here
    transport: local
    llama_server: /opt/llama/bin/llama-server
  - name: orin
    transport: ssh
    host: 10.0.0.5
    llama_server: /home/me/llama.cpp/build/bin/llama-server
    battery_mah: 5000
"""


def test_the_inventory_llama_server_is_a_fact_of_local_and_ssh_devices(tmp_path: Path) -> None:
    path = tmp_path / "melt-devices.yaml"
    path.write_text(INVENTORY)
    inventory = load_inventory(path)
    here = open_device(find_entry(inventory, "here"))
    assert here.facts().extra["llama_server"] == "/opt/llama/bin/llama-server"
    orin = open_device(find_entry(inventory, "orin"))  # no connection until it is used
    assert orin.target.extra == {  # type: ignore[attr-defined]
        "battery_mah": 5000,
        "llama_server": "/home/me/llama.cpp/build/bin/llama-server",
    }
