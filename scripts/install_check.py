"""A plain install works: build the wheel, install it WITHOUT extras in a fresh venv, run
every command's `--help` and `migrate plan` on a copy of sample_legacy.

Run by `make test` (target `install-check`). It writes only under a temporary folder,
reuses pip's cache and needs no index but the one pip is configured with. Exit 0 when
everything answered as documented, 1 with the failing command otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("plan", "apply", "status", "finalize", "rollback", "verify", "keys")
KEYS = ("generate", "list", "jwks", "rotate", "promote", "retire")
HELPS = [
    [],
    ["--help"],
    *([name, "--help"] for name in COMMANDS),
    *(["keys", name, "--help"] for name in KEYS),
]


def run(args: list[str], expect: int = 0, cwd: Path | None = None) -> str:
    started = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True, cwd=cwd, check=False)
    took = time.monotonic() - started
    shown = " ".join(Path(a).name if a.startswith("/") else a for a in args)
    if done.returncode != expect:
        sys.exit(
            f"install-check: `{shown}` exited {done.returncode}, expected {expect}\n"
            f"{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    print(f"install-check: ok ({took:.2f} s) {shown}")
    return done.stdout


def build(work: Path) -> Path:
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(ROOT)])
    wheels = list(dist.glob("oauth_migrate-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"install-check: expected one wheel in {dist}, found {wheels}")
    return wheels[0]


def install(work: Path, wheel: Path) -> Path:
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)])
    return venv / "bin"


def check(bin_dir: Path, work: Path) -> None:
    migrate = str(bin_dir / "migrate")
    for args in HELPS:
        run([migrate, *args])
    run([str(bin_dir / "python"), "-m", "migrate", "--help"])
    run([str(bin_dir / "python"), "-W", "error", "-c", "import migrate.cli, migrate.verify.runner"])
    tree = work / "tree"
    shutil.copytree(ROOT / "sample_legacy", tree / "sample_legacy")
    shutil.copyfile(ROOT / "sample_legacy" / "requirements.txt", tree / "requirements.txt")
    plan = run([migrate, "plan", str(tree)], expect=2, cwd=work)
    if "next: migrate apply" not in plan:
        sys.exit("install-check: `migrate plan` did not end with its next step")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="oauth-migrate-install-") as folder:
        work = Path(folder)
        check(install(work, build(work)), work)
    print("install-check: a plain install (no extras) runs every command")


if __name__ == "__main__":
    main()
