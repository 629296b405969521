"""Running one planned bench on many devices: in parallel on this controller (`fleet`)."""
