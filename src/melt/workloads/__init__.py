"""Conversation sets: the built-in one and users' files (DESIGN.md: workloads)."""

from melt.workloads.builtin import BUILTIN_WORKLOAD, builtin_workload_path
from melt.workloads.conversation import Conversation, Workload
from melt.workloads.loader import load_workload

__all__ = [
    "BUILTIN_WORKLOAD",
    "Conversation",
    "Workload",
    "builtin_workload_path",
    "load_workload",
]
