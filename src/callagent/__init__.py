"""callagent: an Asterisk contact centre (call records, routing, campaigns, wrap-up)."""

__version__ = "0.1.0"
