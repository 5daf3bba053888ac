"""Operations: the unit file, file modes, the stats command's errors, a repository that stands alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.people import Keyring
from bot.usage import UsageLog, make_event, utcnow

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "helpline-bot.service"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, under which new files are world-readable unless we say otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_unit_does_not_restart_a_rejected_token() -> None:
    settings = dict(re.findall(r"^(\w+)=(.*)$", UNIT.read_text(encoding="utf-8"), re.M))
    assert settings["Restart"] == "on-failure" and settings["RestartPreventExitStatus"] == "2"
    assert int(settings["TimeoutStopSec"]) >= 10  # the bot stops within 10 s; this is the backstop
    assert settings["MemoryMax"].endswith("M")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """Every line parses (systemd only warns, and ignores, a value it cannot read)."""
    installed = Path(sys.executable).with_name("helpline-bot")
    unit = tmp_path / "helpline-bot.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/helpline-bot/bin/helpline-bot", str(installed)),
                    encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=120)
    ours = [line for line in (done.stdout + done.stderr).splitlines() if "helpline-bot" in line]
    assert done.returncode == 0 and not ours, done.stdout + done.stderr


class _Reply:
    language, intents, crisis, matched, form, partners = "en", ("pagoda",), False, True, "referral", ("mocr",)


async def test_the_database_its_journal_and_key_are_private_under_any_umask(tmp_path: Path, umask_022: None) -> None:
    db = tmp_path / "new" / "helpline.db"
    keyring = Keyring.load(tmp_path / "state" / "month-keys")
    usage = UsageLog(db, flush_interval=0.01)
    await usage.start()
    usage.record(make_event(_Reply(), channel="console", kind="text"))
    assert keyring.person(1, utcnow()) is not None  # writes this month's key
    await usage.close()
    usage = UsageLog(db)  # open again, so the -wal and -shm files exist while we look
    await usage.start()
    try:
        files = sorted(p.name for p in db.parent.iterdir())
        assert {"helpline.db", "helpline.db-wal", "helpline.db-shm"} <= set(files)
        assert {name: oct(os.stat(db.parent / name).st_mode & 0o777) for name in files} == dict.fromkeys(files, "0o600")
        assert db.parent.stat().st_mode & 0o777 == 0o700
        assert keyring.path.stat().st_mode & 0o777 == 0o600 and keyring.path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        await usage.close()


async def test_a_database_made_readable_by_others_is_made_private_again(tmp_path: Path) -> None:
    db = tmp_path / "helpline.db"
    db.touch()
    db.chmod(0o644)
    usage = UsageLog(db)
    await usage.start()
    await usage.close()
    assert db.stat().st_mode & 0o777 == 0o600


def test_the_console_chat_creates_private_files(tmp_path: Path) -> None:
    db = tmp_path / "data" / "helpline.db"
    env = {**os.environ, "HELPLINE_DB": str(db), "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("HELPLINE_HASH_KEY", None)
    env.pop("HELPLINE_KEY_FILE", None)
    done = subprocess.run(["sh", "-c", f"umask 022; exec {sys.executable} -m bot chat"], input="hello\n", env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "1280" in done.stdout, done.stderr
    assert db.stat().st_mode & 0o777 == 0o600


def test_stats_into_a_folder_it_cannot_write_says_so(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "report"
    not_a_folder.write_text("a file, not a folder")
    env = {**os.environ, "HELPLINE_DB": str(tmp_path / "helpline.db")}
    subprocess.run([sys.executable, "-m", "bot", "chat"], input="hello\n", env=env, capture_output=True, text=True,
                   timeout=120)
    done = subprocess.run([sys.executable, "-m", "bot", "stats", "--out", str(not_a_folder / "q1.csv")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.startswith(f"Cannot write {not_a_folder / 'q1.csv'}: ") and "Traceback" not in done.stderr


def test_nothing_depends_on_a_folder_beside_the_repository() -> None:
    """A clone from a forge has only itself: tests, benchmarks and links use the copies inside."""
    outside = []
    for path in [*ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py")]:
        outside += [f"{path.name}: {m}" for m in re.findall(r"\.\./shared\S*|ROOT\.parent\b", path.read_text("utf-8"))]
    for path in [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("directory/*.md")]:
        for link in re.findall(r"\]\(([^)#\s]+)", path.read_text("utf-8")):
            target = (path.parent / link).resolve()
            if "://" not in link and not (target.is_relative_to(ROOT) and target.exists()):
                outside.append(f"{path.name}: {link}")
    assert not outside, outside


def _pins(lines: list[str]) -> dict[str, str]:
    found = (re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line.strip()) for line in lines)
    return {m.group(1).lower().replace("_", "-"): m.group(2) for m in found if m}


def test_the_lock_file_pins_every_runtime_dependency_with_hashes() -> None:
    """The image and the systemd install use requirements.lock: it must agree with pyproject.toml."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    locked = _pins(lock.splitlines())
    stale = {name: version for name, version in _pins(project["dependencies"]).items() if locked.get(name) != version}
    assert not stale, f"run `bash scripts/lock.sh`: {stale}"
    body = "\n".join(line for line in lock.splitlines() if not line.lstrip().startswith("#"))
    entries = re.split(r"\n(?=[A-Za-z])", body.strip())
    assert len(entries) > len(project["dependencies"])  # transitive ones too
    assert all("--hash=sha256:" in entry for entry in entries), [e for e in entries if "--hash" not in e]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "RUN pip install --no-cache-dir --require-hashes -r /src/requirements.lock" in dockerfile
