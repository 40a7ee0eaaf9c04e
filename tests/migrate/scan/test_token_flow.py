"""#12 item 1: the access-token mint found from where the token goes, whatever it is called.

Each case is a small tree whose token response puts a value under ``access_token``; the
value is made in one of the ways servers really make it. The mint must be found where the
value is made (or, for a helper shared with other secrets, where the helper is called for
the access token), with its claims, and nothing else may be taken for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate.scan.minting import find_mints
from migrate.scan.source import SourceTree
from migrate.scan.token_flow import RANDOM, SELF_CONTAINED, TokenFlow
from tests.migrate.codemods.cases import code

RECORD = 'STORE[{v}] = {{"user_id": user_id, "client_id": client_id, "scope": scope}}'

SPELLINGS: dict[str, dict[str, str]] = {
    "dict-call": {
        "app.py": f"""import secrets
from flask import jsonify

STORE = {{}}


def token(user_id, client_id, scope):
    tok = secrets.token_urlsafe(32)
    {RECORD.format(v="tok")}
    return jsonify(dict(access_token=tok, token_type="Bearer"))
""",
    },
    "jsonify-keywords": {
        "app.py": f"""import secrets
from flask import jsonify

STORE = {{}}


def token(user_id, client_id, scope):
    value = secrets.token_hex(24)
    {RECORD.format(v="value")}
    return jsonify(access_token=value, token_type="Bearer", expires_in=3600)
""",
    },
    "response-model": {
        "app.py": f"""import secrets

from pydantic import BaseModel

STORE = {{}}


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"


async def token(user_id, client_id, scope):
    issued = f"at_{{secrets.token_hex(16)}}"
    {RECORD.format(v="issued")}
    return TokenResponse(access_token=issued)
""",
    },
    "json-response-chain": {
        "app.py": f"""import base64
import os

from starlette.responses import JSONResponse

STORE = {{}}


async def token(user_id, client_id, scope):
    bearer = base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")
    {RECORD.format(v="bearer")}
    return JSONResponse({{"access_token": bearer, "token_type": "Bearer"}})
""",
    },
    "same-module-helper": {
        "app.py": f"""import secrets

STORE = {{}}
REFRESH = {{}}


def _random_token():
    return secrets.token_urlsafe(32)


def token(user_id, client_id, scope):
    tok = _random_token()
    refresh = _random_token()
    {RECORD.format(v="tok")}
    REFRESH[refresh] = user_id
    return {{"access_token": tok, "refresh_token": refresh, "token_type": "Bearer"}}
""",
    },
    "helper-in-another-module": {
        "svc/__init__.py": "",
        "svc/tokens.py": """import base64
import os


def generate_token(nbytes=32):
    raw = os.urandom(nbytes)
    return "tk_" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
""",
        "svc/routes.py": f"""from .tokens import generate_token

STORE = {{}}


def register(name):
    return {{"client_id": generate_token(8), "client_secret": generate_token(32)}}


def token(user_id, client_id, scope):
    t = generate_token(32)
    {RECORD.format(v="t")}
    return {{"access_token": t, "refresh_token": generate_token(48)}}
""",
    },
    "issued-pair": {
        "app.py": f"""import secrets

STORE = {{}}


def _pair(user_id, client_id, scope):
    first = secrets.token_urlsafe(32)
    {RECORD.format(v="first")}
    return first, secrets.token_urlsafe(32)


def token(user_id, client_id, scope):
    a, r = _pair(user_id, client_id, scope)
    return {{"access_token": a, "refresh_token": r}}
""",
    },
    "record-attribute": {
        "app.py": """import secrets
from dataclasses import dataclass

STORE = {}


@dataclass
class Grant:
    value: str
    user_id: str
    client_id: str
    scope: str


def _fresh():
    return secrets.token_urlsafe(32)


def token(user_id, client_id, scope):
    grant = Grant(value=_fresh(), user_id=user_id, client_id=client_id, scope=scope)
    STORE[grant.value] = grant
    return {"access_token": grant.value, "token_type": "Bearer"}
""",
    },
    "response-builder": {
        "svc/__init__.py": "",
        "svc/responses.py": """from starlette.responses import JSONResponse


def token_response(access, refresh, scope):
    body = {"access_token": access, "refresh_token": refresh, "scope": scope}
    return JSONResponse({**body, "token_type": "Bearer"})
""",
        "svc/routes.py": f"""import secrets

from .responses import token_response

STORE = {{}}


def token(user_id, client_id, scope):
    tok = secrets.token_hex(20)
    {RECORD.format(v="tok")}
    return token_response(tok, secrets.token_hex(32), scope=scope)
""",
    },
    "record-from-a-store-method": {
        "svc/__init__.py": "",
        "svc/store.py": """import secrets
from dataclasses import dataclass


@dataclass
class Issued:
    token: str
    user_id: str
    client_id: str
    scope: str


class TokenStore:
    def __init__(self):
        self.rows = {}

    def create(self, user_id, client_id, scope):
        row = Issued(token=secrets.token_urlsafe(32), user_id=user_id, client_id=client_id,
                     scope=scope)
        self.rows[row.token] = row
        return row
""",
        "svc/routes.py": """from .store import TokenStore

STORE = TokenStore()


def token(user_id, client_id, scope):
    issued = STORE.create(user_id, client_id, scope)
    return {"access_token": issued.token, "token_type": "Bearer"}
""",
    },
    "item-assignment": {
        "app.py": f"""import json
import uuid

