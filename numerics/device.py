"""The one place where the compute device is chosen.

``auto`` takes CUDA when a GPU is present and the CPU otherwise; asking for ``cuda`` on a
machine without one is an error, never a silent fallback.
"""

from contextlib import contextmanager

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def choose_device(request: str = "auto") -> torch.device:
    """The torch device for ``request`` in :data:`DEVICE_CHOICES`.

    >>> choose_device("cpu")
    device(type='cpu')
    """
    if request not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)}, got {request!r}")
    if request == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available here")
    if request == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(request)


@contextmanager
def exact_mode():
    """Within the block: TF32 off, autocast off, deterministic kernels requested.

    The policy for float64 identity checks (every check of ``resdepth validate`` runs inside
    it); the previous settings are restored on exit.

    >>> with exact_mode():
    ...     torch.are_deterministic_algorithms_enabled()
    True
    """
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
             torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with torch.autocast("cpu", enabled=False), torch.autocast("cuda", enabled=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[:2]
        torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])
