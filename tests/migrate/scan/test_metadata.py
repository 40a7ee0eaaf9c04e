"""find_metadata: the RFC 8414 document, where it is complete, and what it cannot wrap."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.metadata import find_metadata
from tests.migrate.codemods.cases import code, source_tree

GROUP = "wrap_metadata"


@pytest.mark.parametrize(
    ("case", "shape"),
    [
        ("function_return", "function-return"),
        ("fastapi_route_return", "function-return"),
        ("module_constant_fstrings", "module-constant"),
        ("module_constant_settings", "module-constant"),
        ("inline_jsonify", "inline-argument"),
        ("inline_jsonresponse", "inline-argument"),
        ("built_then_returned", "built-then-returned"),
    ],
)
def test_each_placement_is_named(case: str, shape: str, tmp_path: Path) -> None:
    """One producer per document, named by where the document is complete."""
    producers, manual = find_metadata(source_tree(GROUP, case, tmp_path))
    assert [(p.shape, p.migrated) for p in producers] == [(shape, False)]
    assert manual == []


def test_issuer_is_the_documents_own_expression(tmp_path: Path) -> None:
    """The issuer reported is the expression the document gives, a settings attribute here."""
    producers, _ = find_metadata(source_tree(GROUP, "module_constant_settings", tmp_path))
    issuer = producers[0].issuer
    assert issuer is not None and code(issuer) == "settings.issuer"
    assert "code_challenge_methods_supported" in producers[0].keys


def test_built_document_is_wrapped_at_its_return(tmp_path: Path) -> None:
    """A document built in several statements is wrapped at ``return meta``, not the literal."""
    producers, _ = find_metadata(source_tree(GROUP, "built_then_returned", tmp_path))
    assert [code(w) for w in producers[0].wrap] == ["meta"]
    assert producers[0].where == "built_then_returned.py:8"


def test_dicts_without_endpoints_are_ignored(tmp_path: Path) -> None:
    """An ``issuer`` without an authorization or token endpoint is no RFC 8414 document."""
    assert find_metadata(source_tree(GROUP, "issuer_without_endpoints", tmp_path)) == ([], [])


def test_dict_keyword_call_is_a_producer(tmp_path: Path) -> None:
    """``dict(issuer=..., ...)`` is the document, with its issuer, like a literal."""
    producers, manual = find_metadata(source_tree(GROUP, "dict_keyword_call", tmp_path))
    assert manual == []
    assert [p.shape for p in producers] == ["function-return"]
    assert producers[0].source.code(producers[0].issuer) == "base"


def test_jsonify_keywords_is_a_located_manual_step(tmp_path: Path) -> None:
    """``jsonify(issuer=..., ...)`` is reported with the dict literal to write instead."""
    _, manual = find_metadata(source_tree(GROUP, "jsonify_keywords", tmp_path))
    assert [m.where for m in manual] == ["jsonify_keywords.py:9"]
    assert "keyword arguments to `jsonify(...)`" in manual[0].expected
    assert "`jsonify(oauth_migration.authorization_server_metadata({" in manual[0].how_to


def test_document_stored_elsewhere_is_a_located_manual_step(tmp_path: Path) -> None:
    """A document assigned to an attribute in a function is reported, not guessed at."""
    producers, manual = find_metadata(source_tree(GROUP, "stored_on_app_state", tmp_path))
    assert producers == []
    assert [m.where for m in manual] == ["stored_on_app_state.py:6"]
    assert "neither returned, passed to a response, nor a module constant" in manual[0].expected
    assert "authorization_server_metadata(...)" in manual[0].how_to


@pytest.mark.parametrize("case", ["function_return", "inline_jsonify", "built_then_returned"])
def test_wrapped_document_is_migrated(case: str, tmp_path: Path) -> None:
    """After the codemod the document is found again, as migrated, with nothing to do."""
    producers, manual = find_metadata(source_tree(GROUP, case, tmp_path, applied=True))
    assert [p.migrated for p in producers] == [True]
    assert manual == []


def test_keyword_document_wrapped_by_hand_is_migrated(tmp_path: Path) -> None:
    """A keyword document the user wrapped by hand counts as migrated, not as manual."""
    producers, manual = find_metadata(source_tree(GROUP, "dict_call_wrapped_by_hand", tmp_path))
    assert [(p.shape, p.migrated) for p in producers] == [("wrapped", True)]
    assert manual == []
