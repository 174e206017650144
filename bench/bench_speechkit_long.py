"""A 3-hour recording through the SpeechKit client against the local fake: time, peak memory, parts.

The source is a real-size 3 h call recording (mono AAC 32 kbit/s in .m4a, ~43 MB), converted to OggOpus and sent
to the fake, which refuses what the real service refuses (over the inline size or duration limit).

Run: .venv/bin/python -m bench.bench_speechkit_long [hours] [service limit, seconds]
"""

import resource
import sys
import tempfile
import time
from pathlib import Path

from connectors.stt import MAX_AUDIO_SECONDS, SpeechKitStt
from tests.fakes.speechkit import FakeSpeechKit, long_recording


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else MAX_AUDIO_SECONDS
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "call.m4a"
        start = time.perf_counter()
        long_recording(media, hours * 3600, codec="aac", bitrate=32000)
        made, source_mb = time.perf_counter() - start, media.stat().st_size / 2**20
        with FakeSpeechKit(polls_until_done=1) as server:
            server.max_audio_seconds, server.phrase_every = limit, 30.0
            with SpeechKitStt(
                server.api_key,
                base_url=server.url,
                operation_url=server.url,
                poll_interval=0.01,
                max_audio_seconds=limit,
                ledger_path=Path(tmp) / "ops.sqlite",
            ) as stt:
                start = time.perf_counter()
                transcript = stt.transcribe(media)
                took = time.perf_counter() - start
            sizes = [len(a) / 2**20 for a in server.audio]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    starts = [s.start for s in transcript.segments]
    print(
        f"{hours:g} h, limit {limit / 3600:g} h: source {source_mb:.0f} MB made in {made:.0f} s; "
        f"transcribed in {took:.0f} s, "
        f"{len(sizes)} part(s) of {', '.join(f'{s:.1f}' for s in sizes)} MB, {len(starts)} utterances "
        f"(increasing: {starts == sorted(starts)}, last at {starts[-1] / 3600:.2f} h), peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
