"""`newsingest demo`: serve the bundled sample site on loopback and ingest it end to end.

The site (``ingest/demo_site/``) is a fictional newspaper written for this project. Its feeds
hold ``{BASE}``, replaced by the server's address when served. Nothing leaves the machine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SITE = Path(__file__).resolve().parent / "demo_site"
FEEDS = ("rss.xml", "atom.xml")


class _Handler(SimpleHTTPRequestHandler):
    base = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].lstrip("/")
        if path in FEEDS:
            body = (SITE / path).read_text("utf-8").replace("{BASE}", self.base).encode()
            self.send_response(200)
            kind = "rss" if path == "rss.xml" else "atom"
            self.send_header("Content-Type", f"application/{kind}+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()


@contextmanager
def serve(port: int = 0) -> Iterator[str]:
    """Serve the sample site on 127.0.0.1; yields its base URL."""
    handler = partial(_Handler, directory=str(SITE))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _Handler.base = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
