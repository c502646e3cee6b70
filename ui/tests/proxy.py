#!/usr/bin/env python3
"""Serve the search page and forward the API to a Needle server, on one origin.

Used when the running needle binary serves an older copy of ui/ than the files on disk
(needle compiles ui/ in; the tests then check the files being edited, not a stale build).
A page on another origin would need CORS, which the server does not send:

    /                      -> ui/index.html
    /ui/<file>             -> ui/<file> (index.html, app.js, style.css)
    /v1/*, /health/*, /metrics, /openapi.json -> forwarded to --upstream as they are

Prints ``PORT <n>`` on stdout once listening (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import http.client
import mimetypes
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

FILES = {"index.html", "app.js", "style.css"}
# The headers needle sends with the page (crates/needle-server/src/routes/ui.rs), so that a
# page tested through the proxy meets the same Content-Security-Policy.
PAGE_HEADERS = {
    "content-security-policy": "default-src 'self'; base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
}
FORWARD = ("/v1/", "/health/", "/metrics", "/openapi.json")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate", "host", "content-length"}


def make_handler(ui_dir: Path, upstream: str):
    target = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args) -> None:  # quiet; errors still go to stderr
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _static(self, path: str) -> None:
            name = "index.html" if path in ("/", "/index.html") else path[len("/ui/"):]
            if name not in FILES:
                self._send(404, b"not found\n", {"content-type": "text/plain"})
                return
            body = (ui_dir / name).read_bytes()
            ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
            if ctype.startswith("text/") or ctype.endswith("javascript"):
                ctype += "; charset=utf-8"
            self._send(200, body, {"content-type": ctype, "cache-control": "no-store", **PAGE_HEADERS})

        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP}
                self._send(resp.status, data, out)
            except OSError as e:
                self._send(502, f"upstream error: {e}\n".encode(), {"content-type": "text/plain"})
            finally:
                conn.close()

        def _route(self) -> None:
            path = urlsplit(self.path).path
            try:
                if path.startswith(FORWARD):
                    self._forward()
                elif self.command in ("GET", "HEAD"):
                    self._static(path)
                else:
                    self._send(405, b"method not allowed\n", {"content-type": "text/plain"})
            except (BrokenPipeError, ConnectionResetError):
                # The page aborted a stale search or the browser closed: nothing to answer.
                self.close_connection = True

        do_GET = do_HEAD = do_POST = do_DELETE = do_PUT = _route

    return Handler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ui", default=str(Path(__file__).resolve().parents[1]), help="the ui/ folder")
    ap.add_argument("--upstream", required=True, help="Needle base URL, e.g. http://127.0.0.1:7700")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Path(args.ui), args.upstream))
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
