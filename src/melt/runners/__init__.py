"""Where an engine runs (DESIGN.md: Devices and runners): in melt's own process, in the
runner melt ships to a device and drives over a JSON-lines stream, or in a server melt
starts on the device (`frameworks/llama_server`, given the device through
`server_host`). The session picks one by the device's
transport and never asks which it got."""
