"""What a run records about its input files: path, size, content hash and row accounting."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: str | Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def input_records(files) -> list[dict]:
    """One dict per ``FileReport``: path, bytes, sha256, rows read/accepted/rejected, error."""
    out = []
    for f in files:
        p = Path(f.path)
        out.append({"path": str(f.path), "bytes": p.stat().st_size if p.exists() else None,
                    "sha256": file_sha256(p), "rows_read": f.rows_read, "rows": f.rows,
                    "rejected": f.rejected, "duplicates": f.duplicates, "skipped": f.skipped, "error": f.error})
    return out
