"""A 90-minute meeting: how long audio extraction takes and whether it fits SpeechKit's 60 MB inline limit.

Run: .venv/bin/python bench/bench_audio_extract.py [minutes]
"""

import resource
import sys
import tempfile
import time
from pathlib import Path

from connectors.stt import INLINE_LIMIT_BYTES, write_opus
from devkit.demo import write_tone


def main() -> None:
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 90
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "meeting.mp4"
        start = time.perf_counter()
        write_tone(media, seconds=minutes * 60)
        made = time.perf_counter() - start
        start = time.perf_counter()
        audio = Path(tmp) / "audio.ogg"  # as SpeechKitStt.transcribe converts it: to a scratch file
        write_opus(media, str(audio))
        took = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{minutes:.0f} min: source {media.stat().st_size / 2**20:.1f} MB (made in {made:.0f} s), "
            f"OggOpus {audio.stat().st_size / 2**20:.1f} MB of {INLINE_LIMIT_BYTES / 2**20:.0f} MB allowed, "
            f"extracted in {took:.0f} s, peak RSS {peak_mb:.0f} MB"
        )


if __name__ == "__main__":
    main()
