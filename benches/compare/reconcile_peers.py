#!/usr/bin/env python3
"""The same reconciliation with a peer engine (DuckDB or polars): read both
CSV files, full outer join on (sku, location), classify every difference
(on_hand/available exact, price within 0.01 as DECIMAL, updated_at ignored).

    reconcile_peers.py duckdb|polars LEFT RIGHT OUT.csv

Writes kind,sku,location,field per difference and prints elapsed_ms.
"""
import sys
import time

engine, left, right, out = sys.argv[1:5]


def run_duckdb():
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    cols = "{'sku': 'VARCHAR', 'location': 'VARCHAR', 'on_hand': 'BIGINT', 'available': 'BIGINT', 'price': 'DECIMAL(18,2)', 'updated_at': 'VARCHAR'}"
    return con.execute(f"""
        WITH l AS (SELECT * FROM read_csv('{left}', header = true, columns = {cols})),
             r AS (SELECT * FROM read_csv('{right}', header = true, columns = {cols})),
             j AS (
               SELECT coalesce(l.sku, r.sku) AS sku, coalesce(l.location, r.location) AS location,
                      r.sku IS NULL AS only_l, l.sku IS NULL AS only_r,
                      l.on_hand IS DISTINCT FROM r.on_hand AS d_on_hand,
                      l.available IS DISTINCT FROM r.available AS d_available,
                      abs(l.price - r.price) > 0.01 AS d_price
               FROM l FULL OUTER JOIN r ON l.sku = r.sku AND l.location = r.location)
        SELECT 'only_left', sku, location, '' FROM j WHERE only_l
        UNION ALL SELECT 'only_right', sku, location, '' FROM j WHERE only_r
        UNION ALL SELECT 'mismatch', sku, location, 'on_hand' FROM j WHERE NOT only_l AND NOT only_r AND d_on_hand
        UNION ALL SELECT 'mismatch', sku, location, 'available' FROM j WHERE NOT only_l AND NOT only_r AND d_available
        UNION ALL SELECT 'mismatch', sku, location, 'price' FROM j WHERE NOT only_l AND NOT only_r AND d_price
    """).fetchall()


def run_polars():
    import polars as pl

    schema = {"sku": pl.Utf8, "location": pl.Utf8, "on_hand": pl.Int64, "available": pl.Int64,
              "price": pl.Decimal(18, 2), "updated_at": pl.Utf8}
    l = pl.scan_csv(left, schema=schema).with_columns(pl.lit(True).alias("_l"))
    r = pl.scan_csv(right, schema=schema).with_columns(pl.lit(True).alias("_r"))
    j = l.join(r, on=["sku", "location"], how="full", coalesce=True, suffix="_right").with_columns(
        pl.col("_l").is_null().alias("only_r"), pl.col("_r").is_null().alias("only_l")
    )
    both = ~pl.col("only_l") & ~pl.col("only_r")
    parts = [
        j.filter(pl.col("only_l")).select(pl.lit("only_left").alias("kind"), "sku", "location", pl.lit("").alias("field")),
        j.filter(pl.col("only_r")).select(pl.lit("only_right").alias("kind"), "sku", "location", pl.lit("").alias("field")),
    ]
    for field, cond in [
        ("on_hand", pl.col("on_hand") != pl.col("on_hand_right")),
        ("available", pl.col("available") != pl.col("available_right")),
        ("price", (pl.col("price") - pl.col("price_right")).abs() > pl.lit(0.01).cast(pl.Decimal(18, 2))),
    ]:
        parts.append(j.filter(both & cond).select(pl.lit("mismatch").alias("kind"), "sku", "location", pl.lit(field).alias("field")))
    return pl.concat(parts).collect().rows()


start = time.perf_counter()
rows = run_duckdb() if engine == "duckdb" else run_polars()
elapsed = (time.perf_counter() - start) * 1000
with open(out, "w") as f:
    f.write("kind,sku,location,field\n")
    for r in rows:
        f.write(",".join(r) + "\n")
print(f"differences={len(rows)}")
print(f"elapsed_ms={elapsed:.1f}")
