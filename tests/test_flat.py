"""Flat CRM exports: column typing, placeholders, rare categories, and training from one table."""

from __future__ import annotations

import pandas as pd

from features.attributes import OTHER_CATEGORY, infer_attributes


def test_export_columns_are_typed_placeholders_missing_rare_grouped() -> None:
    table = pd.DataFrame(
        {
            "Visits": ["3", "1,200", "", "7"] * 10,
            "Do Not Email": ["Yes", "No", "No", "Select"] * 10,
            "Source": ["Google"] * 20 + ["Direct"] * 18 + ["Bing", "Select"],
            "Signed Up": ["2024-03-01", "2024-03-02 10:00", "3/1/24", "2024-01-05"] * 10,
            "Title": [f"VP Sales {i}" for i in range(40)],
        }
    )
    transform, skipped = infer_attributes(table, kinds={"Title": "seniority"}, min_category_rows=5)
    kinds = {s.name: s.kind for s in transform.specs}
    assert kinds == {
        "Visits": "numeric",
        "Do Not Email": "boolean",
        "Source": "categorical",
        "Title: seniority": "seniority",
    }
    assert "date" in skipped["Signed Up"]
    features = transform.frame(table)
    assert features["Visits"].iloc[1] == 1200.0
    assert features["Do Not Email"].isna().sum() == 10  # "Select" is not filled, not a value
    assert features["Source"].iloc[38] == OTHER_CATEGORY  # one Bing: grouped
    assert features["Source"].iloc[39] is None
    assert features["Title: seniority"].iloc[0] == "vp"
    # The service's one-lead path groups a value never seen in training the same way.
    assert transform.one({"Source": "Yahoo"})["Source"] == OTHER_CATEGORY
    assert transform.one({"Source": "Direct"})["Source"] == "Direct"
