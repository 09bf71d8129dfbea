"""Read a user's table (CSV or Parquet) without guessing types, keeping where rows came from.

A CSV file's separator (`,` `;` tab `|`) and encoding (UTF-8 with or without a byte-order
mark, else Windows-1252 or Latin-1) are sniffed unless given; `csv_format` says what they were.
Every value of a CSV file is read as text (ids like "00042" stay "00042"; the text "NA" stays
"NA"; only empty cells are missing): parsing timestamps and numbers is validation's job, where a
bad value becomes a reported problem instead of a silent NaN. Parquet columns keep their types.

Each row carries its source location in two columns, so a report can point at it:
`SOURCE` (categorical prefix such as "events.csv:" or "events/part-0.parquet#") and
`SOURCE_POS` (int64 line or row number). `locations()` joins them into "events.csv:17" only for
the rows a report shows: a few million formatted strings would cost more than the data.
CSV positions are physical line numbers as an editor shows them (header = line 1, multi-line
quoted values and blank lines accounted for); Parquet positions are 0-based row numbers within
the file, as `pyarrow`/`pandas` count them.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

SOURCE = "_source"
SOURCE_POS = "_source_pos"
SOURCE_COLUMNS = (SOURCE, SOURCE_POS)

CSV_SUFFIXES = frozenset({".csv", ".txt"})
PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})
# Bytes scanned at a time when locating CSV records: bounds memory on multi-GB files.
_SCAN_CHUNK = 1 << 26
_LF, _CR, _QUOTE = 10, 13, 34
# Bytes the CSV reader parses at a time (pyarrow's default): no record may be longer.
_BLOCK_BYTES = 1 << 20
# Separators a CSV file may use (Excel writes ';' in most European locales).
_SEPARATORS = (",", ";", "\t", "|")
# Records of the first block that decide the separator: the header's width must recur in them.
_SNIFF_RECORDS = 50
# Encodings of a CSV file that is not UTF-8, in order: Excel on Windows writes cp1252 (Latin-1
# plus the euro sign and curly quotes); Latin-1 decodes any byte.
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")
_ENCODING_NAMES = {"utf-8": "UTF-8", "cp1252": "Windows-1252 (Latin-1)", "latin-1": "Latin-1"}


class TableReadError(ValueError):
    """A file could not be read as a table; the message says what to change."""


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is read: its separator and its encoding (a Python codec name)."""

    delimiter: str
    encoding: str
    bom: bool = False

    def describe(self) -> str:
        """E.g. "';'-separated Windows-1252 (Latin-1)", for the console and reports."""
        name = _ENCODING_NAMES.get(self.encoding, self.encoding)
        return f"{self.delimiter!r}-separated {name}{' with a byte-order mark' if self.bom else ''}"


def read_table(
    path: str | Path, *, delimiter: str | None = None, encoding: str | None = None
) -> pd.DataFrame:
    """Read a CSV file, a Parquet file or a directory of Parquet parts, with source locations.

    CSV: the separator and encoding given, else sniffed; any line endings (LF, CRLF, CR),
    quoted values may span lines; every column is text. Parquet: column types as stored.
    """
    return read_table_as(path, delimiter=delimiter, encoding=encoding)[0]


def read_table_as(
    path: str | Path, *, delimiter: str | None = None, encoding: str | None = None
) -> tuple[pd.DataFrame, CsvFormat | None]:
    """`read_table`, and the format a CSV file was read as (None for Parquet)."""
    path = Path(path)
    if path.is_dir():
        return _read_parquet_dir(path), None
    if not path.exists():
        raise TableReadError(f"{path}: no such file or directory")
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet_file(path, label=str(path)), None
    if suffix in CSV_SUFFIXES:
        form = csv_format(path, delimiter=delimiter, encoding=encoding)
        return _read_csv(path, form), form
    raise TableReadError(
        f"{path}: unknown file type {suffix!r}; give a .csv file, a .parquet file "
        "or a directory of .parquet parts"
    )


def csv_format(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None
) -> CsvFormat:
    """The CSV file's separator and encoding: those given, the others sniffed.

    The encoding is checked on the whole file (a stray 'é' may sit on the last line); the
    separator is the one that splits the header into the most columns, as many as the first
    records have.
    """
    with path.open("rb") as f:
        sample = f.read(_BLOCK_BYTES)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\0" in sample:
        raise TableReadError(
            f"{path}: not a text file this reader takes (UTF-16 or binary); save it as CSV "
            "UTF-8 (in Excel: 'CSV UTF-8')"
        )
    encoding = encoding or _sniff_encoding(path)
    bom = sample.startswith(codecs.BOM_UTF8)
    text = sample.decode(encoding, errors="replace").removeprefix("\ufeff")
    # The block may end inside a record: leave that one out.
    truncated = len(sample) == _BLOCK_BYTES
    return CsvFormat(delimiter or _sniff_delimiter(text, truncated), encoding, bom)


