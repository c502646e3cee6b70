"""HTTP throughput at fixed concurrency with wrk (Debian `wrk`), 127.0.0.1 only.

A Lua script rotates through the whole query workload (every thread from its own offset);
each run is bounded in time (`--duration`, 15 s by default) and stops by itself.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .engines.base import HttpTarget

LUA = """
local paths = %(paths)s
local headers = %(headers)s
local i = 0
local tid = 0
setup = function(thread)
  thread:set("tid", tid)
  tid = tid + 1
end
init = function(args)
  i = (tonumber(tid) or 0) * 7919 %% #paths
  for k, v in pairs(headers) do wrk.headers[k] = v end
end
request = function()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
"""


def lua_string(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for these paths


def available() -> str | None:
    return None if shutil.which("wrk") else "wrk not installed (Debian `wrk`)"


def _ms(v: str, unit: str) -> float:
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run(target: HttpTarget, queries: list[str], script: Path, *, threads: int, conns: int,
        seconds: int) -> dict[str, Any]:
    paths = "{" + ",".join(lua_string(target.path(q)) for q in queries) + "}"
    headers = "{" + ",".join(f"[{lua_string(k)}]={lua_string(v)}" for k, v in target.headers.items()) + "}"
    script.write_text(LUA % {"paths": paths, "headers": headers})
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", str(script), target.base + "/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    text = out.stdout + out.stderr
    res: dict[str, Any] = {"threads": threads, "connections": conns, "seconds": seconds, "raw": text[-2000:]}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    res["rps"] = float(m.group(1)) if m else 0.0
    for pct, v, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        res[f"p{pct}_ms"] = _ms(v, unit)
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", text)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:(.*)", text)
    res["socket_errors"] = m.group(1).strip() if m else ""
    return res
