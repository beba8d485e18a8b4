"""Extraction speed before and after a change, side by side in one run.

    python -m bench.extract_speed --baseline REV [--pages 150] [--runs 3]

What bench row 1 ("bound") times for extraction, per page: ``decode_html`` then
``extract_article`` with the default options, pages read from memory, after an untimed
warm-up on other pages. Each run is a fresh process, with the code of either ``REV``
(exported with ``git archive`` into ``.cache/speed/REV/``) or the working tree on its path;
the runs alternate (baseline, current, baseline, ...) so that load from other processes
falls on both alike. Reported: the median wall time and the median CPU time of the
process, and the ratio current / baseline (above 1 = slower).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.extract_options import eval_dir, load_pages, page_url

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "speed"

CHILD = """
import contextlib, json, sys, time
from pathlib import Path
from ingest.extract import DEFAULT_OPTIONS, decode_html, extract_article
from schemas.errors import NotAnArticle
job = json.loads(Path(sys.argv[1]).read_text())
bodies = [(url, Path(path).read_bytes()) for url, path in job["pages"]]
for url, path in job["warmup"]:
    with contextlib.suppress(NotAnArticle):
        extract_article(decode_html(Path(path).read_bytes(), None), url=url)
started, cpu = time.perf_counter(), time.process_time()
for url, body in bodies:
    with contextlib.suppress(NotAnArticle):
        extract_article(decode_html(body, None), url=url, options=DEFAULT_OPTIONS)
print(json.dumps({"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu}))
"""


def export(rev: str) -> Path:
    """The ``ingest/`` and ``schemas/`` of ``rev``, exported once into .cache/speed/REV/."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = CACHE / sha[:12]
    if not (target / ".exported").exists():
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as archive:
            subprocess.run(
                ["git", "archive", "--format=tar", sha, "ingest", "schemas"],
                cwd=ROOT,
                stdout=archive,
                check=True,
            )
            archive.seek(0)
            with tarfile.open(fileobj=archive) as tar:
                tar.extractall(target, filter="data")
        (target / ".exported").touch()
    return target


def run_child(code_root: Path, job: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(job)],
        cwd=code_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="git revision to compare with")
    parser.add_argument("--pages", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    here = eval_dir()
    data = json.loads((here / "evaldata.json").read_text("utf-8"))
    pages = load_pages()
    random.Random(1).shuffle(pages)  # the same subset as extract_options' speed column

    def path_of(key: str) -> str:
        path = here / "cache" / data[key]["file"]
        return str(path if path.is_file() else here / "eval" / data[key]["file"])

    timed = [(page_url(p.key) or "", path_of(p.key)) for p in pages[: args.pages]]
    warmup = [(page_url(p.key) or "", path_of(p.key)) for p in pages[-3:]]
    CACHE.mkdir(parents=True, exist_ok=True)
    job = CACHE / "job.json"
    job.write_text(json.dumps({"pages": timed, "warmup": warmup}), "utf-8")
    trees = {"baseline": export(args.baseline), "current": ROOT}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for run in range(args.runs):
        for name, tree in trees.items():
            results[name].append(run_child(tree, job))
            print(f"run {run + 1} {name}: {results[name][-1]}", file=sys.stderr)
    wall = {n: statistics.median(r["wall"] for r in rs) for n, rs in results.items()}
    cpu = {n: statistics.median(r["cpu"] for r in rs) for n, rs in results.items()}
    print(f"| code | pages | wall s (median of {args.runs}) | pages/s | CPU s | CPU pages/s |")
    print("|---|---|---|---|---|---|")
    for name in trees:
        label = f"{name} ({args.baseline})" if name == "baseline" else name
        print(
            f"| {label} | {len(timed)} | {wall[name]:.2f} | {len(timed) / wall[name]:.1f} | "
            f"{cpu[name]:.2f} | {len(timed) / cpu[name]:.1f} |"
        )
    print(
        f"\ncurrent / baseline: wall x {wall['current'] / wall['baseline']:.3f}, "
        f"CPU x {cpu['current'] / cpu['baseline']:.3f} (above 1 = slower)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
