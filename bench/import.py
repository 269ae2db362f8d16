"""`mailgate import` of a 10 000-message Maildir vs Dovecot's `doveadm import` (issue 2).

Same machine, same run, same Maildir (make-corpus --count 10000 --maildir: mixed 2-200 KB,
real MIME, INBOX + 5 folders, flags in the file names). Each round imports into a fresh,
empty store and is timed from process start to exit:

  mailgate  mailgate --data FRESH import user1@example.test SRC --quiet
            (FRESH made by `mailgate init` + `account create` outside the timing; blobs are
            fsynced before the rows that show them are committed)
  dovecot   doveadm -c CONF -o mail_location=mdbox:FRESH/mdbox import -u user1@example.test
                -s maildir:SRC:INDEX=MEMORY:CONTROL=FRESH/ctl "" all
            (CONF is dovecot-reference's instance config; mail_fsync = optimized, its
            default: fdatasync per transaction for mdbox, fsync per message for Maildir;
            INDEX=MEMORY and a fresh CONTROL dir keep the source Maildir pristine, so no
            round reads indexes an earlier round wrote)

and, unless --dest mdbox, the same into a fresh Maildir (mail_location=maildir:FRESH/Maildir).
`sync` runs between rounds (outside the timing) so no round pays for another's dirty pages.
Rounds alternate which side goes first. Prints the median of the rounds for each side and
the ratio mailgate/dovecot (time: lower is better; target <= 1.5x).

    .venv/bin/python bench/import.py [--quick] [--count N] [--rounds R] [--dest mdbox,maildir]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl

USER = f"user1@{bl.DOMAIN}"


def vmail_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("vmail")
    return entry.pw_uid, entry.pw_gid


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for dirpath, dirs, files in os.walk(path):
        os.chown(dirpath, uid, gid)
        for name in dirs + files:
            os.chown(os.path.join(dirpath, name), uid, gid)


def run_mailgate(work: Path, src: Path, count: int, r: int) -> tuple[float, dict]:
    data = work / f"mailgate-{r}"
    bl.mg_init(data)
    bl.mg_account(data, USER, pop=False)
    os.sync()
    t0 = time.perf_counter()
    proc = bl.mg(data, "import", USER, str(src), "--quiet", check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"mailgate import failed ({proc.returncode}): "
                           f"{proc.stderr.strip()[-2000:]}")
    found = re.search(r"imported (\d+) message", proc.stdout)
    imported = int(found.group(1)) if found else -1
    if imported != count:
        raise RuntimeError(f"mailgate imported {imported} of {count} messages:\n{proc.stdout}")
    _, size = bl.tree_bytes(data)
    shutil.rmtree(data, ignore_errors=True)
    return elapsed, {"messages": imported, "store_bytes": size}


def run_dovecot(ref: bl.DovecotReference, work: Path, src: Path, count: int, fmt: str,
                r: int) -> tuple[float, dict]:
    dest = work / f"dovecot-{fmt}-{r}"
    (dest / "ctl").mkdir(parents=True)
    uid, gid = vmail_ids()
    chown_tree(dest, uid, gid)
    location = f"{fmt}:{dest}/{'mdbox' if fmt == 'mdbox' else 'Maildir'}"
    cmd = ["doveadm", "-c", str(ref.conf), "-o", f"mail_location={location}", "import",
           "-u", USER, "-s", f"maildir:{src}:INDEX=MEMORY:CONTROL={dest}/ctl", "", "all"]
    os.sync()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0 or "Error" in proc.stderr:
        raise RuntimeError(f"doveadm import failed ({proc.returncode}): {proc.stderr[-2000:]}")
    status = subprocess.run(["doveadm", "-c", str(ref.conf), "-o", f"mail_location={location}",
                             "mailbox", "status", "-u", USER, "messages", "*"],
                            capture_output=True, text=True, check=True)
    imported = sum(int(m) for m in re.findall(r"messages=(\d+)", status.stdout))
    if imported != count:
        raise RuntimeError(f"doveadm imported {imported} of {count} messages:\n{status.stdout}")
    _, size = bl.tree_bytes(dest)
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed, {"messages": imported, "store_bytes": size, "command": shlex.join(cmd)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 000 messages, 1 round")
    ap.add_argument("--count", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--dest", default="mdbox,maildir",
                    help="Dovecot destination formats, comma-separated (mdbox, maildir)")
    ap.add_argument("--corpus", type=Path, default=None,
                    help="reuse this make-corpus Maildir (must hold --count messages)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    count = a.count or (1_000 if a.quick else 10_000)
    rounds = a.rounds or (1 if a.quick else 3)
    formats = [f.strip() for f in a.dest.split(",") if f.strip()]
    bl.need_mailgate_mime()

    with bl.workspace("import", a.keep) as work:
        src = a.corpus.resolve() if a.corpus else bl.make_corpus(work / "corpus", count)
        files, size = bl.tree_bytes(src)
        print(f"corpus: {files} messages, {size / 1e6:.1f} MB in {src}")
        ref = bl.DovecotReference(work / "dovecot", users=1)
        ref.start()
        times: dict[str, list[float]] = {"mailgate": [], **{f: [] for f in formats}}
        info: dict[str, dict] = {}
        try:
            for r in range(rounds):
                sides = ["mailgate", *formats]
                if r % 2:
                    sides.reverse()
                for side in sides:
                    if side == "mailgate":
                        elapsed, detail = run_mailgate(work, src, files, r)
                    else:
                        elapsed, detail = run_dovecot(ref, work, src, files, side, r)
                    times[side].append(elapsed)
                    info[side] = detail
                    print(f"round {r + 1}/{rounds}: {side:<8} {elapsed:7.2f}s "
                          f"({files / elapsed:,.0f} msg/s)")
        finally:
            ref.stop()

    med = {side: bl.median(t) for side, t in times.items()}
    rows = [["mailgate import", med["mailgate"], files / med["mailgate"],
             size / 1e6 / med["mailgate"], float("nan"), info["mailgate"]["store_bytes"] / 1e6]]
    ratios = {}
    for fmt in formats:
        ratios[fmt] = bl.ratio(med["mailgate"], med[fmt])
        rows.append([f"doveadm import -> {fmt}", med[fmt], files / med[fmt], size / 1e6 / med[fmt],
                     ratios[fmt], info[fmt]["store_bytes"] / 1e6])
    bl.print_table(
        f"Import of {files:,} messages ({size / 1e6:.0f} MB), median of {rounds} round(s); "
        "ratio = mailgate time / Dovecot time (lower is better, target <= 1.5)",
        ["importer", "seconds", "msg/s", "MB/s", "mailgate/dovecot", "store MB"], rows)
    primary = "mdbox" if "mdbox" in ratios else formats[0]
    verdict = "meets" if ratios[primary] <= 1.5 else "MISSES"
    print(f"\ntarget: mailgate within 1.5x of Dovecot ({primary}) -> {verdict} "
          f"({ratios[primary]:.2f}x)")
    print(f"dovecot command: {info[primary]['command']}")
    bl.write_results("import", {
        "quick": a.quick, "messages": files, "corpus_bytes": size, "rounds": rounds,
        "seconds": times, "median_seconds": med, "ratio_mailgate_over_dovecot": ratios,
        "better": "lower ratio (time)", "details": info})


if __name__ == "__main__":
    main()
