"""A 3-hour recording through the SpeechKit client against the local fake: time, peak memory, parts.

The source is a real-size 3 h call recording (mono AAC 32 kbit/s in .m4a, ~43 MB), converted to OggOpus and sent
to the fake, which refuses what the real service refuses (over the inline size or duration limit). The fake runs in
a child process, so the peak memory printed is the client's alone.

Run: .venv/bin/python -m bench.bench_speechkit_long [hours] [service limit, seconds]
"""

import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

from connectors.stt import MAX_AUDIO_SECONDS, SpeechKitStt
from tests.fakes.speechkit import FakeSpeechKit, long_recording


def serve(limit: float, urls, stop, report) -> None:
    with FakeSpeechKit(polls_until_done=1) as server:
        server.max_audio_seconds, server.phrase_every = limit, 30.0
        urls.put((server.url, server.api_key))
        stop.wait()
        report.put([len(a) / 2**20 for a in server.audio])


def main() -> None:
    hours = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else MAX_AUDIO_SECONDS
    urls, report, stop = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Event()
    fake = multiprocessing.Process(target=serve, args=(limit, urls, stop, report), daemon=True)
    fake.start()
    url, key = urls.get(timeout=60)
    with tempfile.TemporaryDirectory() as tmp:
        media = Path(tmp) / "call.m4a"
        start = time.perf_counter()
        long_recording(media, hours * 3600, codec="aac", bitrate=32000)
        made, source_mb = time.perf_counter() - start, media.stat().st_size / 2**20
        made_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with SpeechKitStt(
            key,
            base_url=url,
            operation_url=url,
            poll_interval=0.01,
            max_audio_seconds=limit,
            ledger_path=Path(tmp) / "ops.sqlite",
        ) as stt:
            start = time.perf_counter()
            transcript = stt.transcribe(media)
            took = time.perf_counter() - start
    stop.set()
    sizes = report.get(timeout=60)
    fake.join(timeout=10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    starts = [s.start for s in transcript.segments]
    print(
        f"{hours:g} h, limit {limit / 3600:g} h: source {source_mb:.0f} MB made in {made:.0f} s "
        f"(RSS {made_rss:.0f} MB); "
        f"transcribed in {took:.0f} s, {len(sizes)} part(s) of {', '.join(f'{s:.1f}' for s in sizes)} MB, "
        f"{len(starts)} utterances (increasing: {starts == sorted(starts)}, last at {starts[-1] / 3600:.2f} h), "
        f"client peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
