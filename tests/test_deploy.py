"""The systemd unit in deploy/ is one systemd accepts as it is: every key known, every
value parsed (`systemd-analyze verify`, where the machine has it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "crmbot@.service"


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
