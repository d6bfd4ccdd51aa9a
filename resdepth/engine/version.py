"""The code version a finished check is stored under: a hash of every source file that can
change a row (the packages theorems, graphs, numerics and resdepth), so that ``--resume``
reruns a check after any change to the code, and reuses it otherwise.
"""

import functools
import hashlib
import importlib.util
from pathlib import Path

PACKAGES = ("theorems", "graphs", "numerics", "resdepth")


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 (first 16 hex digits) over the relative paths and bytes of every ``.py`` file of
    :data:`PACKAGES`, in sorted order. Found through import specs: nothing is imported."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            base = Path(root)
            for path in sorted(base.rglob("*.py")):
                digest.update(f"{package}/{path.relative_to(base).as_posix()}\0".encode())
                digest.update(path.read_bytes())
                digest.update(b"\0")
    return digest.hexdigest()[:16]


def fingerprint(label: str, *, mode: str, seed: int, device: str) -> dict:
    """What a check's rows depend on besides its training runs (which are keyed themselves)."""
    import torch

    return {"label": label, "mode": mode, "seed": seed, "device": device,
            "code": code_version(), "torch": torch.__version__}


def changes(old: dict, new: dict) -> str:
    """What differs between two fingerprints, in words (``code changed; mode quick -> full``).

    >>> changes({"mode": "quick", "code": "a"}, {"mode": "full", "code": "b"})
    'code changed; mode quick -> full'
    """
    parts = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            parts.append("code changed" if key == "code"
                         else f"{key} {old.get(key)} -> {new.get(key)}")
    return "; ".join(parts)
