"""The pure core: windows, regions, peak hours, sensitivity, evaluation, suggestions and approval policy.

Nothing here reads a clock, the environment, a file or the network; time comes in as an argument.
"""

from chatops.domain.evaluate import evaluate
from chatops.domain.models import (
    Evaluation,
    HoursRange,
    Policy,
    Region,
    RegionResult,
    RegionsConfig,
    Team,
    Window,
)
from chatops.domain.suggest import suggest

__all__ = [
    "Evaluation",
    "HoursRange",
    "Policy",
    "Region",
    "RegionResult",
    "RegionsConfig",
    "Team",
    "Window",
    "evaluate",
    "suggest",
]
