"""The autoscaling supervisor: worker processes per queue group, scaled on load, replaced when they exit."""

from __future__ import annotations

from .config import GroupConfig, SupervisorConfig, load_supervisor_config
from .runner import Supervisor
from .scaling import Decision, Load, decide

__all__ = ["Decision", "GroupConfig", "Load", "Supervisor", "SupervisorConfig", "decide", "load_supervisor_config"]
