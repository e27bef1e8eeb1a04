"""The run directory: config.json, evals.csv, summary.json, curves.png (see docs/architecture.md)."""
