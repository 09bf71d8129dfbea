"""Parse users' timestamp columns into UTC, saying which values were missing, bad or naive.

Vectorised over the whole column: one `pd.to_datetime` pass plus one regular expression to
tell which values carried an offset, so a few million timestamps take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.mapping import TimestampSettings

# An offset or zone at the end of a time: "...10:00Z", "...10:00:00+02:00", "...T100000Z",
# "... 10:00 UTC". Anchored on the time so a date like "2024-01-15" is not read as "-15".
# [0-9] and " " rather than \d and \s keep pandas on pyarrow's vectorised regex engine.
_TZ_SUFFIX = (
    r"(?:[0-9][Zz]"
    r"|[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? ?(?:[+-][0-9]{2}(?::?[0-9]{2})?|UTC|GMT))$"
)
# A date written day and month first in either order: "03/04/2024", "3.4.24", "03-04-2024 10:00".
_NUMERIC_DATE = r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-][0-9]{2,4}(?:$|[ T])"
# Outside this range a date is a placeholder ("1900-01-01") or a typo, not an event.
EARLIEST = pd.Timestamp("1970-01-01", tz="UTC")
LATEST = pd.Timestamp("2100-01-01", tz="UTC")


@dataclass(frozen=True)
class ParsedTimes:
    """A parsed column: `utc` is NaT wherever one of the error masks is set."""

    utc: pd.Series  # datetime64[ns, UTC]
    missing: np.ndarray  # empty cell
    unparseable: np.ndarray  # text that is not a timestamp in the expected format
    out_of_range: np.ndarray  # before EARLIEST or from LATEST on
    naive: np.ndarray  # valid, but had no offset: read in settings.naive_timezone
    # valid, and would read as another date with day and month swapped, in a column where no
    # value tells the order (no number above 12 in either place): all False otherwise
    ambiguous: np.ndarray


def naive_utc(times: pd.Series) -> np.ndarray:
    """UTC timestamps as plain datetime64[ns] (tz-aware series give object arrays)."""
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


def parse_timestamps(values: pd.Series, settings: TimestampSettings) -> ParsedTimes:
    """Parse text (or already typed datetimes) into UTC; nothing raises, everything is flagged."""
    missing = values.isna().to_numpy()
    ambiguous = np.zeros(len(values), dtype=bool)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        parsed = values.dt.tz_convert("UTC")
        naive = np.zeros(len(values), dtype=bool)
    elif pd.api.types.is_datetime64_dtype(values):
        parsed = values.dt.tz_localize("UTC")
        naive = ~missing
    else:
        text = values.astype("str").str.strip()
        text = text.mask(text == "")
        missing = text.isna().to_numpy()
        parsed = pd.to_datetime(text, format=settings.format, errors="coerce", utc=True)
        naive = ~missing & ~text.str.contains(_TZ_SUFFIX, na=False).to_numpy(dtype=bool)
        parsed = _retry_zone_words(text, parsed, settings.format)
        ambiguous = _day_month_ambiguous(text)
    if settings.naive_timezone != "UTC" and naive.any():
        local = parsed[naive].dt.tz_localize(None)
        parsed = parsed.copy()
        parsed[naive] = local.dt.tz_localize(
            settings.naive_timezone,
            # Repeated autumn hour: take the first (summer-time) one; skipped spring hour:
            # move forward. Either way the row is kept and is off by at most an hour.
            ambiguous=np.ones(len(local), dtype=bool),
            nonexistent="shift_forward",
        ).dt.tz_convert("UTC")
    unparseable = parsed.isna().to_numpy() & ~missing
    out_of_range = ((parsed < EARLIEST) | (parsed >= LATEST)).to_numpy()
    return ParsedTimes(
        utc=parsed.mask(out_of_range).astype("datetime64[ns, UTC]"),
        missing=missing,
        unparseable=unparseable,
        out_of_range=out_of_range,
        naive=naive & ~unparseable & ~out_of_range,
        ambiguous=ambiguous & ~unparseable & ~out_of_range & ~missing,
    )


def _day_month_ambiguous(text: pd.Series) -> np.ndarray:
    """Values whose day and month could be swapped, when no value of the column says which
    comes first; all False as soon as one value has a number above 12 in either place."""
    none = np.zeros(len(text), dtype=bool)
    # ISO dates start with the year: the cheap test spares clean data the extraction.
    if not text.str.contains(r"^[0-9]{1,2}[/.\-]", na=False).any():
        return none
    parts = text.str.extract(_NUMERIC_DATE).astype("float64")
    first, second = parts[0].to_numpy(), parts[1].to_numpy()
    dated = ~np.isnan(first)
    if (first[dated] > 12).any() or (second[dated] > 12).any():
        return none
    return dated & (first != second)


def _retry_zone_words(text: pd.Series, parsed: pd.Series, fmt: str) -> pd.Series:
    """Re-read values such as "2024-01-05 10:00:00 UTC" (BigQuery's export) that ISO 8601 refuses.

    Only the values that failed are retried, so clean data pays nothing.
    """
    if fmt not in ("ISO8601", "mixed"):
        return parsed
    failed = parsed.isna() & text.notna()
    if not failed.any():
        return parsed
    retry = text[failed].str.replace(r" ?(?:UTC|GMT)$", "Z", regex=True)
    parsed = parsed.copy()
    parsed[failed] = pd.to_datetime(retry, format=fmt, errors="coerce", utc=True)
    return parsed
