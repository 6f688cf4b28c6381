"""A description of the machine a benchmark ran on, measured when it runs (never hard-coded)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _mem_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gpu() -> str:
    """The GPU torch sees, if torch is installed and already imported (never imports it)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return "GPU not checked (torch not loaded)"
    try:
        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)}"
    except Exception:  # noqa: BLE001 - a broken CUDA set-up is still 'no usable GPU'
        pass
    return "no GPU"


def describe_machine(*, threads: int | None = None) -> str:
    """One line: vCPUs, CPU model and the SIMD flags that matter here, RAM, GPU, 1-minute load
    average now (other jobs on a shared machine), Python and (if loaded) torch versions."""
    flags = _cpu_flags()
    simd = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    mem = _mem_gib()
    parts = [f"{os.cpu_count()} vCPU ({_cpu_model()}{'; ' + ', '.join(simd) if simd else ''})"]
    if mem is not None:
        parts.append(f"{mem:.0f} GiB RAM")
    parts.append(_gpu())
    try:
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    except OSError:
        pass
    parts.append(f"Python {platform.python_version()}")
    import sys

    if "torch" in sys.modules:
        parts.append(f"torch {sys.modules['torch'].__version__}" + (f", {threads} thread(s)" if threads else ""))
    return ", ".join(parts)
