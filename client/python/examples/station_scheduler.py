#!/usr/bin/python3
"""A station's scheduler beside wavecastd: style changes by the clock, from a plain schedule file.

Each line of the file is "HH:MM STYLE [CROSSFADE_S]" (daily, local time) or "every N[s|m|h]
STYLE1,STYLE2,... [CROSSFADE_S]"; '#' starts a comment. The daemon's own [[schedule]] table does
the same inside the config; this script is the pattern for schedules that live elsewhere (a
database, a playlist system): read them, then call Client.style at the right moment.

  station_scheduler.py --endpoint tcp://127.0.0.1:5557 schedule.txt
  station_scheduler.py --endpoint ... --once lofi          # one change now, then exit
"""

import argparse
import datetime
import math
import os
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from wavecast_client import Client, WavecastError  # noqa: E402


def parse_crossfade(text):
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"'{text}' is not a crossfade in seconds")
    return value


def parse_duration(text):
    units = {"s": 1, "m": 60, "h": 3600}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError(f"'{text}' is not a duration such as 30s, 15m or 2h")
    return int(text[:-1]) * units[text[-1]]


def read_text(path, limit=1 << 20):
    """A regular file's text, checked before it is opened: a FIFO would block open() for ever."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise SystemExit(f"{path}: not a regular file")
        if st.st_size > limit:
            raise SystemExit(f"{path}: too large ({st.st_size} bytes, the limit is {limit})")
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8")
    except UnicodeDecodeError as e:
        raise SystemExit(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})")
    except OSError as e:
        raise SystemExit(f"{path}: {e.strerror}")


def parse_schedule(path):
    """[(kind, when, styles, crossfade)]: kind "at" with seconds after midnight, or "every" with a period."""
    entries = []
    for number, raw in enumerate(read_text(path).splitlines(), 1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        try:
            if line[0] == "every":
                period, styles, rest = parse_duration(line[1]), line[2].split(","), line[3:]
                entries.append(("every", period, styles, parse_crossfade(rest[0]) if rest else 0.0))
            else:
                parts = line[0].split(":")
                if len(parts) != 2 or not all(len(x) == 2 and x.isdigit() for x in parts):
                    raise ValueError(f"'{line[0]}' is not a time of day (HH:MM)")
                hours, minutes = (int(x) for x in parts)
                if not (0 <= hours < 24 and 0 <= minutes < 60):
                    raise ValueError(f"'{line[0]}' is not a time of day")
                entries.append(("at", hours * 3600 + minutes * 60, [line[1]], parse_crossfade(line[2]) if len(line) > 2 else 0.0))
        except (ValueError, IndexError) as e:
            raise SystemExit(f"{path}:{number}: {e}")
    return entries


def local_seconds(t):
    return int(t + datetime.datetime.fromtimestamp(t).astimezone().utcoffset().total_seconds())


def due(entries, last, now):
    """The (styles chosen, crossfade) of entries that fell due in (last, now], in local seconds."""
    for kind, when, styles, crossfade in entries:
        if kind == "every":
            if now // when > last // when:
                yield styles[(now // when) % len(styles)], crossfade
        else:
            for day in (now // 86400 - 1, now // 86400):
                if last < day * 86400 + when <= now:
                    yield styles[0], crossfade


def change(client, stream, style, crossfade):
    try:
        client.style(style, stream=stream, crossfade=crossfade or None)
        print(f"{datetime.datetime.now():%H:%M:%S} style {style}", flush=True)
        return True
    except (WavecastError, TimeoutError) as e:
        print(f"{datetime.datetime.now():%H:%M:%S} style {style} refused: {e}", file=sys.stderr, flush=True)
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("schedule", nargs="?", help="the schedule file")
    ap.add_argument("--endpoint", default=os.environ.get("WAVECAST_ENDPOINT", "tcp://127.0.0.1:5557"))
    ap.add_argument("--stream", help="the stream to steer (default: the daemon's first)")
    ap.add_argument("--once", metavar="STYLE", help="change to STYLE now and exit")
    ap.add_argument("--crossfade", type=float, default=0.0, help="with --once: seconds")
    args = ap.parse_args()
    if args.once and not (math.isfinite(args.crossfade) and args.crossfade >= 0):
        ap.error(f"--crossfade {args.crossfade}: give a number of seconds, 0 or more")
    client = Client(args.endpoint)
    if args.once:
        return 0 if change(client, args.stream, args.once, args.crossfade) else 1
    if not args.schedule:
        ap.error("give a schedule file or --once STYLE")
    entries = parse_schedule(args.schedule)
    # The daemon may be down at the start (a restart, a boot order): wait for it, saying so.
    while True:
        try:
            known = set(client.styles())
            break
        except TimeoutError as e:
            print(f"{datetime.datetime.now():%H:%M:%S} {e}; trying again in 5 s", file=sys.stderr, flush=True)
            time.sleep(5)
    for _, _, styles, _ in entries:
        for s in styles:
            if s not in known:
                raise SystemExit(f"{args.schedule}: the daemon has no style '{s}' (it has {', '.join(sorted(known))})")
    last = local_seconds(time.time())
    while True:
        time.sleep(1 - time.time() % 1)
        now = local_seconds(time.time())
        for style, crossfade in due(entries, last, now):
            change(client, args.stream, style, crossfade)
        last = now


if __name__ == "__main__":
    sys.exit(main())
