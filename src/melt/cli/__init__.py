"""Thin typer commands: parse flags, call the packages, print."""
