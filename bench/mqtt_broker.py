"""A real mosquitto for the Home Assistant entity tests: a TLS listener with a password file
(what the service uses) and, optionally, a plain loopback listener for Home Assistant, which
would need a certificate upload to speak TLS (reference/actuators.md §3.6)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from optimizer.sim.broker import MOSQUITTO, MosquittoBroker, free_port, password_line
from optimizer.sim.certs import Certificates, make_certificates

USER, PASSWORD = "evopt", "s3cret-mqtt-Passw0rd"
HA_USER, HA_PASSWORD = "homeassistant", "ha-Passw0rd"
START_TIMEOUT_S = 10.0


@dataclass
class LocalBroker:
    workdir: Path
    certs: Certificates
    tls_port: int
    plain_port: int | None
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, workdir: Path, plain: bool = False) -> LocalBroker:
        workdir.mkdir(parents=True, exist_ok=True)
        certs = make_certificates(workdir / "certs")
        broker = cls(workdir, certs, free_port(), free_port() if plain else None)
        group = MosquittoBroker._mosquitto_group()
        passwd = workdir / "passwd"
        passwd.write_text(password_line(USER, PASSWORD) + password_line(HA_USER, HA_PASSWORD))
        lines = ["per_listener_settings false", "allow_anonymous false",
                 f"password_file {passwd}", "persistence false", "log_dest stderr",
                 f"listener {broker.tls_port} 127.0.0.1", f"cafile {certs.ca_file}",
                 f"certfile {certs.cert_file}", f"keyfile {certs.key_file}"]
        if broker.plain_port is not None:
            lines.append(f"listener {broker.plain_port} 127.0.0.1")
        (workdir / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        if group is not None:  # started as root, mosquitto reads its files as `mosquitto`
            for path in (workdir, certs.cert_file.parent, passwd, certs.key_file,
                         certs.cert_file, certs.ca_file):
                os.chown(path, 0, group)
                os.chmod(path, 0o750 if path.is_dir() else 0o640)
        return broker

    def start(self) -> None:
        log = (self.workdir / "mosquitto.log").open("ab")
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.workdir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited; see {self.workdir / 'mosquitto.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.tls_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)  # an external process starting: only its port to wait on
        raise RuntimeError("mosquitto did not open its port")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
