"""OpenAI-compatible servers over HTTP (`--framework openai-http`, and the client half of
`llama-server`).

- `client`: one kept-alive HTTP connection, server-sent events stamped on arrival;
- `events`: the shape of one streamed event, checked once;
- `counts`: the server's counts checked against what was observed;
- `stream`: `TurnStream`, the pure fold of one turn's events into stamps and figures;
- `dialect`: what differs between servers (request body, tokenizer), and which one this is;
- `engine`: the chat engine over the above; `framework`: the registered `openai-http`.
"""
