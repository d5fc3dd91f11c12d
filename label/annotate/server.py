"""The annotate page's server: one browser tab on this machine, nothing else (``handler``, ``serve``).

serve(session, port=None)        # http://127.0.0.1:PORT/ , keys: 1-9 toggle, Enter accept, s skip, u undo
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from policytheme.data.records import DataError
from policytheme.label.annotate.session import Refused, Session

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 64 * 1024  # an answer is an id and a few theme ids; anything larger is refused unread
TOKEN_HEADER = "X-Policytheme-Token"


def handler(session: Session):
    """Requests from this machine's browser tab only: the Host must be the loopback address and port served
    (no DNS rebinding), an Origin must be the page's own, and every write carries the session's token,
    which only the page knows (no cross-site request can save, skip or undo). Bodies are JSON objects of at
    most MAX_BODY bytes, checked field by field; any failure is a JSON error, never a dropped connection."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no request log in the user's terminal
            return

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, code: int = 200) -> None:
            self._send(code, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

        def _guard(self, write: bool) -> None:
            port = self.server.server_address[1]
            hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
            if self.headers.get("Host") not in hosts:
                raise Refused(403, f"refused: Host must be 127.0.0.1:{port}")
            origin = self.headers.get("Origin")
            if origin is not None and origin not in {f"http://{h}" for h in hosts}:
                raise Refused(403, "refused: a request from another origin")
            if write and not hmac.compare_digest(self.headers.get(TOKEN_HEADER, "").encode(), session.token.encode()):
                raise Refused(403, "refused: no valid session token (the server was restarted? reload the page)")

        def _body(self) -> dict:
            try:
                n = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                raise Refused(400, "Content-Length is not a number") from None
            if n < 0 or n > MAX_BODY:
                self.close_connection = True  # the body is never read
                raise Refused(413, f"a request body is at most {MAX_BODY:,} bytes")
            if n and not (self.headers.get("Content-Type") or "").startswith("application/json"):
                self.close_connection = True
                raise Refused(415, "a request body must be application/json")
            try:
                body = json.loads(self.rfile.read(n).decode("utf-8") or "{}")
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raise Refused(400, "the body is not JSON") from None
            if not isinstance(body, dict):
                raise Refused(400, "the body must be a JSON object")
            return body

        def _handle(self, method: str) -> None:
            try:
                self._guard(write=method == "POST")
                if method == "GET":
                    if self.path == "/":
                        page = PAGE.read_text(encoding="utf-8").replace("__SESSION_TOKEN__", session.token)
                        self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
                    elif self.path == "/api/state":
                        self._json(session.state())
                    elif self.path == "/api/next":
                        self._json({"item": session.next(), "state": session.state()})
                    elif self.path.startswith("/api/item?id="):  # the same paragraph, scored by the newest model
                        from urllib.parse import unquote

                        pid = session._known(unquote(self.path.split("=", 1)[1]))
                        self._json({"item": session.item(session.index[pid]), "state": session.state()})
                    else:
                        raise Refused(404, "not found")
                    return
                body = self._body()
                if self.path == "/api/answer":
                    self._json(session.answer(body.get("id"), body.get("labels")))
                elif self.path == "/api/skip":
                    self._json(session.skip(body.get("id")))
                elif self.path == "/api/undo":
                    self._json(session.undo())
                elif self.path == "/api/retrain":
                    self._json({"started": session.retrain(), **session.state()})
                else:
                    raise Refused(404, "not found")
            except Refused as e:
                self._json({"error": str(e)}, e.status)
            except DataError as e:
                self._json({"error": str(e)}, 400)
            except Exception as e:  # noqa: BLE001 - the page shows it; the server goes on
                self._json({"error": f"{type(e).__name__}: {str(e)[:200]}"}, 500)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


def default_port(out: Path) -> int:
    """A port of its own for each labels file (20000-39999, by a hash of its path), so a restart of the same
    command serves the same address and the open tab keeps working."""
    digest = hashlib.sha256(str(Path(out).resolve()).encode("utf-8")).digest()
    return 20_000 + int.from_bytes(digest[:4], "big") % 20_000


def serve(session: Session, port: int | None = None, open_browser: bool = True) -> ThreadingHTTPServer:
    """Start the page on 127.0.0.1 (only this machine can reach it) in a background thread. ``port`` None:
    the labels file's own port when free, else any free one; 0: any free one."""
    try:
        address = ("127.0.0.1", default_port(session.out) if port is None else port)
        server = ThreadingHTTPServer(address, handler(session))
    except OSError as e:
        if port is not None:
            raise DataError([f"--port {port}: cannot serve on it ({e.strerror})"]) from None
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler(session))
    threading.Thread(target=server.serve_forever, name="policytheme-annotate", daemon=True).start()
    if open_browser:
        webbrowser.open(f"http://127.0.0.1:{server.server_address[1]}/")
    return server
