"""Where the endpoint, token and project come from."""

from __future__ import annotations

import pytest

from vpmigrate.errors import UserError
from vpmigrate.railway.settings import DEFAULT_API_URL, connection_from


def test_account_token_goes_in_the_bearer_header_with_the_project_id() -> None:
    connection = connection_from({"RAILWAY_API_TOKEN": "t1", "RAILWAY_PROJECT_ID": "p"})

    assert connection.url == DEFAULT_API_URL
    assert connection.credentials.headers() == {"Authorization": "Bearer t1"}
    assert connection.project_id == "p"
    assert "t1" not in repr(connection)


def test_project_token_wins_and_needs_no_project_id() -> None:
    connection = connection_from(
        {"RAILWAY_API_TOKEN": "t1", "RAILWAY_TOKEN": "t2", "RAILWAY_API_URL": "http://x/graphql"}
    )

    assert connection.credentials.headers() == {"Project-Access-Token": "t2"}
    assert connection.credentials.variable == "RAILWAY_TOKEN"
    assert connection.url == "http://x/graphql"


def test_missing_token_names_both_variables() -> None:
    with pytest.raises(UserError) as caught:
        connection_from({"RAILWAY_PROJECT_ID": "p"})

    assert "RAILWAY_API_TOKEN" in caught.value.message and "RAILWAY_TOKEN" in caught.value.message
    assert "never accepted as command-line arguments" in caught.value.message


def test_account_token_without_project_says_where_to_find_it() -> None:
    with pytest.raises(UserError, match="RAILWAY_PROJECT_ID is not set"):
        connection_from({"RAILWAY_API_TOKEN": "t1"})
