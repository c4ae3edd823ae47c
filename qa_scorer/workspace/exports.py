"""Writing workspace tables for people: one .xlsx with a sheet per table, or a folder of CSVs.

Both go through the project's one spreadsheet-safety rule (``qa_scorer.safety``): chat-derived
text never runs as a formula in Excel/WPS.  xlsx headers are the Chinese column labels of
docs/columns.md where a column has one.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from qa_scorer.report.columns import column_label
from qa_scorer.safety import excel_safe
from qa_scorer.sinks import write_table


def write_sheets(out: str | Path, tables: dict[str, pd.DataFrame]) -> list[Path]:
    out = Path(out)
    if out.suffix.lower() == ".xlsx":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial.xlsx")
        with pd.ExcelWriter(tmp, engine="xlsxwriter") as writer:
            for name, df in tables.items():
                sheet = excel_safe(df).rename(columns=column_label)
                sheet.to_excel(writer, sheet_name=name[:31], index=False)
        tmp.replace(out)  # a failed write never leaves half a file where the old one was
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    return [write_table(df, out / f"{name}.csv") for name, df in tables.items()]
