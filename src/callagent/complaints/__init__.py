"""The complaints register (seed 003 A/04, seed 001 §3.1.4)."""
