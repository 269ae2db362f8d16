"""Sum up py-spy's collapsed stacks (`--format raw`): where mailgate's server spent its time.

Run a benchmark with MAILGATE_BENCH_PROFILE=DIR (benchlib.MailgateServer then samples
`mailgate serve` with py-spy until it stops), then:

    .venv/bin/python bench/pyspy_top.py DIR/serve-PID.txt [--top 25] [--match mailgate/]
        [--within "append (mailgate/store/transfer.py"]

Prints the frames with the most samples on top of the stack (self) and anywhere in it
(inclusive, each frame counted once per stack), as a share of all samples, with file:line.
--within keeps only the stacks that pass through a frame containing that text (one command's
work, without the idle server around it); --match prints only frames containing its text
(e.g. the project's own code).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def read_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """Each stack (outermost frame first) and its sample count."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        text, _, count = line.rpartition(" ")
        if text and count.isdigit():
            stacks[tuple(text.split(";"))] += int(count)
    return stacks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--match", default="", help="only frames containing this text")
    ap.add_argument("--within", default="", help="only stacks through a frame with this text")
    a = ap.parse_args()
    stacks = Counter({frames: n for frames, n in read_stacks(a.profile).items()
                      if any(a.within in frame for frame in frames)})
    total = sum(stacks.values())
    if not total:
        raise SystemExit(f"{a.profile}: no samples")
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for frames, count in stacks.items():
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    print(f"{a.profile}: {total} samples" + (f" through {a.within!r}" if a.within else ""))
    for title, counter in (("self (top of stack)", own), ("inclusive", anywhere)):
        print(f"\n{title}")
        shown = [(f, n) for f, n in counter.most_common() if a.match in f][:a.top]
        for frame, count in shown:
            print(f"{100 * count / total:6.1f}%  {frame}")


if __name__ == "__main__":
    main()
