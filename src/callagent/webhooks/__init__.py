"""Signed webhooks through an outbox table."""
