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
        {"RAILWAY_API_TOKEN": "t1", "RAILWAY_TOKEN": "t2", "RAILWAY_API_URL": "https://x/graphql"}
    )

    assert connection.credentials.headers() == {"Project-Access-Token": "t2"}
    assert connection.credentials.variable == "RAILWAY_TOKEN"
    assert connection.url == "https://x/graphql"


def test_missing_token_names_both_variables() -> None:
    with pytest.raises(UserError) as caught:
        connection_from({"RAILWAY_PROJECT_ID": "p"})

    assert "RAILWAY_API_TOKEN" in caught.value.message and "RAILWAY_TOKEN" in caught.value.message
    assert "never accepted as command-line arguments" in caught.value.message


def test_account_token_without_project_says_where_to_find_it() -> None:
    with pytest.raises(UserError, match="RAILWAY_PROJECT_ID is not set"):
        connection_from({"RAILWAY_API_TOKEN": "t1"})


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("backboard.example/graphql/v2", "is not an http(s) URL"),
        ("ftp://backboard.example/graphql", "is not an http(s) URL"),
        ("http://[::1", "is not a valid URL"),
        ("https://host:99999/graphql", "is not a valid URL"),
        ("https://host:abc/graphql", "is not a valid URL"),
        ("https:///graphql", "names no host"),
        ("https://exa mple.com/graphql", "contains a space"),
        ("https://h\u00e9.example/graphql", "non-ASCII"),
        ("http://backboard.example/graphql", "plain http to another machine"),
        ("https://user:hunter2@backboard.example/graphql", "carries credentials"),
    ],
)
def test_a_malformed_api_url_is_one_clear_error(url: str, problem: str) -> None:
    with pytest.raises(UserError) as caught:
        connection_from(
            {"RAILWAY_API_TOKEN": "t1", "RAILWAY_PROJECT_ID": "p", "RAILWAY_API_URL": url}
        )

    assert problem in caught.value.message and "RAILWAY_API_URL" in caught.value.message
    assert "hunter2" not in caught.value.message


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/graphql/v2", "http://localhost/x", "http://[::1]:9/x"]
)
def test_plain_http_is_accepted_on_this_machine(url: str) -> None:
    connection = connection_from(
        {"RAILWAY_API_TOKEN": "t1", "RAILWAY_PROJECT_ID": "p", "RAILWAY_API_URL": url}
    )

    assert connection.url == url


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ("tok\u00e9n-secret-77", "a non-ASCII character at position 4"),
        ("tok en-secret-77", "a space"),
    ],
)
def test_a_token_that_cannot_go_in_a_header_is_refused_without_showing_it(
    token: str, kind: str
) -> None:
    with pytest.raises(UserError) as caught:
        connection_from({"RAILWAY_TOKEN": token})

    assert "RAILWAY_TOKEN contains" in caught.value.message and kind in caught.value.message
    assert "secret-77" not in caught.value.message
