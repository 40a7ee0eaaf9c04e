"""Say what kind of token store the legacy server keeps, and what that means for the cutover.

In memory, every opaque token dies at the restart that deploys the migration, so the
hybrid period is as short as the deploy. In a file or a database, opaque tokens live on
until they expire, and the hybrid period lasts at least one access-token lifetime after
the last opaque mint. The evidence is textual (``sqlite3.connect``, ``pickle.dump``,
``json.dump`` beside the store), which is enough to word the plan, not to change code.
"""

from __future__ import annotations

from dataclasses import dataclass

from migrate.scan.gates import BearerGate
from migrate.scan.source import SourceTree

PERSISTENT_MARKERS = {
    "sqlite3 table": ("sqlite3.connect",),
    "pickle file": ("pickle.dump",),
    "JSON file": ("json.dump(",),
    "SQLAlchemy database": ("create_engine(",),
    "shelve/dbm file": ("shelve.open(", "dbm.open("),
    "Redis": ("Redis(", "redis.from_url(", "aioredis"),
    "MongoDB": ("MongoClient(",),
    "PostgreSQL/MySQL": ("psycopg", "asyncpg", "pymysql", "mysql.connector"),
}


@dataclass(frozen=True)
class StoreDescription:
    where: str
    text: str
    hybrid_period: str
    persistent: bool


def describe_store(tree: SourceTree, gates: list[BearerGate]) -> StoreDescription:
    kinds: list[str] = []
    where = "(whole tree)"
    for kind, markers in PERSISTENT_MARKERS.items():
        for source in tree.with_text(*markers):
            if "token" in source.text.lower():
                kinds.append(kind)
                where = source.rel
                break
    if gates and gates[0].lookup is not None:
        where = gates[0].where
    if not kinds:
        text = "in memory (no file or database found next to the tokens)"
        return StoreDescription(where, text, hybrid_period(False), False)
    return StoreDescription(where, "persistent: " + ", ".join(kinds), hybrid_period(True), True)


def hybrid_period(persistent: bool) -> str:
    """What the hybrid period means for this store, on one host and on several."""
    if not persistent:
        return (
            "Hybrid period: the token store is in memory, so every opaque token dies at the "
            "restart that deploys this change; clients re-authorize and get JWTs. The hybrid "
            "period is as short as the deploy. On several replicas, each one's memory holds "
            "only the opaque tokens it issued (as before: sticky sessions keep a client on "
            "its replica); every JWT is accepted by every replica that shares the key "
            "(MIGRATION.md, section 8)."
        )
    return (
        "Hybrid period: the token store is persistent, so opaque tokens issued before the "
        "apply stay valid until they expire (one access-token lifetime), and refreshing "
        "them yields JWTs. `migrate status` tells when no opaque token can still be in use; "
        "with several replicas, `--prometheus` waits until every one reports the hybrid "
        "reader (MIGRATION.md, section 8)."
    )
