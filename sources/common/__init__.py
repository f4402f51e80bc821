"""What every provider shares: HTTP, windows, parsing, raw records, errors, redaction."""
