"""smtpdoc: explain SMTP from packet captures, step by step."""

__version__ = "0.1.0"
