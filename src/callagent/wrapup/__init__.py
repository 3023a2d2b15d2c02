"""After-call work: wrap-up forms (configuration) and pending wrap-ups."""
