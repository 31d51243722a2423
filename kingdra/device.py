"""Pick the torch device: ``"auto"`` tries CUDA, then Apple MPS, then the CPU."""

from __future__ import annotations

import torch

_KNOWN = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def available_devices() -> list[str]:
    """The device names usable here, ``"auto"`` first: auto, cpu, then cuda / mps if present."""
    return (
        ["auto", "cpu"]
        + (["cuda"] if torch.cuda.is_available() else [])
        + (["mps"] if _mps_available() else [])
    )


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a device name into a usable :class:`torch.device`.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "mps"} or torch.device
        ``"auto"`` picks CUDA if available, else MPS, else the CPU. ``"cuda:1"`` style
        indices are accepted.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the name is unknown or the requested device is not available here.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise ValueError(
            f"device must be a string or torch.device, got {type(device).__name__}; "
            f"use one of {', '.join(_KNOWN)}"
        )
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":", 1)[0]
    if kind not in _KNOWN:
        raise ValueError(f"unknown device {device!r}; use one of {', '.join(_KNOWN)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was requested but CUDA is not available; use 'auto' or 'cpu'"
        )
    if kind == "mps" and not _mps_available():
        raise ValueError("device 'mps' was requested but MPS is not available; use 'auto' or 'cpu'")
    try:
        return torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"invalid device {device!r}: {err}") from err


def device_description(device: str | torch.device = "auto") -> str:
    """Human-readable name of the device, e.g. the GPU model or ``"CPU (2 threads)"``."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
