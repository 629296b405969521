"""Terminal tables and machine-readable documents of results (DESIGN.md: report)."""
