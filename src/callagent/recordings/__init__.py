"""Call recordings: the safe path to a call's file, listening, retention."""
