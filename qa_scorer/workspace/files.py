"""What a run records about its input files: path, size, content hash and row accounting."""

from __future__ import annotations

from pathlib import Path

from qa_scorer.ingest import file_sha256


def input_records(files) -> list[dict]:
    """One dict per ``FileReport``: path, bytes, sha256, rows read/accepted/rejected, error."""
    out = []
    for f in files:
        p = Path(f.path)
        out.append({"path": str(f.path), "bytes": p.stat().st_size if p.exists() else None,
                    "sha256": file_sha256(p), "rows_read": f.rows_read, "rows": f.rows,
                    "rejected": f.rejected, "duplicates": f.duplicates, "skipped": f.skipped, "error": f.error})
    return out
