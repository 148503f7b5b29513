"""A small application used by the tests: jobs that record every attempt in Redis, and its WorkerSettings.

Attempts are recorded in Redis (not in memory) so tests can read them from worker subprocesses too.
"""
