"""Link the same two generated customer files with Splink (DuckDB), the
usual peer for unsupervised Fellegi-Sunter linkage, and print elapsed time
and precision/recall/F1 against the `person` truth column.

    python3 identity_link.py A.csv B.csv
"""
import sys
import time

import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def prepare(path, name):
    df = pd.read_csv(path, dtype=str).fillna("")
    out = pd.DataFrame()
    out["unique_id"] = df["id"]
    out["first_name"] = df["first_name"].str.lower().str.strip()
    out["last_name"] = df["last_name"].str.lower().str.strip()
    out["email"] = df["email"].str.lower().str.strip()
    out["phone"] = df["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    out["zip"] = df["zip"].str[:5].str.zfill(5)
    out["street"] = df["street"].str.lower()
    out["person"] = df["person"]
    out = out.replace("", None)
    out["zip"] = out["zip"].replace("00000", None)
    return out


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    a, b = prepare(a_path, "a"), prepare(b_path, "b")
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("first_name", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("last_name", [0.92, 0.8]).configure(term_frequency_adjustments=True),
            cl.ExactMatch("email"),
            cl.LevenshteinAtThresholds("phone", [2]),
            cl.ExactMatch("zip").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("street", [0.9]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("last_name", "zip"),
            block_on("first_name", "zip"),
            block_on("first_name", "last_name"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([a, b], settings, db_api=DuckDBAPI(), set_up_basic_logging=False)
    linker.training.estimate_u_using_random_sampling(max_pairs=3e5)
    for rule in (block_on("email"), block_on("first_name", "last_name")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("phone")], recall=0.9
    )
    pred = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    elapsed = time.perf_counter() - started
    truth_a = dict(zip(a["unique_id"], a["person"]))
    truth_b = dict(zip(b["unique_id"], b["person"]))
    tp = sum(truth_a.get(l) == truth_b.get(r) for l, r in zip(pred["unique_id_l"], pred["unique_id_r"]))
    fp = len(pred) - tp
    pa = a["person"].value_counts()
    pb = b["person"].value_counts()
    all_true = int(sum(pa[p] * pb[p] for p in pa.index if p in pb.index))
    fn = all_true - tp
    p = tp / max(tp + fp, 1)
    r = tp / max(tp + fn, 1)
    f1 = 2 * p * r / max(p + r, 1e-12)
    print(f"splink: precision {p:.4f}, recall {r:.4f}, F1 {f1:.4f} (TP {tp}, FP {fp}, FN {fn})")
    print(f"elapsed_ms={elapsed * 1000:.1f}")


if __name__ == "__main__":
    main()
