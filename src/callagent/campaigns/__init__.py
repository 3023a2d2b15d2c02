"""Ready-document notification campaigns: registry in, calls out, results back (issue 5)."""
