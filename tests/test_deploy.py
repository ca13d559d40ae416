"""What deploy/ holds is accepted as it is: the systemd unit by `systemd-analyze verify`
(every key known, every value parsed), the nginx example by `nginx -t`, where the machine
has them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "crmbot@.service"
NGINX = UNIT.parent / "nginx.conf"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    # Where the unit expects an installation, this machine's paths: the crmbot of this
    # environment, an empty settings file, a temporary data directory.
    crmbot = Path(sys.executable).parent / "crmbot"
    assert crmbot.exists()
    settings = tmp_path / "crmbot.env"
    settings.write_text("DATABASE_URL=sqlite:////var/lib/crmbot/crm.db\n")
    unit = (
        UNIT.read_text()
        .replace("/opt/crmbot/.venv/bin/crmbot", str(crmbot))
        .replace("/etc/crmbot/crmbot.env", str(settings))
        .replace("/var/lib/crmbot", str(tmp_path))
    )
    assert f"ExecStart={crmbot} serve --host 127.0.0.1 --port %i" in unit
    instance = tmp_path / "crmbot@8081.service"
    instance.write_text(unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(instance)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


@pytest.mark.skipif(
    shutil.which("nginx") is None or shutil.which("openssl") is None,
    reason="no nginx (or openssl) here",
)
def test_the_nginx_example_is_a_valid_configuration(tmp_path: Path) -> None:
    # The example's certificate paths pointed at a throwaway self-signed pair, and its
    # server block put in the http block of a minimal main configuration, as
    # /etc/nginx/sites-enabled/ would be.
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*openssl, "-subj", "/CN=crm.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    site = (
        NGINX.read_text()
        .replace("/etc/letsencrypt/live/crm.example.com/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/crm.example.com/privkey.pem", str(key))
    )
    assert str(cert) in site and str(key) in site
    (tmp_path / "site.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        ["nginx", "-t", "-c", str(main), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
