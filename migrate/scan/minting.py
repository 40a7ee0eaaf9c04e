"""Find where opaque access tokens are minted, and the names the JWT's claims come from.

A mint is a random primitive (``secrets.token_*``, ``os.urandom``, ``uuid.uuid4``) with
whatever encodes it (``.hex()``, base64, ``binascii.hexlify``, a prefix, an f-string).
Refresh tokens, codes and client secrets use the same primitives in the same functions,
so only a mint labelled as the access token counts: bound to a name with ``access`` in
it, passed where the legacy code says ``"access"``, or flowing into an ``access_token``
response key. The claims' values come from names visible at the mint: the function's
parameters and the names it bound before the mint, matched by their role.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from migrate import runtime_api
from migrate.scan.findings import ManualStep
from migrate.scan.source import SourceFile, SourceTree
from migrate.scan.sql import read_insert
from migrate.scan.syntax import (
    assigned_names,
    dotted,
    enclosing_function,
    enclosing_statement,
    imported_names,
    names_in,
    parameters,
    qualified,
    string_value,
    walk,
)
from migrate.scan.token_flow import PRIMITIVES as RANDOM_PRIMITIVES
from migrate.scan.token_flow import RANDOM, SELF_CONTAINED, Origin, TokenFlow, access_value, climb

MINT_CALL = runtime_api.MINT
# The random primitives, as the SDK provider finder reads them too.
PRIMITIVES = RANDOM_PRIMITIVES

ROLES: dict[str, tuple[str, ...]] = {
    "subject": (
        "user_id", "user", "username", "sub", "subject", "uid", "account_id", "owner",
        "principal_id", "login", "email", "user_name",
    ),
    "client_id": ("client_id", "cid", "app_id", "clientid"),
    "scope": ("scope", "scopes", "granted_scope", "scope_str", "scp"),
    "resource": ("resource", "audience", "aud", "resource_uri"),
}  # fmt: skip
# Record fields (columns, keywords, dict keys) name roles more loosely than variables do.
FIELD_ROLES: dict[str, tuple[str, ...]] = {
    "subject": (*ROLES["subject"], "owner_id"),
    "client_id": (*ROLES["client_id"], "client"),
    "scope": ROLES["scope"],
    "resource": ROLES["resource"],
}
REQUIRED_ROLES = ("subject", "client_id", "scope")
_ACCESS = re.compile(r"access|^at$|^at_", re.IGNORECASE)
_OTHER = re.compile(r"refresh|code|secret|state|nonce|csrf|verifier|challenge", re.IGNORECASE)


@dataclass
class MintSite:
    source: SourceFile
    expression: cst.BaseExpression
    function: cst.FunctionDef
    claims: dict[str, cst.BaseExpression] = field(default_factory=dict)
    migrated: bool = False

    @property
    def where(self) -> str:
        return self.source.where(self.expression)


def _is_primitive(
    node: cst.CSTNode, imports: dict[str, str], helpers: frozenset[str] = frozenset()
) -> bool:
    if not isinstance(node, cst.Call):
        return False
    name = qualified(node.func, imports) or ""
    return name in PRIMITIVES or name.split(".")[-1] in helpers


def mint_helpers(tree: SourceTree) -> frozenset[str]:
    """Functions that only return a fresh random access token (``new_access_token()``):
    their call sites are the mints, where the user, client and scope are in scope."""
    return frozenset(name for name in random_helpers(tree) if _access_label(name))


_DEFINED = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.MULTILINE)


def _called(name: str, texts: list[str]) -> bool:
    """Whether ``name(`` appears in ``texts`` other than where it is defined."""
    return any(t.count(f"{name}(") > t.count(f"def {name}(") for t in texts)


def random_helpers(tree: SourceTree) -> frozenset[str]:
    """Functions whose every return is a fresh random value, whatever they are named
    (``_new_token()``, ``mint(prefix, n)``): access tokens, refresh tokens and codes alike,
    so a call site is a mint only where the data says it is the access token."""
    found = set()
    markers = ("token_urlsafe", "token_hex", "token_bytes", "urandom", "uuid4", "uuid1")
    # A helper matters only where an access token may be made: called from a file that
    # speaks of access tokens. Checked on the text first, so the many files that merely
    # use ``secrets`` (CSRF tokens, keys) are not parsed for it.
    callers = [f.text for f in tree.files.values() if "access" in f.text]
    for source in tree.with_text(*markers):
        if not any(_called(name, callers) for name in _DEFINED.findall(source.text)):
            continue
        imports = imported_names(source.module)
        for node in walk(source.module):
            if not isinstance(node, cst.FunctionDef):
                continue
            returns = [n for n in walk(node.body) if isinstance(n, cst.Return) and n.value]
            if returns and all(_returns_random(source, r, imports) for r in returns):
                found.add(node.name.value)
    return frozenset(found)


def random_value(source: SourceFile, expr: cst.BaseExpression, helpers: frozenset[str]) -> bool:
    """Whether ``expr`` is, as a whole, a fresh random value with its encoding
    (``"at-" + _b32(30)``, ``secrets.token_hex(32)``, ``mint("tok", 32)``)."""
    imports = imported_names(source.module)
    return any(
        _is_primitive(node, imports, helpers) and climb(source, node, imports) is expr
        for node in walk(expr)
        if isinstance(node, cst.Call)
    )


def _access_label(name: str) -> bool:
    return _ACCESS.search(name) is not None and _OTHER.search(name) is None


def _returns_random(source: SourceFile, ret: cst.Return, imports: dict[str, str]) -> bool:
    assert ret.value is not None
    return any(
        isinstance(n, cst.Call)
        and _is_primitive(n, imports)
        and climb(source, n, imports) is ret.value
        for n in walk(ret.value)
    )


def _labels(source: SourceFile, root: cst.BaseExpression) -> tuple[list[str], cst.Name | None]:
    """Names that say what the minted value is, and the variable it is bound to."""
    parent = source.parent(root)
    if isinstance(parent, cst.Assign | cst.AnnAssign):
        target = parent.targets[0].target if isinstance(parent, cst.Assign) else parent.target
        return ([target.value], target) if isinstance(target, cst.Name) else ([], None)
    if isinstance(parent, cst.DictElement):
        key = string_value(parent.key)
        return ([key] if key else []), None
    if isinstance(parent, cst.Arg):
        labels = [parent.keyword.value] if parent.keyword else []
        call = source.parent(parent)
        if isinstance(call, cst.Call):
            labels += [s for a in call.args if (s := string_value(a.value)) is not None]
            outer = source.parent(call)
            if isinstance(outer, cst.Assign) and isinstance(outer.targets[0].target, cst.Name):
                labels.append(outer.targets[0].target.value)
                return labels, outer.targets[0].target
        return labels, None
    return [], None


def _flows_to_access_key(function: cst.FunctionDef, variable: str) -> bool:
    for node in walk(function.body):
        value = access_value(node)
        if value is not None and variable in names_in(value):
            return True
    return False


def _is_access(labels: list[str], function: cst.FunctionDef, variable: cst.Name | None) -> bool:
    if any(_OTHER.search(label) for label in labels):
        return False
    if any(_ACCESS.search(label) for label in labels):
        return True
    return variable is not None and _flows_to_access_key(function, variable.value)


def _visible_names(source: SourceFile, function: cst.FunctionDef, mint: cst.CSTNode) -> list[str]:
    """Parameters, then names bound by statements of ``function`` before the mint."""
    names = parameters(function)
    rank = source.order(mint)
    for node in walk(function.body):
        if isinstance(node, cst.SimpleStatementLine) and source.order(node) < rank:
            names += sorted(assigned_names(node))
    return names


def claim_sources(names: list[str]) -> dict[str, cst.BaseExpression]:
    found: dict[str, cst.BaseExpression] = {}
    for role, vocabulary in ROLES.items():
        for candidate in vocabulary:
            if candidate in names:
                found[role] = cst.Name(candidate)
                break
    return found


def _written_fields(call: cst.Call, variable: str) -> dict[str, cst.BaseExpression]:
    """Field -> value of a record write holding ``variable``: SQL INSERT or keywords."""
    sql = string_value(call.args[0].value) if call.args else None
    insert = read_insert(sql or "")
    if insert is not None and insert.columns is not None:
        values: list[cst.BaseExpression] = []
        for arg in call.args[1:]:
            if isinstance(arg.value, cst.Tuple | cst.List):
                values += [e.value for e in arg.value.elements]
            else:
                values.append(arg.value)
        names = insert.columns
        return dict(zip(names, values, strict=False)) if len(names) == len(values) else {}
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    if any(isinstance(v, cst.Name) and v.value == variable for v in keywords.values()):
        return keywords
    return {}


def _record_claims(
    function: cst.FunctionDef, variable: str, visible: set[str]
) -> dict[str, cst.BaseExpression]:
    """Claims from where the legacy code writes the token's record next to the mint."""
    # A dict literal is the record when it holds the token or is stored beside it in one
    # statement: ``store[token] = {...}``, ``store.put(token, {...})``.
    beside = {
        id(node)
        for statement in walk(function.body)
        if isinstance(statement, cst.SimpleStatementLine) and variable in names_in(statement)
        for node in walk(statement)
        if isinstance(node, cst.Dict)
    }
    for node in walk(function.body):
        fields: dict[str, cst.BaseExpression] = {}
        if isinstance(node, cst.Call):
            fields = _written_fields(node, variable)
        elif isinstance(node, cst.Dict) and (id(node) in beside or variable in names_in(node)):
            fields = {
                key: e.value
                for e in node.elements
                if isinstance(e, cst.DictElement) and (key := string_value(e.key)) is not None
            }
        found = {}
        for role, vocabulary in FIELD_ROLES.items():
            for name in vocabulary:
                value = fields.get(name)
                if value is not None and names_in(value) <= visible:
                    found[role] = value
                    break
        if len(found) >= 2:
            return found
    return {}


def _already_minting(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and (dotted(node.func) or "").endswith(MINT_CALL)


def find_mints(tree: SourceTree) -> tuple[list[MintSite], list[ManualStep]]:
    """Access-token mints told by their names, and those the token response's
    ``access_token`` member is traced back to (:mod:`migrate.scan.token_flow`)."""
    sites: list[MintSite] = []
    manual: list[ManualStep] = []
    seen: set[int] = set()
    climbed: set[int] = set()
    helpers = mint_helpers(tree)
    markers = ("token_urlsafe", "token_hex", "token_bytes", "urandom", "uuid4", "uuid1", MINT_CALL)
    for source in tree.with_text(*markers, *(f"{h}(" for h in helpers)):
        if "access" not in source.text:
            continue
        imports = imported_names(source.module)
        for node in walk(source.module):
            if _already_minting(node):
                function = enclosing_function(source, node)
                if function is not None:
                    assert isinstance(node, cst.Call)
                    seen.add(id(node))
                    sites.append(MintSite(source, node, function, migrated=True))
                continue
            if not _is_primitive(node, imports, helpers):
                continue
            assert isinstance(node, cst.Call)
            root = climb(source, node, imports)
            function = enclosing_function(source, root)
            if id(root) in climbed or function is None:
                continue
            climbed.add(id(root))  # one root for the primitives of ``uuid4().hex + uuid4().hex``
            labels, variable = _labels(source, root)
            if _is_access(labels, function, variable):
                seen.add(id(root))
                _take(_site(source, root, function), sites, manual)
    flow = TokenFlow(tree)
    for origin in flow.origins():
        if origin.kind != RANDOM or not origin.function or id(origin.expression) in seen:
            continue
        seen.add(id(origin.expression))
        helper = flow.shared(origin)
        if helper:
            manual.append(_manual_shared(origin, helper))
        else:
            _take(_site(origin.source, origin.expression, origin.function), sites, manual)
    return _one_per_function(sites, manual)


def traced_origins(tree: SourceTree) -> list[Origin]:
    """What makes each access token of the tree's token responses (see token_flow)."""
    return TokenFlow(tree).origins()


def _manual_shared(origin: Origin, helper: str) -> ManualStep:
    return ManualStep(
        origin.where,
        f"the access token made inside {helper}(), which is also called for other values "
        "(a refresh token, a code or a client secret): a JWT minted there would replace "
        "those too",
        f"where a caller puts {helper}()'s result under access_token, mint it there with "
        "`oauth_migration.mint_access_token(subject=..., client_id=..., scope=..., "
        f"resource=...)` and keep {helper}() for the other values",
        "Manual steps: minting",
    )


def find_self_contained(tree: SourceTree) -> list[Origin]:
    """Access tokens the server signs itself (``jwt.encode``, ``hmac``, itsdangerous)."""
    return [o for o in traced_origins(tree) if o.kind == SELF_CONTAINED]


def _take(found: MintSite | ManualStep, sites: list[MintSite], manual: list[ManualStep]) -> None:
    if isinstance(found, MintSite):
        sites.append(found)
    else:
        manual.append(found)


def _site(
    source: SourceFile, root: cst.BaseExpression, function: cst.FunctionDef
) -> MintSite | ManualStep:
    """The mint at ``root`` with its claims, or the manual step naming those missing."""
    imports = imported_names(source.module)
    _, variable = _labels(source, root)
    site = MintSite(source, root, function)
    visible = _visible_names(source, function, root)
    site.claims = _scalars_only(function, claim_sources(visible))
    if variable is not None:
        known = set(visible) | set(imports) | _module_names(source.module)
        recorded = _record_claims(function, variable.value, known)
        site.claims = {**site.claims, **recorded}
    missing = [r for r in REQUIRED_ROLES if r not in site.claims]
    if missing:
        return _manual_claims(source, root, function, missing)
    return site


def _used_as_object(function: cst.FunctionDef, name: str) -> bool:
    """``user["id"]`` or ``user.id`` somewhere: ``user`` is a record, not the id itself."""
    for node in walk(function.body):
        if isinstance(node, cst.Subscript | cst.Attribute):
            inner = node.value
            if isinstance(inner, cst.Name) and inner.value == name:
                return True
    return False


def _scalars_only(
    function: cst.FunctionDef, claims: dict[str, cst.BaseExpression]
) -> dict[str, cst.BaseExpression]:
    """Drop a subject or client candidate that is an object: its ``str()`` would put a
    whole record (perhaps personal data) into a token anyone can read."""
    return {
        role: value
        for role, value in claims.items()
        if not (
            role in ("subject", "client_id")
            and isinstance(value, cst.Name)
            and _used_as_object(function, value.value)
        )
    }


def _module_names(module: cst.Module) -> set[str]:
    names: set[str] = set()
    for statement in module.body:
        names |= assigned_names(statement)
    return names


def _manual_claims(
    source: SourceFile, root: cst.CSTNode, function: cst.FunctionDef, missing: list[str]
) -> ManualStep:
    statement = enclosing_statement(source, root)
    return ManualStep(
        source.where(root),
        f"an opaque access token minted in {function.name.value}() without names for "
        f"{', '.join(missing)} in scope",
        "replace `"
        + source.code(root)
        + "` with `oauth_migration.mint_access_token(subject=..., client_id=..., scope=..., "
        "resource=...)` naming the token's user, client, scope and RFC 8707 resource"
        + (f" (statement: `{source.code(statement).strip()}`)" if statement is not None else ""),
        "Manual steps: minting",
    )


def _one_per_function(
    sites: list[MintSite], manual: list[ManualStep]
) -> tuple[list[MintSite], list[ManualStep]]:
    """Two access mints in one function cannot be told apart: both become manual steps."""
    by_function: dict[int, list[MintSite]] = {}
    for site in sites:
        by_function.setdefault(id(site.function), []).append(site)
    kept = []
    for group in by_function.values():
        if len(group) == 1 or all(s.migrated for s in group):
            kept += group
            continue
        for site in group:
            manual.append(
                ManualStep(
                    site.where,
                    f"{len(group)} access-token mints in {site.function.name.value}()",
                    "decide which one issues access tokens and replace it with "
                    "`oauth_migration.mint_access_token(...)`",
                    "Manual steps: minting",
                )
            )
    return kept, manual
