"""The RFC 7662 introspection checks, on crafted answers."""

from __future__ import annotations

from migrate.verify.checks import Status
from migrate.verify.client import Answer
from migrate.verify.token_checks import (
    introspection_of_garbage,
    introspection_of_token,
    introspection_requires_auth,
)
from tests.migrate.verify.support import good_claims, json_answer


def test_active_answer_matching_the_jwt_passes() -> None:
    """active true with the JWT's members passes."""
    answer = json_answer({"active": True, "token_type": "Bearer", **good_claims()})
    assert introspection_of_token(answer, good_claims()).status is Status.PASS


def test_inactive_answer_for_the_fresh_jwt_fails() -> None:
    """The fresh JWT introspected inactive fails."""
    answer = json_answer({"active": False})
    assert introspection_of_token(answer, good_claims()).status is Status.FAIL


def test_active_answer_for_another_subject_fails() -> None:
    """An active answer whose sub differs from the JWT's fails, naming the member."""
    answer = json_answer({"active": True, **good_claims(), "sub": "bob"})
    check = introspection_of_token(answer, good_claims())
    assert check.status is Status.FAIL
    assert "sub 'bob'" in check.message


def test_active_answer_without_aud_fails() -> None:
    """An active answer lacking aud fails, naming what is missing."""
    body = {name: value for name, value in good_claims().items() if name != "aud"}
    check = introspection_of_token(json_answer({"active": True, **body}), good_claims())
    assert check.status is Status.FAIL
    assert "aud missing" in check.message


def test_garbage_token_exactly_inactive_passes() -> None:
    """Exactly {"active": false} for a made-up token passes."""
    assert introspection_of_garbage(json_answer({"active": False})).status is Status.PASS


def test_garbage_token_with_extra_members_fails() -> None:
    """An inactive answer with more members than active fails: it must be exactly that."""
    answer = json_answer({"active": False, "error": "unknown token"})
    assert introspection_of_garbage(answer).status is Status.FAIL


def test_anonymous_introspection_answered_401_passes() -> None:
    """401 without credentials and with a wrong secret passes."""
    refused = Answer("POST http://x/introspect", 401)
    assert introspection_requires_auth(refused, refused).status is Status.PASS


def test_anonymous_introspection_answered_200_fails() -> None:
    """An anonymous caller that gets 200 fails."""
    anonymous = json_answer({"active": True}, url="http://x/introspect")
    check = introspection_requires_auth(anonymous, None)
    assert check.status is Status.FAIL
    assert "-> 200" in check.message


def test_400_invalid_client_warns() -> None:
    """400 invalid_client (allowed by RFC 6749 §5.2) instead of 401 is a warning."""
    answer = json_answer({"error": "invalid_client"}, status=400)
    assert introspection_requires_auth(answer, None).status is Status.WARN
