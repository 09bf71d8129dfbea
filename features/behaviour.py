"""Behaviour features of a journey as of a cut-off time: the one feature code path.

A single compiled row function reads a lead's events strictly before `as_of` and fills one
feature row. A serial driver runs it for a handful of rows (the service: one lead, `as_of =
now`), a parallel driver for millions of historical cut-offs (training). Nothing here can
see an event at or after the cut-off: the loop stops at the first such event.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from features.catalogue import (
    CATALOGUE,
    GROUP_EVENTS,
    GROUPS,
    HALF_LIVES_DAYS,
    SCALARS,
    WINDOW_DAYS,
)
from features.contract.schema import EVENT_CODE, EVENT_TYPES, EventType
from features.journeys import Journeys

N_TYPES = len(EVENT_TYPES)
_N_WIN = len(WINDOW_DAYS)
_N_HL = len(HALF_LIVES_DAYS)
# Layout of a feature row: per-type counts (each window, then all time), per-type recency,
# decayed engagement per group and half-life, then single features; `CATALOGUE` names and
# describes the columns in this order.
_COUNTS = 0
_LAST = _COUNTS + N_TYPES * (_N_WIN + 1)
_DECAYED = _LAST + N_TYPES
_SCALARS = _DECAYED + len(GROUPS) * _N_HL
N_BEHAVIOUR = _SCALARS + len(SCALARS)
BEHAVIOUR_FEATURES: tuple[str, ...] = tuple(feature.name for feature in CATALOGUE)
assert len(BEHAVIOUR_FEATURES) == N_BEHAVIOUR

_GROUP_OF = np.full(N_TYPES, -1, dtype=np.int8)
for _g, _group in enumerate(GROUPS):
    for _event in GROUP_EVENTS[_group]:
        _GROUP_OF[EVENT_CODE[_event]] = _g
_INTENT, _INTEREST = 0, 1
_WINDOWS = np.array(WINDOW_DAYS)
_DECAY_RATES = np.log(2.0) / np.array(HALF_LIVES_DAYS)
_OPEN = EVENT_CODE[EventType.EMAIL_OPEN]
_CLICK = EVENT_CODE[EventType.EMAIL_CLICK]


@njit(cache=True, nogil=True)
def _row(
    times, codes, start, end, as_of, created, group_of, windows, rates, out
):  # pragma: no cover
    n_win = windows.size
    n_types = group_of.size
    for k in range(out.size):
        out[k] = 0.0
    last = np.full(n_types, -np.inf)
    n = 0
    first_t = 0.0
    last_t = 0.0
    prev_day = -1.0
    prev_day_30 = -1.0
    active_total = 0
    active_30 = 0
    n_7 = 0
    n_prior_23 = 0
    first_interest = np.inf
    first_intent = np.inf
    intent_after_interest = 0
    for i in range(start, end):
        t = times[i]
        if t >= as_of:  # strictly before the cut-off; events are sorted, so stop here
            break
        c = codes[i]
        age = (as_of - t) / 86400.0
        base = c * (n_win + 1)
        out[base + n_win] += 1.0
        for w in range(n_win):
            if age < windows[w]:
                out[base + w] += 1.0
        last[c] = t
        g = group_of[c]
        if g >= 0:
            for h in range(rates.size):
                out[_DECAYED + g * rates.size + h] += math.exp(-age * rates[h])
            if g == _INTENT:
                if first_intent == np.inf:
                    first_intent = t
                if first_interest < t:
                    intent_after_interest = 1
            elif g == _INTEREST and first_interest == np.inf:
                first_interest = t
        day = math.floor(t / 86400.0)
        if day != prev_day:
            active_total += 1
            prev_day = day
        if age < 30.0:
            if day != prev_day_30:
                active_30 += 1
                prev_day_30 = day
            if age < 7.0:
                n_7 += 1
            else:
                n_prior_23 += 1
        if n == 0:
            first_t = t
        last_t = t
        n += 1

    last_intent = -np.inf
    n_intent_types = 0
    for c in range(n_types):
        out[_LAST + c] = (as_of - last[c]) / 86400.0 if last[c] > -np.inf else np.nan
        if group_of[c] == _INTENT and last[c] > -np.inf:
            n_intent_types += 1
            last_intent = max(last_intent, last[c])
    s = _SCALARS
    out[s + 0] = (as_of - created) / 86400.0
    out[s + 1] = n
    out[s + 2] = (as_of - last_t) / 86400.0 if n > 0 else np.nan
    out[s + 3] = (as_of - first_t) / 86400.0 if n > 0 else np.nan
    out[s + 4] = active_30
    out[s + 5] = active_total
    out[s + 6] = (n_7 + 1.0) / (n_prior_23 * 7.0 / 23.0 + 1.0)
    out[s + 7] = intent_after_interest
    if first_interest < first_intent < np.inf:
        out[s + 8] = (first_intent - first_interest) / 86400.0
    else:
        out[s + 8] = np.nan
    opens = out[_OPEN * (n_win + 1) + n_win]
    clicks = out[_CLICK * (n_win + 1) + n_win]
    out[s + 9] = clicks / opens if opens > 0 else np.nan
    out[s + 10] = (as_of - last_intent) / 86400.0 if last_intent > -np.inf else np.nan
    out[s + 11] = n_intent_types


@njit(cache=True, parallel=True)
def _rows_parallel(
    offsets, times, codes, lead, as_of, created, group_of, windows, rates, out
):  # pragma: no cover
    for r in prange(lead.size):
        j = lead[r]
        _row(
            times,
            codes,
            offsets[j],
            offsets[j + 1],
            as_of[r],
            created[r],
            group_of,
            windows,
            rates,
            out[r],
        )


@njit(cache=True, nogil=True)
def _rows_serial(
    offsets, times, codes, lead, as_of, created, group_of, windows, rates, out
):  # pragma: no cover
    for r in range(lead.size):
        j = lead[r]
        _row(
            times,
            codes,
            offsets[j],
            offsets[j + 1],
            as_of[r],
            created[r],
            group_of,
            windows,
            rates,
            out[r],
        )


# Below this many rows the thread pool's start-up costs more than it saves.
_PARALLEL_MIN_ROWS = 256


def behaviour_features(
    journeys: Journeys,
    row_lead_index: np.ndarray,
    row_as_of: np.ndarray,
    row_created_at: np.ndarray,
) -> np.ndarray:
    """Behaviour feature matrix (rows x `BEHAVIOUR_FEATURES`, float32) for (lead, cut-off) rows.

    `row_lead_index` points into `journeys`; `row_as_of` and `row_created_at` are epoch seconds.
    Only events strictly before each row's `as_of` are read.
    """
    lead = np.ascontiguousarray(row_lead_index, dtype=np.int64)
    if lead.size and (lead.min() < 0 or lead.max() >= len(journeys)):
        raise ValueError("row_lead_index points outside the journeys: map lead ids first.")
    as_of = np.ascontiguousarray(row_as_of, dtype=np.float64)
    created = np.ascontiguousarray(row_created_at, dtype=np.float64)
    # float32 halves memory at millions of rows; online and offline share the dtype.
    out = np.empty((lead.size, N_BEHAVIOUR), dtype=np.float32)
    driver = _rows_parallel if lead.size >= _PARALLEL_MIN_ROWS else _rows_serial
    driver(
        journeys.offsets,
        journeys.times,
        journeys.codes,
        lead,
        as_of,
        created,
        _GROUP_OF,
        _WINDOWS,
        _DECAY_RATES,
        out,
    )
    return out
