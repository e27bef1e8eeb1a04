"""jax's persistent compilation cache for train.py (`--compile-cache`): a program compiled once loads
from disk in later runs (the same command again, a resume, a sweep re-run).

`auto` (the default) is a directory per machine and jax build under ~/.cache/occam/xla: XLA:CPU
executables hold the compiling CPU's instructions, and entries written by another jaxlib have
crashed their readers (jax issues 38445 and others), so a home directory shared by the hosts of a
cluster, or a jax upgraded in place, never serves an entry built elsewhere. It is off on macOS with
jaxlib older than 0.10, whose loader crashed on large cached executables.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path

from agents import ConfigError

MAX_BYTES = 2 * 1024**3
"""The cache's size limit (jax evicts the least recently used entries)."""
ROOT = Path("~/.cache/occam/xla")
"""Where `auto` puts its per-machine directories."""


def machine_fingerprint() -> str:
    """A short hash of what decides whether a compiled executable runs here: jax and jaxlib versions,
    OS, architecture, and the CPU's model and feature flags (from /proc/cpuinfo where there is one)."""
    import jax
    import jaxlib

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text(errors="replace").splitlines()
        cpu = "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags", "Features", "CPU part"))}))
    parts = [jax.__version__, jaxlib.__version__, sys.platform, platform.machine(), cpu]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def resolve(setting: str) -> Path | None:
    """`--compile-cache` -> the directory to use, None for no cache ("none", or `auto` where the cache
    is known to crash)."""
    if setting.strip().lower() == "none":
        return None
    if setting.strip().lower() == "auto":
        import jaxlib

        if sys.platform == "darwin" and tuple(int(p) for p in jaxlib.__version__.split(".")[:2]) < (0, 10):
            return None
        return ROOT.expanduser() / machine_fingerprint()
    return Path(setting).expanduser().resolve()


def use(setting: str) -> Path | None:
    """Points jax's persistent compilation cache at resolve(setting) for this process's compiles from
    here on (programs that take at least a second to compile are stored); -> the directory."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    path = resolve(setting)
    if path is not None:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise ConfigError(f"--compile-cache {setting}: cannot create {path} ({error.strerror}); "
                              "pass a writable directory, or none for no cache") from None
        if not os.access(path, os.W_OK):
            raise ConfigError(f"--compile-cache {setting}: {path} is not writable; pass a writable directory, or none for no cache")
    directory = None if path is None else str(path)
    if jax.config.jax_compilation_cache_dir != directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES if directory else -1)
        compilation_cache.reset_cache()  # jax opens its cache once per process: the new directory takes effect
    return path
