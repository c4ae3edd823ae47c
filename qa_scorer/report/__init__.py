"""Reports for people: report.html for QA staff, audit.xlsx, and coaching examples for trainers.

See docs/reports.md.
"""

from qa_scorer.report.audit_folder import AuditFolderError, load_audit_folder
from qa_scorer.report.coach import CoachingError, coaching_examples, write_coaching
from qa_scorer.report.html import render_html_report, write_html_report
from qa_scorer.report.workbook import EXCEL_MAX_DATA_ROWS, write_workbook

__all__ = [
    "AuditFolderError",
    "CoachingError",
    "EXCEL_MAX_DATA_ROWS",
    "coaching_examples",
    "load_audit_folder",
    "render_html_report",
    "write_coaching",
    "write_html_report",
    "write_workbook",
]
