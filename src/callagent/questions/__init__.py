"""The register of non-standard questions."""
