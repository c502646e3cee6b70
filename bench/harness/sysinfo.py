"""The machine description printed next to every absolute figure."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _mtime() -> str:
    import time

    from .common import ROOT

    p = ROOT / "target" / "release" / "needle"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(p.stat().st_mtime)) if p.exists() else ""


def machine() -> dict[str, Any]:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    free = _cmd(["free", "-g"])
    load = os.getloadavg()
    return {
        "nproc": int(_cmd(["nproc"]) or os.cpu_count() or 0),
        "cpu": cpu,
        "free_g": free,
        "mem_total_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "os": _cmd(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "loadavg_at_start": [round(x, 2) for x in load],
        "needle_binary_mtime": _mtime(),
        "needle_git": _cmd(["git", "rev-parse", "--short", "HEAD"]),
        "needle_git_dirty": bool(_cmd(["git", "status", "--porcelain", "--untracked-files=no"])),
    }
