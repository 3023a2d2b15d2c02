"""Workforce planning: the calls' forecast, the staff an interval needs (Erlang C and A)."""
