"""The campaign's follow-through and command centre, below the service: tasks, reports, reviews.

``campaign`` holds what the seed's campaign does with Revisit's lists: revisit tasks
(闭环) with a responsible officer (包保), a due date by band and the reasons at issue
time; their closing from later approved visits or from officers' coded actions;
overdue alerts (超时预警), the slow-unit list (督办), list adherence and the tracked
early-warning notice (预警提示单); and the command centre's reports and officer review.
Tasks live in a database through SQLAlchemy (SQLite under the home by default,
PostgreSQL by ``REVISIT_DB_URL``). The package sits beside ``training/`` below
``serving/``: it may import ``training``, ``models``, ``features`` and ``warehouse``,
never ``serving`` or the CLI, so its inputs (a ranked frame, visits) are plain
DataFrames that the callers build. No work at import time.
"""
