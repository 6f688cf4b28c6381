"""Trace a suspect model: watermark radioactivity (open and closed model) and account attribution."""
