"""The task database (SQLAlchemy Core): schema, engine, and the reads and writes of tasks.

One URL decides where tasks live: ``REVISIT_DB_URL`` (e.g.
``postgresql+psycopg://revisit@db/revisit``), else ``sqlite:///<home>/tasks.db``.
Three tables:

``publications``
    one row per published week (``week`` unique: publishing a week twice creates nothing).
``tasks``
    one row per task; ``(kind, household_id, source_key)`` is unique, where
    ``source_key`` is the week for a model task and the missed 回访期限 for a
    follow-up task. Jurisdiction is the path ``county, township, village``, never a
    bare name. Times are stored as naive UTC and returned timezone-aware (UTC).
``task_events``
    every change of a task: who (token id, role), what (action and code), when.

Tables are created on open (``create_all``): no migration step yet.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from campaign.errors import TaskStoreError, UnknownTask

metadata = MetaData()

publications = Table(
    "publications",
    metadata,
    Column("week", String(10), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("issued_at", DateTime, nullable=False),
    Column("model_version", String(40)),
    Column("n_model", Integer, nullable=False),
    Column("n_followup", Integer, nullable=False),
    Column("actor", String(100), nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("source_key", String(20), nullable=False),
    Column("week", String(10), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("household_id", String(100), nullable=False),
    Column("county", String(100), nullable=False),
    Column("township", String(100), nullable=False),
    Column("village", String(100), nullable=False),
    Column("officer_id", String(100)),
    Column("officer_source", String(10), nullable=False),
    Column("risk_band", String(10)),
    Column("score", Float),
    Column("rank", Integer),
    Column("rank_range", String(20)),
    Column("due", Date, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("model_version", String(40)),
    Column("notice_no", String(40)),
    Column("issued_at", DateTime, nullable=False),
    Column("status", String(14), nullable=False),
    Column("acknowledged_at", DateTime),
    Column("closed_at", DateTime),
    Column("closed_by", String(10)),
    Column("visited_at", DateTime),
    Column("outcome", String(20)),
    Column("decline_reason", String(20)),
    UniqueConstraint("kind", "household_id", "source_key", name="tasks_once"),
    Index("tasks_place", "county", "township", "village"),
    Index("tasks_status_due", "status", "due"),
    Index("tasks_household", "household_id"),
)

task_events = Table(
    "task_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String(40), nullable=False, index=True),
    Column("at", DateTime, nullable=False),
    Column("action", String(20), nullable=False),
    Column("code", String(20)),
    Column("actor", String(100), nullable=False),
    Column("role", String(20), nullable=False),
)

#: Columns of a task as returned by :meth:`TaskDB.tasks_frame` and :meth:`TaskDB.get`.
TASK_COLUMNS: tuple[str, ...] = tuple(c.name for c in tasks.columns)

_OPEN = ("open", "acknowledged")


def default_db_url(home: Path) -> str:
    """``sqlite:///<home>/tasks.db`` (absolute path)."""
    return f"sqlite:///{Path(home).resolve() / 'tasks.db'}"


