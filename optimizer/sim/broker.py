"""A real mosquitto broker, configured and watched the way the CarData simulator needs it.

mosquitto does the MQTT and the TLS (1.3 only, as BMW since early 2026) and checks passwords
against a password file. We get BMW's session rules out of it through two mosquitto facts:

* on SIGHUP it reloads the password file and disconnects every client whose password no longer
  matches; so replacing a gcid's password closes that account's stream, which is how the
  simulator closes a stream when its id_token expires;
* a client whose password is not (or no longer) in the file gets CONNACK 5 "not authorised";
  so the simulator refuses a second connection, and a reconnect too soon after a disconnect,
  by keeping only the live session's token (or none) in the file.

The log on stderr tells us who connected, subscribed and left; `on_line` receives every line.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import hashlib
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from optimizer.sim.certs import Certificates

MOSQUITTO = "/usr/sbin/mosquitto"
STARTUP_TIMEOUT_S = 10.0
RELOAD_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class LogEvent:
    kind: str  # "connected" | "subscribed" | "disconnected" | "refused" | "reloaded"
    client_id: str = ""
    username: str | None = None


_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"New client connected from \S+ as (\S+) \(p\d, c\d, k\d+(?:, u'([^']*)')?\)"),
     "connected"),
    (re.compile(r"Sending SUBACK to (\S+)$"), "subscribed"),
    (re.compile(r"Client (\S+) disconnected, not authori[sz]ed"), "refused"),
    (re.compile(r"Client (\S+) (?:disconnected\.|closed its connection|has exceeded timeout"
                r"|already connected, closing old connection)"), "disconnected"),
    (re.compile(r"Socket error on client (\S+), disconnecting"), "disconnected"),
    (re.compile(r"Reloading config"), "reloaded"),
)


def parse_log_line(line: str) -> LogEvent | None:
    """The session event in one mosquitto log line (`<epoch>: <text>`), if any."""
    text = line.split(": ", 1)[-1].strip()
    for pattern, kind in _PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        groups = match.groups()
        client = groups[0] if groups else ""
        username = groups[1] if len(groups) > 1 else None
        return LogEvent(kind, client, username)
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def password_line(username: str, password: str) -> str:
    """A mosquitto 2.0 `$7$` (PBKDF2-SHA512) password file entry."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return (f"{username}:$7$101${base64.b64encode(salt).decode()}$"
            f"{base64.b64encode(digest).decode()}\n")


class MosquittoBroker:
    """One mosquitto process on a loopback port with TLS, a password file and an ACL."""

    def __init__(self, workdir: Path, certs: Certificates, *,
                 on_event: Callable[[LogEvent], None], port: int | None = None,
                 executable: str = MOSQUITTO) -> None:
        self.workdir = workdir
        self.certs = certs
        self.port = port or free_port()
        self.executable = executable
        self.on_event = on_event
        self.passwd = workdir / "passwd"
        self.acl = workdir / "acl"
        self.conf = workdir / "mosquitto.conf"
        self.log_tail: deque[str] = deque(maxlen=200)
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._reloads = 0
        self._running = False
        self._write_lock = threading.Lock()
        self._group = self._mosquitto_group()

    @staticmethod
    def _mosquitto_group() -> int | None:
        """Started as root, mosquitto drops to user `mosquitto` and must still read its files."""
        if os.geteuid() != 0:
            return None
        try:
            return grp.getgrnam("mosquitto").gr_gid
        except KeyError:
            return None

    def _share(self, path: Path, mode: int = 0o640) -> None:
        if self._group is not None:
            os.chown(path, 0, self._group)
        os.chmod(path, mode)

    def configure(self, passwords: Mapping[str, str], publisher: str) -> None:
        """Write the config, the ACL (the publisher writes, every gcid reads `<gcid>/#`) and
        the initial password file."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        for directory in {self.workdir, self.certs.cert_file.parent}:
            self._share(directory, 0o750)
        for path in (self.certs.key_file, self.certs.cert_file, self.certs.ca_file):
            self._share(path)
        self.acl.write_text(f"user {publisher}\ntopic write #\n\npattern read %u/#\n",
                            encoding="utf-8")
        self._share(self.acl)
        self._write_passwords(passwords)
        self.conf.write_text("\n".join([
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self.passwd}",
            f"acl_file {self.acl}",
            "persistence false",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
            f"listener {self.port} 127.0.0.1",
            "protocol mqtt",
            f"cafile {self.certs.ca_file}",
            f"certfile {self.certs.cert_file}",
            f"keyfile {self.certs.key_file}",
            "tls_version tlsv1.3",
            "",
        ]), encoding="utf-8")

    def _write_passwords(self, passwords: Mapping[str, str]) -> None:
        tmp = self.passwd.with_name("passwd.tmp")
        tmp.write_text("".join(password_line(u, p) for u, p in passwords.items()),
                       encoding="utf-8")
        self._share(tmp)
        os.replace(tmp, self.passwd)

    def start(self) -> None:
        with self._cond:
            if self._running:
                return
        process = subprocess.Popen([self.executable, "-c", str(self.conf)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._process = process
        self._reader = threading.Thread(target=self._read_log, args=(process,),
                                        name="mosquitto-log", daemon=True)
        self._reader.start()
        with self._cond:
            ready = self._cond.wait_for(lambda: self._running or process.poll() is not None,
                                        STARTUP_TIMEOUT_S)
            if not ready or not self._running:
                process.kill()
                tail = "\n".join(self.log_tail)
                raise RuntimeError(f"mosquitto did not start on port {self.port}:\n{tail}")

    def _read_log(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self.log_tail.append(line.rstrip())
            if " running" in line and "mosquitto version" in line:
                with self._cond:
                    self._running = True
                    self._cond.notify_all()
            event = parse_log_line(line)
            if event is None:
                continue
            if event.kind == "reloaded":
                with self._cond:
                    self._reloads += 1
                    self._cond.notify_all()
            self.on_event(event)
        with self._cond:
            self._running = False
            self._cond.notify_all()
        self.on_event(LogEvent("stopped"))

    def set_passwords(self, passwords: Mapping[str, str]) -> None:
        """Replace the password file and wait until mosquitto has reloaded it (mosquitto
        reloads in its main loop, so a CONNECT read after the reload line sees the new file)."""
        with self._write_lock:
            self._write_passwords(passwords)
            process = self._process
            with self._cond:
                if not self._running or process is None:
                    return  # applied at the next start
                before = self._reloads
            process.send_signal(signal.SIGHUP)
            with self._cond:
                self._cond.wait_for(lambda: self._reloads > before or not self._running,
                                    RELOAD_TIMEOUT_S)

    def stop(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        with self._cond:
            return self._running
