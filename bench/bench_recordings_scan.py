"""How long one sensor tick takes on a large recordings folder (the NFS mount grows for years).

Run: .venv/bin/python bench/bench_recordings_scan.py [sessions]
"""

import json
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from assets.meetings.discovery import RecordingsFolder


def build(root: Path, sessions: int) -> None:
    for i in range(sessions):
        folder = root / f"{i:012x}"
        folder.mkdir()
        (folder / f"client-{10000 + i % 1000}_2026-11-{1 + i % 28:02d}-10-00-00.mp4").write_bytes(b"\0" * 64)
        (folder / "metadata.json").write_text(json.dumps({"meeting_url": f"https://meet/client-{10000 + i % 1000}"}))


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, sessions)
        folder = RecordingsFolder(root, prefix="client", tz=ZoneInfo("Europe/Moscow"))
        times = []
        for _ in range(5):
            start = time.perf_counter()
            result = folder.scan({}, now=time.time())
            times.append(time.perf_counter() - start)
        assert len(result.ready) == sessions
        print(f"{sessions} sessions: scan min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
