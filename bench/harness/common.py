"""Shared helpers: paths, text folding for the workload builder, processes, sizes."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
OUT = BENCH / "out"
RESULTS = BENCH / "results"

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "þ": "th", "đ": "d", "ı": "i"})


def strip_marks(s: str) -> str:
    """Remove combining marks from Latin letters (`Beyoncé` -> `Beyonce`), keep the rest."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", s):
        if unicodedata.category(ch) == "Mn" and out and out[-1].isascii():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def has_accents(s: str) -> bool:
    """True when a Latin letter carries a combining accent (`é`, `ö`), not for styled letters."""
    prev = ""
    for ch in unicodedata.normalize("NFD", s):
        if unicodedata.category(ch) == "Mn" and prev.isascii() and prev.isalpha():
            return True
        prev = ch
    return False


def fold(s: str) -> str:
    """Folding used to group names and check prefixes (close to, not the same as, Needle's)."""
    s = strip_marks(s).casefold().translate(_SPECIAL).replace("'", "").replace("’", "")
    s = s.replace("&", " and ")
    return " ".join(_NON_WORD.sub(" ", s).replace("_", " ").split())


def words(s: str) -> list[str]:
    return fold(s).split()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        for line in f:
            if line.strip():
                yield json.loads(line)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
            n += 1
    return n


def du(path: Path) -> int:
    """Bytes on disk under `path` (allocated blocks, like `du`)."""
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(dirpath) / name).lstat().st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0, headers: dict[str, str] | None = None) -> None:
    import requests

    deadline = time.time() + timeout
    last: Exception | None = None
    while time.time() < deadline:
        try:
            r = requests.get(url, timeout=2, headers=headers or {})
            if r.status_code < 500:
                return
        except Exception as e:  # noqa: BLE001 - any connection error means "not yet"
            last = e
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s ({last})")


def vm_hwm_kib(pid: int) -> int:
    """Peak resident set of a running process (VmHWM), KiB; 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for st in Path("/proc").glob("[0-9]*/stat"):
        try:
            parts = st.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(st.parent.name))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_hwm_kib(pid: int) -> int:
    """The largest peak RSS among `pid` and its descendants."""
    return max((vm_hwm_kib(p) for p in descendants(pid)), default=0)


@dataclass
class RunResult:
    seconds: float
    max_rss_kib: int
    returncode: int
    stderr_tail: str = ""


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 stdout: Any = subprocess.DEVNULL, check: bool = True) -> RunResult:
    """Run a command to completion; wall time and the child's own peak RSS (wait4)."""
    # GNU time measures the command's own peak RSS (a child forked from this big process
    # would otherwise inherit our RSS in its ru_maxrss until it execs).
    rss_file = Path(tempfile.mkstemp(prefix="bench-rss-")[1])
    timed = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *cmd] if Path("/usr/bin/time").exists() else cmd
    t0 = time.perf_counter()
    proc = subprocess.Popen(timed, env=env, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.wait()
    secs = time.perf_counter() - t0
    try:
        rss = int(rss_file.read_text().strip().splitlines()[-1])
    except (ValueError, IndexError):
        rss = 0
    rss_file.unlink(missing_ok=True)
    res = RunResult(secs, rss, proc.returncode, err[-3000:])
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{res.stderr_tail}")
    return res


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Log:
    lines: list[str] = field(default_factory=list)

    def __call__(self, msg: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp}] {msg}", flush=True)
        self.lines.append(f"[{stamp}] {msg}")


log = Log()
