"""The planning engine: technicians and jobs in, checked routes out.

No database or web imports live here; see docs/ and the README.
"""

from solver.checker import CheckReport, Violation, ViolationKind, check
from solver.engine import Cancelled, CheckerRejected, Progress, SolveOptions, prepare, solve
from solver.problem import (
    RELOAD_ID,
    Break,
    CostProfile,
    Dependency,
    Depot,
    Job,
    JobKind,
    Location,
    Problem,
    ProblemError,
    Shift,
    Technician,
    TechnicianKind,
    TimeWindow,
    Weights,
)
from solver.search.strategy import SearchSettings
from solver.solution import BreakTaken, ReasonCode, Route, Solution, Unassigned, Visit
from solver.travel import FixedMatrixProvider, HaversineProvider, TravelMatrices, problem_travel

__all__ = [
    "RELOAD_ID",
    "Break",
    "BreakTaken",
    "Cancelled",
    "CheckReport",
    "CheckerRejected",
    "CostProfile",
    "Dependency",
    "Depot",
    "FixedMatrixProvider",
    "HaversineProvider",
    "Job",
    "JobKind",
    "Location",
    "Problem",
    "ProblemError",
    "Progress",
    "ReasonCode",
    "Route",
    "SearchSettings",
    "Shift",
    "Solution",
    "SolveOptions",
    "Technician",
    "TechnicianKind",
    "TimeWindow",
    "TravelMatrices",
    "Unassigned",
    "Violation",
    "ViolationKind",
    "Visit",
    "Weights",
    "check",
    "prepare",
    "problem_travel",
    "solve",
]
