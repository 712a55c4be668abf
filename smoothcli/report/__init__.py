"""Stage 6: the report (rows, sections, notes, problems) that the output formats render."""
