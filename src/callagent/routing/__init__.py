"""Operators' states and routing inbound calls to free operators."""
