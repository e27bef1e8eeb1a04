"""jax's persistent compilation cache for train.py (`--compile-cache`): a program compiled once loads
from disk in later runs (the same command again, a resume, a sweep re-run).

Entries go to DIR/<fingerprint>, one directory per machine and jax build: XLA:CPU executables hold
the compiling CPU's instructions, and entries written by another jaxlib have crashed their readers
(jax issue 38445 and reports beside it), so a directory shared by the hosts of a cluster, or a jax
upgraded in place, never serves an entry built elsewhere. Fingerprint directories unused for
PRUNE_DAYS are removed. `auto` (the default) is $JAX_COMPILATION_CACHE_DIR where set, else
~/.cache/occam/xla; it is off on macOS with jaxlib older than 0.10 (its loader crashed on large
cached executables), and falls back to no cache with a warning where it cannot be created.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import stat
import sys
import time
import warnings
from pathlib import Path

from agents import ConfigError

MAX_BYTES = 2 * 1024**3
"""Each fingerprint directory's size limit (jax evicts the least recently used entries)."""
DEFAULT_ROOT = Path("~/.cache/occam/xla")
PRUNE_DAYS = 30
"""Sibling fingerprint directories with no entry written or read for this long are removed."""
FINGERPRINT = re.compile(r"[0-9a-f]{16}")


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


def root_of(setting: str) -> Path | None:
    """`--compile-cache` -> the directory that holds the fingerprint directories; None for no cache."""
    value = setting.strip()
    if not value:
        raise ConfigError("--compile-cache takes a directory, auto or none; got an empty value")
    if value.lower() == "none":
        return None
    if value.lower() == "auto":
        import jaxlib

        if sys.platform == "darwin" and tuple(int(p) for p in jaxlib.__version__.split(".")[:2]) < (0, 10):
            return None
        value = os.environ.get("JAX_COMPILATION_CACHE_DIR") or str(DEFAULT_ROOT)
    return Path(value).expanduser().resolve()


def check_private(path: Path, setting: str) -> None:
    """Refuses a directory another user owns or may write into: jax runs the programs it finds there."""
    info = path.stat()
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigError(f"--compile-cache {setting}: {path} belongs to another user; jax runs what it finds in its "
                          "cache, so pass a directory of your own (or none)")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(f"--compile-cache {setting}: others may write into {path}; jax runs what it finds in its "
                          f"cache: chmod go-w {path}, or pass another directory (or none)")


def prune(root: Path, keep: str) -> None:
    """Removes the fingerprint directories in `root` other than `keep` unused for PRUNE_DAYS."""
    cutoff = time.time() - PRUNE_DAYS * 86400
    for directory in root.iterdir():
        if directory.name == keep or not FINGERPRINT.fullmatch(directory.name) or not directory.is_dir():
            continue
        if hasattr(os, "getuid") and directory.stat().st_uid != os.getuid():
            continue
        newest = max((entry.stat().st_mtime for entry in directory.iterdir()), default=directory.stat().st_mtime)
        if newest < cutoff:
            shutil.rmtree(directory, ignore_errors=True)


def directory_for(setting: str) -> Path | None:
    """The fingerprint directory `setting` stands for, created and checked; None for no cache."""
    root = root_of(setting)
    if root is None:
        return None
    path = root / machine_fingerprint()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as error:
        if setting.strip().lower() == "auto":
            warnings.warn(f"no compilation cache: cannot create {path} ({error.strerror}); pass --compile-cache DIR "
                          "to keep one elsewhere", RuntimeWarning, stacklevel=2)
            return None
        raise ConfigError(f"--compile-cache {setting}: cannot create {path} ({error.strerror}); "
                          "pass a writable directory, or none for no cache") from None
    check_private(path, setting)  # the root may be shared (/tmp): the fingerprint directory is ours alone
    prune(root, path.name)
    return path


def use(setting: str) -> Path | None:
    """Points jax's persistent compilation cache at directory_for(setting) for this process's compiles
    from here on (programs that take at least a second to compile are stored); -> the directory."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    path = directory_for(setting)
    directory = None if path is None else str(path)
    if jax.config.jax_compilation_cache_dir != directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES if directory else -1)
        compilation_cache.reset_cache()  # jax opens its cache once per process: the new directory takes effect
    return path
