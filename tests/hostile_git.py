"""A hostile checkout for tests: programs planted in .git/config (and the environment) that
leave a marker file when git runs them, and an http git remote that asks for credentials."""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import git

HOOKS = ("reference-transaction", "post-checkout", "pre-auto-gc", "post-index-change")


def planted(tmp_path: Path, name: str) -> tuple[str, Path]:
    """A program that leaves `<name>.ran` when run (and fails), and that marker's path."""
    marker = tmp_path / f"{name}.ran"
    script = tmp_path / f"{name}.sh"
    script.write_text(f"#!/bin/sh\necho ran >> '{marker}'\nexit 1\n")
    script.chmod(0o755)
    return str(script), marker


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (openssl, as tests/e2e/test_security.py makes)."""
    cert, key = tmp_path / "git-remote.pem", tmp_path / "git-remote.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
         "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@contextmanager
def auth_remote(tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """An http (or, with `tls`, https) git remote that answers 401 (git then asks its
    helpers and askpass)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/repo.git"
    finally:
        server.shutdown()
        server.server_close()


def plant_everything(repo: Path, tmp_path: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Every program-running setting at once in `repo`'s config, a marker per setting; also
    the environment variables that name programs. Returns (markers, environment)."""
    markers: dict[str, Path] = {}

    def program(name: str) -> str:
        path, markers[name] = planted(tmp_path, name)
        return path

    hooks = tmp_path / "hooks"
    hooks.mkdir(parents=True)
    hook = program("hooks")
    for name in HOOKS:
        (hooks / name).symlink_to(hook)
    settings = {
        "core.fsmonitor": program("fsmonitor"),
        "core.hooksPath": str(hooks),
        "core.sshCommand": program("sshcommand"),
        "core.pager": program("pager"),
        "pager.status": program("pager-status"),
        "core.editor": program("editor"),
        "sequence.editor": program("sequence-editor"),
        "core.askPass": program("askpass"),
        "credential.helper": program("credential"),
        "diff.external": program("diff-external"),
        "diff.evil.textconv": program("textconv"),
        "diff.evil.command": program("diff-command"),
        "filter.evil.clean": program("filter-clean"),
        "filter.evil.smudge": program("filter-smudge"),
        "filter.evil.process": program("filter-process"),
        "filter.evil.required": "true",
        "core.alternateRefsCommand": program("alternate-refs"),
        "core.gitProxy": program("gitproxy"),
        "log.showSignature": "true",
        "gpg.program": program("gpg"),
        "remote.origin.uploadpack": program("uploadpack"),
        "protocol.allow": "always",
        "protocol.ext.allow": "always",
        "protocol.fd.allow": "always",
    }
    for key, value in settings.items():
        git(repo, "config", key, value)
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("* filter=evil diff=evil\n")
    for path in repo.rglob("*"):  # a changed stat makes status re-read (and filter) files
        if ".git" not in path.parts and path.is_file():
            os.utime(path, (1, 1))
    environ = {"GIT_SSH": program("git-ssh"), "GIT_SSH_COMMAND": program("git-ssh-command")}
    return markers, environ


def ran(markers: dict[str, Path]) -> list[str]:
    """The settings whose program ran."""
    return sorted(name for name, marker in markers.items() if marker.exists())
