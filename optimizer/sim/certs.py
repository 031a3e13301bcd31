"""A throw-away CA and a server certificate for `localhost`, made with the openssl CLI.

Generated per run so no key is ever committed; the client trusts the CA through the `ca_file`
setting and still verifies the hostname, as it must against BMW. The name is `localhost` only
(no IP address), so dialling 127.0.0.1 shows that a name mismatch is refused.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_certificates(directory: Path, days: int = 2) -> Certificates:
    """Write ca.crt, server.crt and server.key into `directory`."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the CarData simulator needs the `openssl` command to make its "
                           "TLS certificates; install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = directory / "ca.key", directory / "ca.crt"
    key, csr, crt = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "san.ext"
    ext.write_text("subjectAltName=DNS:localhost\n"
                   "extendedKeyUsage=serverAuth\n", encoding="ascii")

    def run(*args: str | Path) -> None:
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True)

    # EC P-256 keys: generated in milliseconds, unlike RSA, and fine for TLS 1.3
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    run("req", "-x509", *ec, "-nodes", "-days", str(days),
        "-subj", "/CN=CarData simulator CA", "-keyout", ca_key, "-out", ca_crt)
    run("req", *ec, "-nodes", "-subj", "/CN=localhost",
        "-keyout", key, "-out", csr)
    run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
        "-days", str(days), "-extfile", ext, "-out", crt)
    return Certificates(ca_file=ca_crt, cert_file=crt, key_file=key)
