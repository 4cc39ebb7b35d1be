"""A Snuba stand-in for the real Sentry tier: every query answers zero rows.

Sentry 23.7 asks Snuba (ClickHouse behind HTTP) while serializing releases and answering
event, session and stats reads; without any Snuba those answer 500. This answers each query
the way Snuba answers one over an empty store (`{"data": [], "meta": [...]}`), so Sentry's own
request validation and response shaping run. Standard library only: it runs under any Python.

    python snuba_standin.py PORT LOGFILE
"""

from __future__ import annotations

import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG_LOCK = threading.Lock()
# SnQL clauses that end the SELECT and BY lists
CLAUSE = re.compile(r"\s(?:BY|WHERE|HAVING|ORDER BY|LIMIT BY|LIMIT|OFFSET|GRANULARITY|TOTALS)\s")


def split_top(text: str) -> list[str]:
    """Split on commas outside parentheses, brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def clause(query: str, keyword: str) -> list[str]:
    """The expressions of one clause (`SELECT` or `BY`) of a SnQL query."""
    m = re.search(rf"(?:^|\s){keyword}\s", query)
    if m is None:
        return []
    rest = query[m.end() :]
    end = CLAUSE.search(" " + rest + " ")
    return split_top(rest[: end.start() if end else len(rest)] if end else rest)


def names(query: str) -> list[str]:
    """The column names Snuba answers for a SnQL query: each SELECT and BY expression's
    alias (`expr AS `alias``), else the expression itself, as `utils/snuba.py` expects."""
    found: list[str] = []
    for expr in clause(query, "SELECT") + clause(query, "BY"):
        m = re.search(r"\sAS\s+`?([^`]+?)`?$", expr)
        name = m.group(1) if m else expr.strip("`")
        if name not in found:
            found.append(name)
    return found


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "snuba-standin"

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # /health and the like
        self._reply(200, {"status": "ok", "down": False})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with LOG_LOCK:
            sys.stdout.write(f"{self.path} {raw[:2000].decode('utf-8', 'replace')}\n")
            sys.stdout.flush()
        try:
            query = str(json.loads(raw or b"{}").get("query") or "")
        except ValueError:
            query = ""
        self._reply(
            200,
            {
                "data": [],
                "meta": [{"name": n, "type": "UInt64"} for n in names(query)],
                "totals": {},
                "timing": {"timestamp": 0, "duration_ms": 0},
                "stats": {},
                "sql": "",
            },
        )

    def log_message(self, format: str, *args: object) -> None:  # the POST log is enough
        return


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
