"""DuckDB over the shards: views ``videos`` and ``clips`` (and ``rejects``, ``duplicates``, ``labels``) pre-defined.

Only shards listed in the manifest are visible, so a query never sees a partial write.
"""

from __future__ import annotations

import duckdb

from curate.schemas import TABLES
from curate.shards import read_manifest
from curate.storage import Output


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def connect(output_dir: str, database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table over the committed shards of ``output_dir``."""
    out = Output(output_dir)
    con = duckdb.connect(database)
    if not out.local:  # DuckDB reads s3://, gs://... through the same fsspec filesystem (no httpfs needed)
        con.register_filesystem(out.fs)
    manifest = read_manifest(out)
    for table, schema in TABLES.items():
        paths = [out.path(s[table]) for s in manifest["shards"] if s.get(table)]  # full URLs when remote
        if paths:
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({_sql_list(paths)}, union_by_name=true)")
        else:  # empty dataset: an empty view with the declared columns
            # a real (empty) table, not a registered Arrow object: those are invisible to con.cursor()
            con.register(f"_{table}_arrow", schema.empty_table())
            con.execute(f"CREATE TABLE _{table}_empty AS SELECT * FROM _{table}_arrow")
            con.unregister(f"_{table}_arrow")
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
    con.execute("CREATE VIEW rejects AS SELECT * FROM clips WHERE status = 'rejected'")
    from curate.dedup import DEDUP_PATH, DEDUP_SCHEMA  # near-duplicates (curate dedup)

    if out.exists(DEDUP_PATH):
        con.execute(f"CREATE VIEW duplicates AS SELECT * FROM read_parquet({_sql_list([out.path(DEDUP_PATH)])})")
    else:
        con.register("_duplicates_empty", DEDUP_SCHEMA.empty_table())
        con.execute("CREATE VIEW duplicates AS SELECT * FROM _duplicates_empty")
    from curate.labels import LABELS_PATH, empty_table  # the curator's labels (curate serve)

    if out.exists(LABELS_PATH):
        con.execute(f"CREATE VIEW labels AS SELECT * FROM read_parquet({_sql_list([out.path(LABELS_PATH)])})")
    else:
        con.register("_labels_empty", empty_table())
        con.execute("CREATE TABLE _labels_empty_t AS SELECT * FROM _labels_empty")
        con.unregister("_labels_empty")
        con.execute("CREATE VIEW labels AS SELECT * FROM _labels_empty_t")
    return con


def query(output_dir: str, sql: str):
    """Run ``sql`` and return a pyarrow Table."""
    con = connect(output_dir)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
