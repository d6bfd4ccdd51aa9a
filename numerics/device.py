"""The one place where the compute device is chosen.

``auto`` takes CUDA when a GPU is present and the CPU otherwise; asking for ``cuda`` on a
machine without one is an error, never a silent fallback.
"""

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


def exact_mode() -> None:
    """Switch off TF32 and ask for deterministic kernels: the policy for float64 identity checks."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)