def utc_naive(at: datetime) -> datetime:
    """An aware instant as naive UTC (how the database stores it); naive is taken as UTC."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else value


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _aware(v) for k, v in row.items()}
    if "reasons" in out and isinstance(out["reasons"], str):
        out["reasons"] = json.loads(out["reasons"])
    return out


class TaskDB:
    """The task database behind one SQLAlchemy engine.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``).

    Raises
    ------
    TaskStoreError
        When the database cannot be reached or its tables cannot be created.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            path = url.split("///", 1)[-1] if url.startswith("sqlite") else ""
            if url.startswith("sqlite"):
                if path and path != ":memory:":
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                self.engine: Engine = create_engine(
                    url, connect_args={"timeout": 30, "check_same_thread": False}
                )
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
            metadata.create_all(self.engine)
            if url.startswith("sqlite") and path and path != ":memory:":
                os.chmod(path, 0o600)  # files under the home are 0600 (DESIGN.md)
        except (SQLAlchemyError, OSError) as err:
            raise TaskStoreError(
                f"could not open the task database {self.safe_url!r}: {type(err).__name__}"
            ) from err

    @property
    def safe_url(self) -> str:
        """The URL with any password masked (for messages and logs)."""
        from sqlalchemy.engine import make_url

        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    # ---------------------------------------------------------------- publication
    def publication(self, week: str) -> dict[str, Any] | None:
        """The publication of ``week`` (``YYYY-Www``), or ``None``."""
        with self._connect() as conn:
            row = conn.execute(select(publications).where(publications.c.week == week)).first()
        return None if row is None else _record(row._mapping)

    def publish(self, pub: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> bool:
        """Insert a publication and its tasks in one transaction.

        Returns
        -------
        bool
            ``False`` (nothing written) when the week was already published, by this
            call's race partner or earlier; ``True`` when written.

        Raises
        ------
        TaskStoreError
            On any other database error.
        """
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(publications).values(**pub))
                if rows:
                    conn.execute(insert(tasks), [dict(r) for r in rows])
                    conn.execute(
                        insert(task_events),
                        [
                            {
                                "task_id": r["task_id"],
                                "at": r["issued_at"],
                                "action": "issued",
                                "code": r["kind"],
                                "actor": pub["actor"],
                                "role": "publisher",
                            }
                            for r in rows
                        ],
                    )
        except IntegrityError:
            if self.publication(str(pub["week"])) is not None:
                return False
            raise
        except SQLAlchemyError as err:
            raise TaskStoreError(f"could not write the publication: {type(err).__name__}") from err
        return True

    def open_keys(self, kind: str) -> set[tuple[str, str]]:
        """``(household_id, source_key)`` of the tasks of ``kind`` ever issued."""
        with self._connect() as conn:
            result = conn.execute(
                select(tasks.c.household_id, tasks.c.source_key).where(tasks.c.kind == kind)
            )
            return {(str(h), str(k)) for h, k in result}

    def open_households(self, kind: str) -> set[str]:
        """Households with a task of ``kind`` that is still open or acknowledged."""
        with self._connect() as conn:
            result = conn.execute(
                select(tasks.c.household_id).where(
                    and_(tasks.c.kind == kind, tasks.c.status.in_(_OPEN))
                )
            )
            return {str(h) for (h,) in result}

    # ---------------------------------------------------------------------- reads
    def get(self, task_id: str) -> dict[str, Any]:
        """One task as a dict (``reasons`` decoded, times aware UTC).

        Raises
        ------
        UnknownTask
            When no task has this id.
        """
        with self._connect() as conn:
            row = conn.execute(select(tasks).where(tasks.c.task_id == task_id)).first()
        if row is None:
            raise UnknownTask(f"no task with id {task_id!r}")
        return _record(row._mapping)

    def tasks_frame(
        self,
        *,
        place: Mapping[str, str] | None = None,
        status: str = "all",
        today: date | None = None,
        household_id: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Tasks as a frame (columns :data:`TASK_COLUMNS`), most urgent first.

        Parameters
        ----------
        place : mapping of level to name, optional
            Any of ``county``, ``township``, ``village`` (a path or its prefix).
        status : {"open", "overdue", "done", "declined", "all"}
            ``open`` = open or acknowledged; ``overdue`` = open or acknowledged with
            ``due`` before ``today``.
        today : date, optional
            Local date that decides ``overdue`` (required for it).
        household_id, kind : str, optional
            Further filters.
        limit, offset : int, optional
            Paging (rows).

        Returns
        -------
        DataFrame
            Ordered by due date, then task id; ``reasons`` decoded to lists.
        """
        query = select(tasks)
        for level, name in (place or {}).items():
            query = query.where(tasks.c[level] == name)
        if status == "open":
            query = query.where(tasks.c.status.in_(_OPEN))
        elif status == "overdue":
            if today is None:
                raise ValueError("expected today's date to find overdue tasks, got None")
            query = query.where(and_(tasks.c.status.in_(_OPEN), tasks.c.due < today))
        elif status in ("done", "declined"):
            query = query.where(tasks.c.status == status)
        elif status != "all":
            raise ValueError(f"expected a status filter, got {status!r}")
        if household_id is not None:
            query = query.where(tasks.c.household_id == household_id)
        if kind is not None:
            query = query.where(tasks.c.kind == kind)
        query = query.order_by(tasks.c.due, tasks.c.task_id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self._connect() as conn:
            rows = [_record(r._mapping) for r in conn.execute(query)]
        return pd.DataFrame(rows, columns=list(TASK_COLUMNS))

    def count(self, *, place: Mapping[str, str] | None = None) -> int:
        """Number of tasks (of a place)."""
        query = select(func.count()).select_from(tasks)
        for level, name in (place or {}).items():
            query = query.where(tasks.c[level] == name)
        with self._connect() as conn:
            return int(conn.execute(query).scalar_one())

    def events(self, task_id: str | None = None) -> pd.DataFrame:
        """The task events (of one task), oldest first."""
        query = select(task_events).order_by(task_events.c.id)
        if task_id is not None:
            query = query.where(task_events.c.task_id == task_id)
        with self._connect() as conn:
            rows = [_record(r._mapping) for r in conn.execute(query)]
        return pd.DataFrame(rows, columns=[c.name for c in task_events.columns])

    # --------------------------------------------------------------------- writes
    def change(
        self,
        task_id: str,
        *,
        allowed_from: Iterable[str],
        values: Mapping[str, Any],
        event_row: Mapping[str, Any],
    ) -> bool:
        """Update a task when its status is in ``allowed_from``, with its event, atomically.

        Returns
        -------
        bool
            ``False`` when the task's status did not allow the change (nothing written).
        """
        try:
            with self.engine.begin() as conn:
                result = conn.execute(
                    update(tasks)
                    .where(and_(tasks.c.task_id == task_id, tasks.c.status.in_(list(allowed_from))))
                    .values(**values)
                )
                if result.rowcount != 1:
                    return False
                conn.execute(insert(task_events).values(task_id=task_id, **event_row))
        except SQLAlchemyError as err:
            raise TaskStoreError(
                f"could not update task {task_id!r}: {type(err).__name__}"
            ) from err
        return True

    def open_tasks_of(self, household_ids: Iterable[str]) -> pd.DataFrame:
        """Open or acknowledged tasks of the given households."""
        ids = sorted(set(household_ids))
        if not ids:
            return pd.DataFrame(columns=list(TASK_COLUMNS))
        frames: list[dict[str, Any]] = []
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            query = select(tasks).where(
                and_(tasks.c.household_id.in_(chunk), tasks.c.status.in_(_OPEN))
            )
            with self._connect() as conn:
                frames.extend(_record(r._mapping) for r in conn.execute(query))
        return pd.DataFrame(frames, columns=list(TASK_COLUMNS))

    def _connect(self) -> Any:
        try:
            return self.engine.connect()
        except SQLAlchemyError as err:
            raise TaskStoreError(
                f"could not reach the task database {self.safe_url!r}: {type(err).__name__}"
            ) from err


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


__all__ = [
    "TASK_COLUMNS",
    "TaskDB",
    "default_db_url",
    "publications",
    "task_events",
    "tasks",
    "utc_naive",
]
