"""Domain errors of the follow-through (routes turn them into HTTP answers, the CLI into messages)."""

from __future__ import annotations


class CampaignError(Exception):
    """Base class of the follow-through's errors."""


class TaskStoreError(CampaignError):
    """The task database cannot be opened, read or written."""


class UnknownTask(CampaignError):
    """No task has the id asked for."""


class InvalidTaskAction(CampaignError):
    """The action does not fit the task's status or its code is unknown."""


class CampaignConfigError(CampaignError):
    """A roster, capacity file or due-date rule cannot be read or makes no sense."""
