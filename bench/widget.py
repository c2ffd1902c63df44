"""What a buyer's browser downloads for the widget, as the web service sends it.

Starts the web service as a real process and fetches /widget.js and
/api/widget/config (every language's labels) with ``Accept-Encoding: gzip``,
counting the bytes on the wire. Goal: < 50 kB gzipped.
"""

from __future__ import annotations

import http.client
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.settings import Settings  # noqa: E402
from bot.supervisor import Supervisor, free_port  # noqa: E402

PATHS = {"script": "/widget.js", "labels and limits (10 languages)": "/api/widget/config"}


def _fetch(port: int, path: str, gzip: bool) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Accept-Encoding": "gzip"} if gzip else {})
    response = connection.getresponse()
    body = response.read()  # http.client does not decompress: these are the wire bytes
    connection.close()
    return len(body)


def run() -> dict[str, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            web_port=free_port(), rasa_port=free_port(), action_port=free_port(), var_dir=Path(tmp)
        )
        supervisor = Supervisor(settings, Path("unused"), Path(tmp) / "logs")
        web = [c for c in supervisor.plan(with_rasa_server=False) if c.name == "web"]
        try:
            supervisor.start(web, timeout=120)
            return {
                name: {
                    "raw": _fetch(settings.web_port, path, False),
                    "gzip": _fetch(settings.web_port, path, True),
                }
                for name, path in PATHS.items()
            }
        finally:
            supervisor.stop()


def markdown(results: dict[str, dict[str, int]]) -> str:
    lines = ["| download | bytes | gzipped |", "| --- | --- | --- |"]
    for name, sizes in results.items():
        lines.append(f"| {name} | {sizes['raw'] / 1000:.1f} kB | {sizes['gzip'] / 1000:.1f} kB |")
    total = sum(sizes["gzip"] for sizes in results.values())
    lines.append(f"| **total** | | **{total / 1000:.1f} kB** |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