def _sniff_encoding(path: Path) -> str:
    *strict, last_resort = ("utf-8", *_FALLBACK_ENCODINGS)
    for encoding in strict:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as f:
                for chunk in iter(lambda f=f: f.read(_SCAN_CHUNK), b""):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    return last_resort


def _sniff_delimiter(text: str, truncated: bool) -> str:
    best, best_width = ",", 1
    for sep in _SEPARATORS:
        try:
            records = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if r]
        except csv.Error:  # a field beyond the csv module's size limit: not this separator
            continue
        if truncated:
            records = records[:-1]
        records = records[: _SNIFF_RECORDS + 1]
        if not records:
            continue
        width, rows = len(records[0]), records[1:]
        agree = sum(len(r) == width for r in rows) >= 0.9 * len(rows)
        if width > best_width and agree:
            best, best_width = sep, width
    return best


def locations(frame: pd.DataFrame, rows: np.ndarray | None = None) -> pd.Series:
    """ "file:line" (CSV) or "file#row" (Parquet) of the given row positions (default: all).

    A frame that was not read by `read_table` has no source columns: rows are then named by
    their 0-based position, "row 17". The result has a fresh 0..n-1 index.
    """
    positions = np.arange(len(frame)) if rows is None else np.asarray(rows, dtype=np.int64)
    if SOURCE not in frame.columns:
        return pd.Series(positions, dtype="str").radd("row ")
    prefix = frame[SOURCE].iloc[positions].astype("str").reset_index(drop=True)
    return prefix + frame[SOURCE_POS].iloc[positions].astype("str").reset_index(drop=True)


ROW_ID_PREFIX = "row_"


def row_ids(rows: int) -> np.ndarray:
    """Ids of a table without an id column: row_1, row_2, ... by data row, so training and
    scoring number an export the same way."""
    return (ROW_ID_PREFIX + pd.RangeIndex(1, rows + 1).astype("str")).to_numpy()


def unique_ids(table: pd.DataFrame, column: str) -> pd.Series:
    """The ids in `column` as stripped text; a `ValueError` names the rows (file:line) where
    one is empty or repeated."""
    ids = table[column].astype("string").str.strip()
    bad = (ids.isna() | (ids == "") | ids.duplicated(keep=False)).to_numpy()
    if bad.any():
        where = locations(table, np.flatnonzero(bad)[:5])
        raise ValueError(
            f"{int(bad.sum())} rows have an empty or repeated {column!r} "
            f"(e.g. {', '.join(where)}): the id column must name each lead once."
        )
    return ids


def _with_source(frame: pd.DataFrame, prefix: str, positions: np.ndarray) -> pd.DataFrame:
    clash = [c for c in SOURCE_COLUMNS if c in frame.columns]
    if clash:
        raise TableReadError(f"{prefix[:-1]}: column names {clash} are reserved; rename them")
    frame[SOURCE] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), [prefix])
    frame[SOURCE_POS] = positions.astype(np.int64)
    return frame


