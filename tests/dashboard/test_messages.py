"""Every page says plainly when the token is wrong or the API is down: no traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import free_port, signed_in, texts

PAGES = ["views/plan.py", "views/edit.py", "views/technicians.py"]


@pytest.mark.parametrize("page", PAGES)
def test_a_wrong_token_gets_one_clear_message_on_every_page(board: Callable[..., AppTest], page: str) -> None:
    at = signed_in(board(), token="wrong", day=None).switch_page(page).run()
    assert not at.exception
    assert [e for e in texts(at, "error") if "refused the token" in e and "dispatcher token" in e]


@pytest.mark.parametrize("page", PAGES)
def test_an_api_that_is_down_gets_one_clear_message_on_every_page(board: Callable[..., AppTest], page: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    at = signed_in(board(url), day=None).switch_page(page).run()
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and f"The dispatch API at {url} cannot be reached" in errors[0]


def test_an_installer_token_is_told_it_needs_the_dispatcher_role(board: Callable[..., AppTest], api: object) -> None:
    from tests.dashboard.conftest import Api

    assert isinstance(api, Api)
    token = api.http.post("/v1/tokens", json={"role": "installer", "technician_id": "T01"}).json()["token"]
    at = signed_in(board(), token=token, day=None)
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and "needs a dispatcher token" in errors[0]
