"""The till's local HTTP API: a POS or pickup system arms checks and hears their verdicts.

`checks` (the check registry) and `requests` (request bodies) are pure; `events` keeps the
stream for replay; `server` serves HTTP; `till` fits the loop's seams; `setup` is what the
composition root calls. Off unless `[api] listen` is set.
"""
