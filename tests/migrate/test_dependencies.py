"""The runtime's dependencies added to requirements.txt or pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from migrate.dependencies import dependency_file, pyproject_toml, requirements_txt

PYPROJECT = """[project]
name = "server"
dependencies = [
    "starlette>=1.0",  # the web framework
    "uvicorn",
]

[tool.other]
dependencies = ["not", "these"]
"""


def test_requirements_gain_the_missing_lines() -> None:
    """Missing runtime requirements are appended under a comment."""
    after = requirements_txt("flask>=3\n")
    assert after == (
        "flask>=3\n# oauth-migrate runtime\npyjwt[crypto]>=2.14\ncryptography>=46\n"
        "# optional, for OAUTH_MIGRATE_REDIS_URL (several hosts): redis>=5\n"
    )


def test_requirements_already_complete_are_unchanged() -> None:
    """A requirements file naming both packages (any spelling of the version) is kept."""
    text = "PyJWT[crypto]==2.15.1\ncryptography\n"
    assert requirements_txt(text) == text


def test_pyproject_dependencies_gain_the_runtime() -> None:
    """[project] dependencies gets both requirements; comments and other tables stay."""
    after = pyproject_toml(PYPROJECT)
    assert after is not None
    data = tomllib.loads(after)
    assert data["project"]["dependencies"] == [
        "pyjwt[crypto]>=2.14",
        "cryptography>=46",
        "starlette>=1.0",
        "uvicorn",
    ]
    assert data["tool"]["other"]["dependencies"] == ["not", "these"]
    assert "# the web framework" in after


def test_pyproject_without_project_dependencies_is_refused() -> None:
    """A pyproject.toml with no [project] dependencies list gives None (a manual step)."""
    assert pyproject_toml('[tool.poetry]\nname = "x"\n') is None


def test_pyproject_dynamic_dependencies_are_refused() -> None:
    """Dependencies the file does not list inline cannot be extended safely."""
    assert pyproject_toml('[project]\nname = "x"\ndynamic = ["dependencies"]\n') is None


def test_requirements_file_is_preferred(tmp_path: Path) -> None:
    """With both files, requirements.txt is the one extended."""
    (tmp_path / "requirements.txt").write_text("flask\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    found = dependency_file(tmp_path)
    assert found is not None and found[0] == "requirements.txt"


def test_no_dependency_file_gives_none(tmp_path: Path) -> None:
    """A tree with neither file gives None."""
    assert dependency_file(tmp_path) is None


def test_pyproject_gains_the_redis_extra() -> None:
    """The redis client is an optional extra, never a hard requirement."""
    after = pyproject_toml(PYPROJECT)
    assert after is not None
    project = tomllib.loads(after)["project"]
    assert project["optional-dependencies"] == {"redis": ["redis>=5"]}
    assert not any(d.startswith("redis") for d in project["dependencies"])
    assert pyproject_toml(after) == after, "a second apply adds nothing"


def test_pyproject_existing_extras_gain_redis_beside_them() -> None:
    text = PYPROJECT.replace(
        "[tool.other]", '[project.optional-dependencies]\ndev = ["pytest"]\n\n[tool.other]'
    )
    after = pyproject_toml(text)
    assert after is not None
    data = tomllib.loads(after)
    assert data["project"]["optional-dependencies"] == {"dev": ["pytest"], "redis": ["redis>=5"]}
    assert data["tool"]["other"]["dependencies"] == ["not", "these"]


def test_pyproject_naming_redis_already_gets_no_extra() -> None:
    text = PYPROJECT.replace('"uvicorn",', '"uvicorn",\n    "redis>=6",')
    after = pyproject_toml(text)
    assert after is not None
    assert "optional-dependencies" not in tomllib.loads(after)["project"]


def test_pyproject_with_inline_extras_keeps_them_and_adds_nothing() -> None:
    """Extras given as an inline table cannot be extended by a header: left as they are."""
    text = PYPROJECT.replace(
        "dependencies = [", 'optional-dependencies = {dev = ["pytest"]}\ndependencies = ['
    )
    after = pyproject_toml(text)
    assert after is not None
    assert tomllib.loads(after)["project"]["optional-dependencies"] == {"dev": ["pytest"]}
