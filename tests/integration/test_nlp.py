"""The NER processes' allocator tuning, measured in fresh interpreters."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

_FAULTS = """
import resource, sys
import numpy as np
from workers.nlp import tune_allocator
tuned = tune_allocator() if sys.argv[1] == "tune" else False
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # what a tok2vec batch does: a large array, freed, and again
    array = np.ones(40 * 2**20, dtype=np.uint8)
    del array
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str, **env: str) -> tuple[bool, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS, mode],
        env={**clean, **env},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return out[0] == "True", int(out[1])


GLIBC = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_tuned_allocator_keeps_large_arrays_instead_of_faulting_them_in_again() -> None:
    tuned, tuned_faults = _page_faults("tune")
    untouched, default_faults = _page_faults("default")
    assert tuned
    assert not untouched
    # glibc's defaults: every 40 MB array is a fresh mmap, faulted in page by page
    assert tuned_faults * 4 < default_faults


@pytest.mark.skipif(not GLIBC, reason="the thresholds are glibc's")
def test_an_operators_malloc_variables_are_left_alone() -> None:
    tuned, _ = _page_faults("tune", MALLOC_TRIM_THRESHOLD_="131072")
    assert not tuned
