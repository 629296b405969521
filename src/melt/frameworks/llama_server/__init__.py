"""`--framework llama-server`: llama.cpp's own server, started by melt on the run's device
and driven over HTTP by the openai-http engine with llama-server's dialect.

What this package needs from a device is `host.ServerHost`, which the runner that joins
frameworks and devices provides (`runners/server_host.py`); nothing here imports a device.

- `flags`: llama-server's command line for a run's settings;
- `watchdog`: the sh wrapper that keeps the server from outliving melt's connection;
- `process`: starting it on a free port and waiting for `/health`;
- `engine`: the engine that also reads the server's CPU time; `framework`: the registration.
"""