def _read_parquet_file(path: Path, label: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise TableReadError(f"{path}: not a readable Parquet file ({exc})") from exc
    return _with_source(frame, f"{label}#", np.arange(len(frame)))


def _read_parquet_dir(path: Path) -> pd.DataFrame:
    parts = sorted(p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES)
    if not parts:
        raise TableReadError(f"{path}: directory holds no .parquet files")
    frames = [_read_parquet_file(p, label=str(p)) for p in parts]
    # Categories differ per part: union them so the prefix column stays categorical.
    prefixes = pd.api.types.union_categoricals([f[SOURCE] for f in frames])
    frame = pd.concat([f.drop(columns=SOURCE) for f in frames], ignore_index=True)
    frame[SOURCE] = prefixes
    return frame


def _read_csv(path: Path, form: CsvFormat) -> pd.DataFrame:
    import pyarrow.csv as pacsv

    names = _csv_header(path, form)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise TableReadError(f"{path}: column(s) {duplicated} appear more than once in the header")
    try:
        table = pacsv.read_csv(
            path,
            # "utf8" is pyarrow's own decoder (which skips a byte-order mark); other names
            # transcode through Python's codecs.
            read_options=pacsv.ReadOptions(
                block_size=_BLOCK_BYTES,
                encoding="utf8" if form.encoding == "utf-8" else form.encoding,
            ),
            parse_options=pacsv.ParseOptions(delimiter=form.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        if "straddl" in str(exc):  # "straddling object": a record longer than a block
            raise _too_long(path) from exc
        hint = (
            "leave out the encoding setting to have it detected, or save the file as UTF-8"
            if "UTF8" in str(exc)
            else "check the quoting and the number of fields on the line it names"
        )
        raise TableReadError(f"{path}: cannot read as CSV ({exc}); {hint}") from exc
    frame = table.to_pandas()
    lines = _record_lines(path)
    if len(lines) == len(frame):
        return _with_source(frame, f"{path}:", lines)
    # Quoting this scanner does not model (e.g. a stray quote inside an unquoted value):
    # fall back to record numbers rather than point at wrong lines.
    return _with_source(frame, f"{path}#", np.arange(len(frame)))


def _csv_header(path: Path, form: CsvFormat) -> list[str]:
    delimiter = form.delimiter
    encoding = "utf-8-sig" if form.encoding == "utf-8" else form.encoding
    try:
        with path.open(encoding=encoding, newline="") as f:
            # Lines read at most a block at a time at a time: a file without line breaks is
            # not read into memory whole just to find its header.
            header = next(
                csv.reader(iter(lambda: f.readline(_BLOCK_BYTES), ""), delimiter=delimiter), None
            )
    except UnicodeDecodeError as exc:
        raise TableReadError(
            f"{path}: not {form.encoding} text ({exc}); leave out the encoding setting to have "
            "it detected, or save the file as UTF-8 (in Excel: 'CSV UTF-8')"
        ) from exc
    except csv.Error as exc:  # a header field beyond the csv module's size limit
        raise _too_long(path) from exc
    if not header:
        raise TableReadError(f"{path}: empty file; the first line must name the columns")
    other = [s for s in _SEPARATORS if s != delimiter and s in header[0]]
    if len(header) == 1 and other:
        raise TableReadError(
            f"{path}: the header is one column, {header[0][:80]!r}, when split at "
            f"{delimiter!r}: a {other[0]!r}-separated file? Set the separator to {other[0]!r} "
            f"(`--sep`, or `csv_delimiter: {other[0]!r}` in the config or mapping file), or "
            "leave it out to have it detected"
        )
    return header


def _too_long(path: Path) -> TableReadError:
    return TableReadError(
        f"{path}: a line is longer than the CSV reader's limit of {_BLOCK_BYTES:,} bytes: "
        "likely not a CSV file, a file whose lines do not end in line breaks, or an unclosed "
        "quote that runs on to the end; check the file is CSV with one record per line"
    )


def _record_lines(path: Path) -> np.ndarray:
    """Line number (1-based, as an editor counts) where each data record of a CSV file starts.

    Vectorised scan: a line break ends a record only outside quotes, i.e. after an even number
    of quote characters ("" escapes count twice, so parity is unaffected). Empty records are
    skipped, like the CSV reader does; the first non-empty record is the header.
    """
    size = path.stat().st_size
    if size == 0:
        return np.zeros(0, dtype=np.int64)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    breaks, outside_quotes = [], []
    quotes_before = 0
    for start in range(0, size, _SCAN_CHUNK):
        chunk = np.asarray(data[start : start + _SCAN_CHUNK])
        cr = np.flatnonzero(chunk == _CR) + start
        # A CR is a line break of its own only when no LF follows (old Mac files).
        lone_cr = cr[(cr + 1 >= size) | (data[np.minimum(cr + 1, size - 1)] != _LF)]
        local = np.sort(np.concatenate([np.flatnonzero(chunk == _LF) + start, lone_cr]))
        quotes = np.flatnonzero(chunk == _QUOTE) + start
        parity = (quotes_before + np.searchsorted(quotes, local)) % 2 == 0
        quotes_before += len(quotes)
        breaks.append(local)
        outside_quotes.append(parity)
    all_breaks = np.concatenate(breaks)
    record_ends = np.append(all_breaks[np.concatenate(outside_quotes)], size)
    record_starts = np.concatenate([[0], record_ends[:-1] + 1])
    length = record_ends - record_starts
    # A CRLF line's record ends with its CR; a record that is only that CR is empty too.
    only_cr = (length == 1) & (data[np.minimum(record_starts, size - 1)] == _CR)
    non_empty = record_starts[(length > 0) & ~only_cr]
    lines = 1 + np.searchsorted(all_breaks, non_empty)
    return lines[1:]
