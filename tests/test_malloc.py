"""agents/engine/malloc.py: glibc serves even large blocks from its heap, whose freed memory it
keeps, instead of mapping fresh pages for each (tests/conftest.py sets it for the whole session)."""

import subprocess
import sys

import pytest

PROBE = """
import ctypes, importlib.util
spec = importlib.util.spec_from_file_location("malloc", {path!r})  # the module alone, without jax
malloc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(malloc)

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

if {retain}:
    assert malloc.retain_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
before = libc.mallinfo2().hblkhd
block = libc.malloc(64 * 2**20)  # above glibc's largest mmap threshold (32 MiB)
print(libc.mallinfo2().hblkhd - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
@pytest.mark.parametrize("retain, mapped", [(True, 0), (False, 64 * 2**20)])
def test_a_64_mib_block_comes_from_the_heap_not_a_fresh_mapping(retain, mapped):
    """In a fresh process each (the setting is process-wide): with the setting no byte is mmapped,
    without it the whole block is (the check can fail)."""
    from pathlib import Path

    code = PROBE.format(path=str(Path(__file__).resolve().parents[1] / "agents" / "engine" / "malloc.py"), retain=retain)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= mapped if mapped else int(out.stdout) == 0, out.stdout
