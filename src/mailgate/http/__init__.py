"""The HTTP listener: health, metrics (and, with their issues, webmail, JMAP, admin API)."""
