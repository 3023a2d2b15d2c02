"""Who may do what: roles, scopes, passwords, tokens, sessions, masking."""