STORE = {{}}


def token(user_id, client_id, scope):
    body = {{"token_type": "Bearer", "expires_in": 3600}}
    fresh = uuid.uuid4().hex
    {RECORD.format(v="fresh")}
    body["access_token"] = fresh
    return json.dumps(body)
""",
    },
}
# file:line of the mint, and its code.
EXPECTED = {
    "dict-call": ("app.py:8", "secrets.token_urlsafe(32)"),
    "jsonify-keywords": ("app.py:8", "secrets.token_hex(24)"),
    "response-model": ("app.py:14", 'f"at_{secrets.token_hex(16)}"'),
    "json-response-chain": (
        "app.py:10",
        'base64.urlsafe_b64encode(os.urandom(32)).decode("ascii").rstrip("=")',
    ),
    "same-module-helper": ("app.py:12", "_random_token()"),
    "helper-in-another-module": ("svc/routes.py:11", "generate_token(32)"),
    "issued-pair": ("app.py:7", "secrets.token_urlsafe(32)"),
    "record-attribute": ("app.py:20", "_fresh()"),
    "response-builder": ("svc/routes.py:9", "secrets.token_hex(20)"),
    "record-from-a-store-method": ("svc/store.py:18", "secrets.token_urlsafe(32)"),
    "item-assignment": ("app.py:9", "uuid.uuid4().hex"),
}


def _tree(root: Path, files: dict[str, str]) -> SourceTree:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return SourceTree(root)


@pytest.mark.parametrize("case", sorted(SPELLINGS))
def test_the_mint_is_found_from_the_access_token_member(case: str, tmp_path: Path) -> None:
    """One mint, where the value under ``access_token`` is made, with every claim."""
    sites, manual = find_mints(_tree(tmp_path, SPELLINGS[case]))
    assert manual == []
    assert [(s.where, code(s.expression)) for s in sites] == [EXPECTED[case]]
    assert set(sites[0].claims) >= {"subject", "client_id", "scope"}


def test_a_helper_making_only_client_secrets_is_no_mint(tmp_path: Path) -> None:
    """A random helper whose results go to client ids and secrets only: no mint, no step."""
    files = dict(SPELLINGS["helper-in-another-module"])
    files["svc/routes.py"] = files["svc/routes.py"].split("\n\ndef token(")[0] + "\n"
    assert find_mints(_tree(tmp_path, files)) == ([], [])


SIGNED = {
    "pyjwt": """import jwt

KEY = "k"


def token(user_id, client_id, scope):
    claims = {"sub": user_id, "client_id": client_id, "scope": scope}
    return {"access_token": jwt.encode(claims, KEY, algorithm="HS256")}
""",
    "hmac": """import base64
import hashlib
import hmac
import json

KEY = b"k"


def _sign(claims):
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    mac = hmac.new(KEY, body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def token(user_id, client_id, scope):
    issued = _sign({"sub": user_id, "client_id": client_id, "scope": scope})
    return {"access_token": issued, "token_type": "Bearer"}
""",
    "itsdangerous": """from itsdangerous import URLSafeTimedSerializer

SIGNER = URLSafeTimedSerializer("k", salt="access")


def token(user_id, client_id, scope):
    value = SIGNER.dumps({"sub": user_id, "client_id": client_id, "scope": scope})
    return {"access_token": value}
""",
}


@pytest.mark.parametrize("case", sorted(SIGNED))
def test_a_self_contained_token_is_no_opaque_mint(case: str, tmp_path: Path) -> None:
    """#12 item 9: a signed token is traced as self-contained and is no mint to rewrite."""
    tree = _tree(tmp_path, {"app.py": SIGNED[case]})
    assert find_mints(tree) == ([], [])
    assert [o.kind for o in TokenFlow(tree).origins()] == [SELF_CONTAINED]


def test_a_recursive_helper_does_not_loop(tmp_path: Path) -> None:
    """A helper calling itself and a name bound from itself end the trace, with no mint."""
    text = """def again(n):
    return again(n - 1)


def token(user_id, client_id, scope):
    x = again(3)
    x = x + x
    return {"access_token": x}
"""
    assert TokenFlow(_tree(tmp_path, {"app.py": text})).origins() == []


def test_a_random_origin_is_reported_as_random(tmp_path: Path) -> None:
    """The origin of an opaque token says it is random (what apply migrates)."""
    tree = _tree(tmp_path, SPELLINGS["same-module-helper"])
    assert [o.kind for o in TokenFlow(tree).origins()] == [RANDOM]


SHARED_ISSUER = """import secrets

STORE = {}


def _issue(user_id, client_id, scope, kind):
    value = secrets.token_urlsafe(32)
    STORE[value] = {"user_id": user_id, "client_id": client_id, "scope": scope, "kind": kind}
    return value


def token(user_id, client_id, scope):
    return {
        "access_token": _issue(user_id, client_id, scope, "access"),
        "refresh_token": _issue(user_id, client_id, scope, "refresh"),
    }
"""


def test_a_storing_helper_shared_with_refresh_tokens_is_a_manual_step(tmp_path: Path) -> None:
    """The access token is made inside a function that also makes the refresh token: a
    JWT minted there would make refresh tokens JWTs too, so it is a located manual step."""
    sites, manual = find_mints(_tree(tmp_path, {"app.py": SHARED_ISSUER}))
    assert sites == []
    assert [m.where for m in manual] == ["app.py:7"]
    assert "_issue(), which is also called for other values" in manual[0].expected
