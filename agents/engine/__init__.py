"""The engine that trains the agents: the fused off- and on-policy loops and the host-stepped loop
(`loop`, `off_policy`, `on_policy`, `host_loop`), the on-device replay buffer, the runs axis and its
sharding (`batching`), sweeps and hyperparameter ranges, the training metrics, and `plan`, the one
place that decides what a run will be. It reads the algorithms through `agents.AGENTS`; no
algorithm imports it (the import-linter contracts in pyproject.toml)."""
