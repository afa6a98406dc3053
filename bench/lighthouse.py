"""Lighthouse's four mobile scores for the portal invoice page, the booking page and the review
page, served by gunicorn with production settings (``DEBUG`` off, collected static files).

    npm install --prefix /tmp/lh lighthouse@13        # once; the npm registry only
    .venv/bin/python bench/lighthouse.py [--lighthouse /tmp/lh/node_modules/.bin/lighthouse]
                                          [--port 8161] [--runs 1]

Makes a throw-away SQLite database, migrates it, loads the demo data (``seed_demo
--allow-production``, whose output names the demo's portal invoice link, booking page and review
link), collects static files into ``staticfiles/`` (ignored by git), starts gunicorn on
127.0.0.1, and runs Lighthouse (mobile form factor, its default throttling) with Debian's
Chromium (``CHROME_PATH=/usr/bin/chromium``, headless). Loopback only. Prints performance,
accessibility, best practices and SEO (0-100) per page; ``--runs N`` keeps each page's median.
Plain HTTP on loopback: Lighthouse's HTTPS audit is not among these four categories' scores.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]


def _env(tmp: Path, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'lighthouse.sqlite3'}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SIGNATURE_SEAL_KEY": secrets.token_urlsafe(40),
        "SITE_URL": f"http://127.0.0.1:{port}",
        "ALLOW_INSECURE_SITE_URL": "true",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "EMAIL_URL": "locmem://",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    return env


def _manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _scores(lighthouse: str, url: str, out: Path) -> dict[str, int]:
    subprocess.run(
        [
            lighthouse,
            url,
            "--quiet",
            "--form-factor=mobile",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
            "--only-categories=" + ",".join(CATEGORIES),
            "--output=json",
            f"--output-path={out}",
        ],
        env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"},
        check=True,
        timeout=180,
    )
    report = json.loads(out.read_text())
    scores = {c: round(report["categories"][c]["score"] * 100) for c in CATEGORIES}
    failing = set()
    for category in CATEGORIES:
        if scores[category] < 95:
            for ref in report["categories"][category]["auditRefs"]:
                audit = report["audits"][ref["id"]]
                if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                    failing.add(f"{category}: {ref['id']}")
    scores["failing"] = sorted(failing)  # type: ignore[assignment]
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lighthouse", default=shutil.which("lighthouse") or "lighthouse")
    parser.add_argument("--port", type=int, default=8161)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lighthouse-"))
    env = _env(tmp, args.port)
    _manage(env, "migrate", "--no-input", "-v0")
    seeded = _manage(env, "seed_demo", "--allow-production")
    _manage(env, "collectstatic", "--no-input", "-v0")
    portal = re.findall(r"portal: (\S+)", seeded)
    pages = {
        "portal invoice": portal[-1],  # seed_demo prints the estimate's link, then the invoice's
        "booking": re.search(r"booking page: (\S+)", seeded).group(1),  # type: ignore[union-attr]
        "review": re.search(r"review: (\S+)", seeded).group(1),  # type: ignore[union-attr]
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "crewcommand.wsgi:application",
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{args.port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        print(f"lighthouse (mobile), median of {args.runs} run(s), gunicorn DEBUG off, loopback")
        print(f"{'page':16} " + " ".join(f"{c:>15}" for c in CATEGORIES))
        for name, url in pages.items():
            runs = [_scores(args.lighthouse, url, tmp / "report.json") for _ in range(args.runs)]
            median = {c: int(statistics.median(r[c] for r in runs)) for c in CATEGORIES}
            print(f"{name:16} " + " ".join(f"{median[c]:>15}" for c in CATEGORIES), flush=True)
            if runs[-1]["failing"]:
                print(f"{'':16} below 95 because of: {', '.join(runs[-1]['failing'])}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
