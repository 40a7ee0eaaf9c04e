"""wrap-metadata: the RFC 8414 document passes through the runtime where it is complete."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_snapshot.plugin import Snapshot

from tests.migrate.codemods.cases import (
    check_rewrite,
    manual_in,
    plan_case,
    rewritten,
    second_run,
)

GROUP = "wrap_metadata"
REWRITES = (
    "function_return",
    "module_constant_fstrings",
    "module_constant_settings",
    "inline_jsonify",
    "inline_jsonresponse",
    "fastapi_route_return",
    "built_then_returned",
)


def test_function_returning_literal(tmp_path: Path, snapshot: Snapshot) -> None:
    """A dict literal returned by a function is wrapped in place, comments inside kept."""
    check_rewrite(snapshot, GROUP, "function_return", tmp_path)


def test_module_constant_with_fstrings(tmp_path: Path, snapshot: Snapshot) -> None:
    """A module-level constant of f-strings is wrapped where it is bound, not where served."""
    check_rewrite(snapshot, GROUP, "module_constant_fstrings", tmp_path)


def test_module_constant_with_settings_attributes(tmp_path: Path, snapshot: Snapshot) -> None:
    """An annotated module constant of settings attributes keeps its annotation."""
    check_rewrite(snapshot, GROUP, "module_constant_settings", tmp_path)


def test_literal_passed_to_jsonify(tmp_path: Path, snapshot: Snapshot) -> None:
    """A literal given inline to ``jsonify`` is wrapped inside the call."""
    check_rewrite(snapshot, GROUP, "inline_jsonify", tmp_path)


def test_literal_passed_to_json_response(tmp_path: Path, snapshot: Snapshot) -> None:
    """A literal given to ``JSONResponse`` is wrapped; the call's other arguments stay."""
    check_rewrite(snapshot, GROUP, "inline_jsonresponse", tmp_path)


def test_dict_returned_from_fastapi_route(tmp_path: Path, snapshot: Snapshot) -> None:
    """A FastAPI route returning the literal is wrapped; a route's other dict is not."""
    check_rewrite(snapshot, GROUP, "fastapi_route_return", tmp_path)


def test_dict_built_in_several_statements(tmp_path: Path, snapshot: Snapshot) -> None:
    """A dict built over several statements is wrapped at its ``return``, when complete."""
    check_rewrite(snapshot, GROUP, "built_then_returned", tmp_path)


def test_issuer_without_endpoints_is_not_metadata(tmp_path: Path) -> None:
    """Dicts with an ``issuer`` but no authorization or token endpoint are left alone."""
    plan = plan_case(GROUP, "issuer_without_endpoints", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "issuer_without_endpoints.py") == []


def test_keyword_document_to_a_response_is_manual(tmp_path: Path) -> None:
    """``jsonify(issuer=..., ...)`` is not rewritten but reported at its line."""
    plan = plan_case(GROUP, "jsonify_keywords", tmp_path)
    assert rewritten(plan) == {}
    assert len(manual_in(plan, "jsonify_keywords.py")) == 1


def test_dict_keyword_call_is_wrapped(tmp_path: Path) -> None:
    """``return dict(issuer=..., ...)`` is wrapped like a dict literal."""
    plan = plan_case(GROUP, "dict_keyword_call", tmp_path)
    after = rewritten(plan)["dict_keyword_call.py"]
    assert "return oauth_migration.authorization_server_metadata(dict(" in after
    assert manual_in(plan, "dict_keyword_call.py") == []


def test_dict_stored_on_app_state_is_manual(tmp_path: Path) -> None:
    """A document stored somewhere else than a return, a response or a constant is manual."""
    plan = plan_case(GROUP, "stored_on_app_state", tmp_path)
    assert rewritten(plan) == {}
    assert [m.where for m in manual_in(plan, "stored_on_app_state.py")] == [
        "stored_on_app_state.py:6"
    ]


def test_keyword_document_wrapped_by_hand_is_done(tmp_path: Path) -> None:
    """Once the manual step is done, the document counts as migrated: no change, no step."""
    plan = plan_case(GROUP, "dict_call_wrapped_by_hand", tmp_path)
    assert rewritten(plan) == {}
    assert manual_in(plan, "dict_call_wrapped_by_hand.py") == []
    assert not any(m.expected.startswith("an RFC 8414") for m in plan.manual)


@pytest.mark.parametrize("case", REWRITES)
def test_second_run_changes_nothing(case: str, tmp_path: Path) -> None:
    """Planning wrap-metadata again on its own output changes nothing."""
    assert rewritten(second_run(GROUP, case, tmp_path)) == {}


def test_s256_left_out_where_the_verifier_is_not_checked(
    tmp_path: Path, snapshot: Snapshot
) -> None:
    """A token endpoint that never compares the verifier's digest: ``s256=False``, and a
    manual step (not blocking) at the function that reads the verifier."""
    plan = check_rewrite(snapshot, GROUP, "token_endpoint_without_pkce", tmp_path)
    (step,) = [m for m in plan.manual if m.guide == "Manual steps: PKCE"]
    assert step.where == "token_endpoint_without_pkce.py:24"
    assert "S256 left out of the metadata" in step.found and not step.blocks_apply


def test_s256_added_where_a_helper_checks_the_verifier(tmp_path: Path) -> None:
    """The verifier's S256 digest compared through a helper: S256 added, no PKCE step."""
    plan = plan_case(GROUP, "pkce_checked_by_helper", tmp_path)
    after = rewritten(plan)["pkce_checked_by_helper.py"]
    assert "authorization_server_metadata({" in after and "s256=" not in after
    assert not [m for m in plan.manual if m.guide == "Manual steps: PKCE"]
