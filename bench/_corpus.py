"""Unpack a ../shared/corpus archive once into .cache/corpus/, where tests/conftest.py puts it."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NEWSINGEST_SHARED_DIR", ROOT.parent / "shared"))
CACHE = ROOT / ".cache" / "corpus"


def unpack(archive: str) -> Path:
    """Unpack ``<shared>/corpus/<archive>`` into ``.cache/corpus/<stem>/`` once; return it."""
    target = CACHE / archive.split(".")[0]
    marker = target / ".unpacked"
    if not marker.exists():
        source = SHARED / "corpus" / archive
        if not source.is_file():
            raise SystemExit(f"{source} not found (set NEWSINGEST_SHARED_DIR?)")
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(source) as tar:
            tar.extractall(target, filter="data")
        marker.touch()
    return target
