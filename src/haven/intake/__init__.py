"""Intake: the public report form, receipt codes, evidence files, organisations' imports."""
