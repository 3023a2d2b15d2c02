"""Website call-back requests (issue #13; seed 000 §1.4, seed 004).

The office's website posts a signed request (:mod:`.guard`: the site key, replays,
limits); it becomes a call-back task scheduled inside the applicant's window and the
centre's hours (:mod:`.schedule`, pure), dialled operator-first by :mod:`.dialer`
(a free operator claimed with priority, their phone first, then the applicant), and
closed with the operator's wrap-up. :mod:`.service` holds the storage rules.
"""
