"""Follow-through of the lists (闭环): revisit tasks, their outcomes, overdue alerts, notices.

``campaign`` turns the week's ranking into revisit tasks with a responsible officer
(包保), a due date by band and the reasons at issue time; closes them from later
approved visits in the field exports or from officers' coded actions; lists overdue
tasks (超时预警) and slow units (督办); measures list adherence; and writes the
tracked early-warning notice (预警提示单). Tasks live in a database through
SQLAlchemy (SQLite under the home by default, PostgreSQL by ``REVISIT_DB_URL``).
The package sits beside ``training/`` below ``serving/``: it may import
``training``, ``models``, ``features`` and ``warehouse``, never ``serving`` or the
CLI, so its inputs (a ranked frame, visits) are plain DataFrames that the callers
build. No work at import time.
"""
