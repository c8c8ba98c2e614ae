"""The monthly brief (figures, tables, charts, .docx/.xlsx) and safe exports."""
