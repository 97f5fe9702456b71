"""The README's walkthrough, run as written against a served API (``python -m api``
as ``make run`` starts it), with the token and sample day the server printed: the
README cannot drift from the product again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.api.test_e2e_uvicorn import ROOT, start_server, stop_server
from tests.conftest import seeded_day

pytestmark = pytest.mark.clock
MARKER = "<!-- walkthrough:"


def walkthrough() -> str:
    """The ``sh`` block that follows the walkthrough marker in README.md."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    block = re.search(r"```sh\n(.*?)```", after, re.DOTALL)
    assert block is not None, "README.md: no sh block after the walkthrough marker"
    return block.group(1)


def printed(output: str, label: str) -> str:
    """The last word of the line the server printed starting with ``label``."""
    lines = [line for line in output.splitlines() if line.startswith(label)]
    assert len(lines) == 1, output
    return lines[0].split(":", 1)[1].split()[-1] if label == "Dispatcher token" else lines[0].split()[2]


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None, reason="the walkthrough needs curl and jq"
)
def test_the_readme_walkthrough_plans_publishes_lists_searches_and_books_on_the_printed_day(tmp_path: Path) -> None:
    server = start_server(tmp_path, f"sqlite:///{tmp_path / 'readme.db'}", admin_token=None, seed=True)
    try:
        token, day = printed(server.output(), "Dispatcher token"), printed(server.output(), "Sample day:")
        assert day == seeded_day().isoformat()
        env = {**os.environ, "T": token, "DAY": day, "API": server.base_url}
        ran = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", walkthrough()],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        stop_server(server)
    assert ran.returncode == 0, f"stdout:\n{ran.stdout}\nstderr:\n{ran.stderr}"
    documents = [json.loads(line) for line in _json_lines(ran.stdout)]
    status, published = documents[0], documents[1]
    assert status["status"] == "done" and status["visits"] > 0
    assert published["published"] is True
    visits = [d for d in documents if "arrival" in d]
    assert visits and all(v["arrival"].startswith(day) for v in visits)
    best = next(line for line in ran.stdout.splitlines() if line.startswith("best slot: "))
    slot = json.loads(best.removeprefix("best slot: "))
    assert slot["start"].startswith(day)
    booking = documents[-1]
    assert booking["job_id"].startswith("bk-") and booking["slot"]["start"] == slot["start"]


def _json_lines(stdout: str) -> list[str]:
    """Each JSON document jq printed (compact ones a line each, pretty ones over several)."""
    documents: list[str] = []
    current: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("best slot: "):
            continue
        current.append(line)
        text = "\n".join(current)
        try:
            json.loads(text)
        except json.JSONDecodeError:
            continue
        documents.append(text)
        current = []
    assert not current, f"unparsed output: {current}"
    return documents
