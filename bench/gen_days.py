"""Generated realistic days for the benchmarks: data/samples/generate.py, imported, seeded.

    .venv/bin/python -m bench.gen_days 200x2000 500x5000 --out /tmp/days

A size ``NxM`` is N technicians and M jobs of the sample day's mix (measures,
installs, repairs; skills with levels, hard and preferred windows, lunch
breaks, crews of two, priorities, releases, deadlines, pinned and preferred
technicians), drawn from one seed. The same size and seed always give the same
file. Written files are kept in ``--out`` and reused.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT / "data" / "samples" / "generate.py"
SAMPLE_DAY = ROOT / "data" / "samples" / "helsinki-day.json"
DEFAULT_SEED = 20261201


def generator() -> ModuleType:
    """The sample-day generator module (data/samples is not a package)."""
    module = sys.modules.get("_dispatch_sample_generator")
    if module is not None:
        return module
    spec = importlib.util.spec_from_file_location("_dispatch_sample_generator", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def parse_size(text: str, least: tuple[int, int] = (3, 10)) -> tuple[int, int]:
    """``"200x2000"`` → (200, 2000), each at least ``least``. By default at least 3
    technicians, as this generator needs (every job servable by one more than its crew,
    and crews are of two), and 10 jobs."""
    techs, _, jobs = text.lower().partition("x")
    if not techs.isdigit() or not jobs.isdigit() or int(techs) < least[0] or int(jobs) < least[1]:
        raise ValueError(f"size {text!r} is not TECHNICIANSxJOBS (at least {least[0]} technicians and {least[1]} jobs)")
    return int(techs), int(jobs)


def make_day(technicians: int, jobs: int, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """The generated day as the JSON object of docs/day-file.md, validated."""
    gen = generator()
    day: dict[str, Any] = gen.make_helsinki_day(seed, technicians, jobs)
    gen.validate(day, unservable=2)
    return day


def day_path(technicians: int, jobs: int, out: Path, seed: int = DEFAULT_SEED) -> Path:
    """The day file for this size and seed under ``out``, written when missing."""
    path = out / f"helsinki-{technicians}x{jobs}-seed{seed}.json"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        generator().write_json(make_day(technicians, jobs, seed), tmp)
        tmp.replace(path)
    return path


def day_arg(text: str) -> str:
    """An argparse type for a day to run: ``sample``, a generated size ``NxM``, or a day
    file of one's own (a path ending in ``.json``, docs/day-file.md) that exists; else a
    usage error saying which of the three to give."""
    if text == "sample":
        return text
    if text.endswith(".json"):
        if not Path(text).is_file():
            raise argparse.ArgumentTypeError(f"no day file {text}")
        return text
    try:
        parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, a day file (*.json) or sample") from None
    return text


def day_file(name: str, out: Path, seed: int = DEFAULT_SEED) -> Path:
    """The day file of a name ``day_arg`` accepted: the sample day, a day file as given, or
    the generated day of that size and seed under ``out`` (written when missing)."""
    if name == "sample":
        return SAMPLE_DAY
    if name.endswith(".json"):
        return Path(name)
    return day_path(*parse_size(name), out, seed)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the requested days and print their paths."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="+", help="TECHNICIANSxJOBS, e.g. 200x2000")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=Path("out") / "days")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        print(day_path(*parse_size(size), args.out, args.seed))


if __name__ == "__main__":
    main()
