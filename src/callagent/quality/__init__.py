"""QA evaluation: scorecards, evaluations, sampling, disputes, reports (issue #13)."""
