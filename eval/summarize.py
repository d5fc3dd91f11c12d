"""From labeled paragraphs to findings: theme shares per group, corrected for the model's errors.

    summary = summarize(["labels.jsonl"], "shares.csv", by=["year", "genre"], meta="documents.csv")

Reads ``label``'s output (jsonl, csv or parquet), groups its paragraphs (by any of its columns, by columns of
a metadata table joined on ``doc_id``, or by the year in the file names), and writes one row per group and
theme: ``paragraphs``, ``counted`` (the share labeled), ``share`` (corrected, eval/quantify.py), ``low`` and
``high`` (95% interval), ``method`` and ``note`` (why a share or interval is missing). What the model did on
the paragraphs that tuned it comes from its run (``quantification.json``), found through the labeled file's
manifest.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from policytheme.data.records import DataError
from policytheme.eval.quantify import DEFAULT_METHOD, METHODS, N_BOOT, QUANTIFICATION, Rates, estimate
from policytheme.files import read_json, write_file

OUTPUTS = (".csv", ".jsonl", ".parquet", ".html")
PLOTS = (".png", ".svg")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_SKIP = {"text", "labels", "scores", "evidence", "start", "end", "paragraph"}  # never group keys


@dataclass
class Labeled:
    """The paragraphs of labeled files: their key columns, decisions and scores (paragraphs x themes)."""

    keys: pd.DataFrame
    decided: np.ndarray
    scores: np.ndarray
    themes: list[str]
    models: list[str] = field(default_factory=list)  # the model folder each file's manifest names


@dataclass
class SummaryResult:
    out: str
    groups: int
    themes: list[str]
    paragraphs: int
    method: str
    seconds: float
    plots: list[str]
    table: pd.DataFrame

    def __str__(self) -> str:
        plots = f"; charts: {', '.join(self.plots)}" if self.plots else ""
        return (
            f"summarized {self.paragraphs:,} paragraphs into {self.groups} group(s) x {len(self.themes)} themes "
            f"({self.method}) in {self.seconds:.1f}s; output: {self.out}{plots}"
        )


def read_labeled(path: str | Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, list[str], str | None]:
    """One labeled file: (key columns, decided, scores, themes, model folder from its manifest or None)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    if not path.is_file():
        raise DataError([f"{path}: no such labeled file"])
    suffix = path.suffix.lower()
    try:
        if suffix == ".jsonl":
            import pyarrow.json as pj

            table = pj.read_json(path, read_options=pj.ReadOptions(block_size=1 << 24))
        elif suffix == ".csv":
            import pyarrow.csv as pcsv

            with open(path, encoding="utf-8", newline="") as f:
                names = next(csv.reader(f), [])
            table = pcsv.read_csv(
                path,
                convert_options=pcsv.ConvertOptions(
                    column_types={c: pa.string() for c in names if not c.startswith("score_")},
                    include_columns=[c for c in names if c != "text"],
                ),
            )
        elif suffix == ".parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
            table = pq.read_table(path, columns=[c for c in names if c != "text"])
        else:
            raise DataError([f"{path}: a labeled file ends in .jsonl, .csv or .parquet"])
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as e:
        raise DataError([f"{path}: cannot read it as {suffix[1:]} ({str(e).splitlines()[0]})"]) from None
    names = table.schema.names
    if "doc_id" not in names or "labels" not in names:
        raise DataError([f"{path}: not an output of `policytheme label` (no doc_id and labels columns)"])
    if "scores" in names:
        themes = [f.name for f in table.schema.field("scores").type]
        scores = np.column_stack([pc.struct_field(table["scores"], t).to_numpy(zero_copy_only=False) for t in themes])
    else:
        themes = [c[len("score_") :] for c in names if c.startswith("score_")]
        scores = np.column_stack([table[f"score_{t}"].to_numpy() for t in themes]) if themes else None
    if not themes:
        raise DataError([f"{path}: no scores columns (an output of `policytheme label` has one per theme)"])
    labels = table["labels"]
    if pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type):
        labels = pc.split_pattern(pc.fill_null(labels, ""), ";")
    labels = labels.combine_chunks() if isinstance(labels, pa.ChunkedArray) else labels
    flat = pc.list_flatten(labels).to_numpy(zero_copy_only=False)
    rows = pc.list_parent_indices(labels).to_numpy()
    keep = flat != ""
    codes = pd.Categorical(flat[keep], categories=themes).codes
    if (codes < 0).any():
        unknown = sorted(set(flat[keep][codes < 0]))
        raise DataError([f"{path}: labels {', '.join(map(str, unknown))} are not among its themes {', '.join(themes)}"])
    decided = np.zeros((table.num_rows, len(themes)), dtype=bool)
    decided[rows[keep], codes] = True
    keys = table.select([c for c in names if c not in _SKIP]).to_pandas()
    keys["doc_id"] = keys["doc_id"].astype(str)
    manifest = path.with_name(path.name + ".manifest.json")
    model = read_json(manifest).get("model", {}).get("path") if manifest.is_file() else None
    return keys, decided, np.nan_to_num(scores.astype(np.float64)), themes, model


def read_all(paths: list[str | Path]) -> Labeled:
    parts = [read_labeled(p) for p in paths]
    themes = parts[0][3]
    for p, part in zip(paths, parts):
        if part[3] != themes:
            raise DataError([f"{p}: themes {', '.join(part[3])} differ from {paths[0]}'s ({', '.join(themes)})"])
    keys = pd.concat([p[0] for p in parts], ignore_index=True) if len(parts) > 1 else parts[0][0]
    return Labeled(
        keys,
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        themes,
        [p[4] for p in parts],
    )


def find_rates(model: str | Path, themes: list[str]) -> Rates:
    """The tuning paragraphs' scores and rates stored with a model (its folder, or the run folder around it)."""
    model = Path(model)
    for where in (model / QUANTIFICATION, model / "model" / QUANTIFICATION, model.parent / QUANTIFICATION):
        if where.is_file():
            try:
                rates = Rates.from_json(read_json(where), str(where))
            except ValueError as e:
                raise DataError([str(e)]) from None
            missing = [t for t in themes if t not in rates.themes]
            if missing:
                raise DataError([f"{where}: no rates for {', '.join(missing)}: the labels come from another model"])
            return rates.select(themes)
    raise DataError(
        [
            f"{model}: no dev-split error rates ({QUANTIFICATION}); the model was trained before `summarize` existed: "
            "train it again (the default model: `policytheme models --build-default --overwrite`), or pass "
            "--method cc for counted shares"
        ]
    )


def read_meta(path: str | Path) -> pd.DataFrame:
    """Document metadata keyed by ``doc_id`` (a csv); one clear line for a missing file, column or duplicate."""
    path = Path(path)
    if not path.is_file():
        raise DataError([f"{path}: no such metadata file"])
    try:
        meta = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError([f"{path}: not a readable csv ({str(e).splitlines()[0]})"]) from None
    if "doc_id" not in meta.columns:
        raise DataError([f"{path}: no doc_id column (columns: {', '.join(meta.columns)})"])
    dup = meta["doc_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError([f"{path}:{i + 2}: duplicate doc_id {meta['doc_id'].iloc[i]!r}"])
    return meta


def year_of(names: pd.Series) -> pd.Series:
    """The year in each file name (the last four-digit 18xx-20xx number of its base name), or None."""
    codes, unique = pd.factorize(names)  # a few files for many paragraphs: each name is parsed once
    years = [m[-1] if (m := _YEAR.findall(Path(str(s)).name)) else None for s in unique]
    return pd.Series(np.array(years + [None], dtype=object)[codes], index=names.index)


def group_keys(labeled: Labeled, by: list[str], meta: pd.DataFrame | None, meta_path: str = "") -> tuple:
    """(groups as a frame of their values, each paragraph's group index, notes for the summary)."""
    keys, notes = labeled.keys, []
    if meta is not None:
        extra = [c for c in meta.columns if c != "doc_id" and c in by]
        keys = keys.drop(columns=[c for c in extra if c in keys.columns]).merge(
            meta[["doc_id", *extra]], on="doc_id", how="left", sort=False
        )
        unmatched = keys.loc[keys[extra[0]].isna(), "doc_id"].unique() if extra else []
        if len(unmatched):
            notes.append(f"{len(unmatched)} document(s) not in {meta_path} (their group is empty)")
        for c in extra:
            keys[c] = keys[c].fillna("")
    if "year" in by and "year" not in keys.columns:
        years = year_of(keys["source"] if "source" in keys.columns else keys["doc_id"])
        if years.isna().any():
            where = keys.loc[years.isna(), "source" if "source" in keys.columns else "doc_id"].iloc[0]
            raise DataError(
                [f"--by year: {where} has no year in its file name; give --meta FILE.csv with doc_id and year columns"]
            )
        keys = keys.assign(year=years)
    unknown = [c for c in by if c not in keys.columns]
    if unknown:
        known = sorted({*keys.columns, *(meta.columns if meta is not None else []), "year"})
        raise DataError([f"--by {', '.join(unknown)}: no such column (columns: {', '.join(known)})"])
    if not by:
        return pd.DataFrame(index=[0]), np.zeros(len(keys), dtype=np.int64), notes
    values = keys[by].astype(str)
    groups = values.drop_duplicates()
    if meta is not None and all(c in meta.columns for c in by):  # documents of the metadata with no paragraphs
        groups = pd.concat([groups, meta[by].astype(str)]).drop_duplicates()
    groups = sort_groups(groups.reset_index(drop=True), by)
    index = pd.MultiIndex.from_frame(groups) if len(by) > 1 else pd.Index(groups[by[0]])
    codes = index.get_indexer(pd.MultiIndex.from_frame(values) if len(by) > 1 else values[by[0]])
    return groups, codes.astype(np.int64), notes


def sort_groups(groups: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Groups in natural order: numbers (years) as numbers, the rest alphabetically."""
    order = []
    for c in by:
        num = pd.to_numeric(groups[c], errors="coerce")
        order.append(num.fillna(np.inf) if num.notna().all() else groups[c])
    frame = pd.DataFrame({f"_k{i}": k for i, k in enumerate(order)})
    return groups.iloc[frame.sort_values(list(frame.columns), kind="stable").index].reset_index(drop=True)


def shares_table(groups: pd.DataFrame, themes: list[str], shares, method: str) -> pd.DataFrame:
    """One row per group and theme, in group order then theme order."""
    g, t = len(groups), len(themes)
    out = groups.loc[np.repeat(np.arange(g), t)].reset_index(drop=True) if len(groups.columns) else pd.DataFrame()

    def r(x):
        return np.round(x.reshape(-1), 4)

    out = out.assign(
        theme=np.tile(themes, g),
        paragraphs=np.repeat(shares.paragraphs, t),
        counted=r(shares.counted),
        share=r(shares.share),
        low=r(shares.low),
        high=r(shares.high),
        method=method,
        note=[x for row in shares.note for x in row],
    )
    return out


def write_table(table: pd.DataFrame, out: Path, page: str | None = None) -> None:
    suffix = out.suffix.lower()
    if suffix == ".csv":
        write_file(out, table.to_csv(index=False).encode("utf-8"))
    elif suffix == ".jsonl":
        write_file(out, table.to_json(orient="records", lines=True, force_ascii=False).encode("utf-8"))
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), sink)
        write_file(out, sink.getvalue().to_pybytes())
    else:
        write_file(out, page.encode("utf-8"))


def summarize(
    labeled: list[str | Path],
    out: str | Path,
    by: list[str] | None = None,
    meta: str | Path | None = None,
    plot: str | Path | None = None,
    model: str | Path | None = None,
    method: str = DEFAULT_METHOD,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> SummaryResult:
    """Corrected theme shares of the paragraphs of ``labeled``, one row per group and theme, into ``out``
    (.csv, .jsonl, .parquet or .html by its suffix); ``plot`` also writes each chart as .png or .svg."""
    started = time.perf_counter()
    out, by = Path(out), list(by or [])
    if out.suffix.lower() not in OUTPUTS:
        raise DataError([f"{out}: output must end in {', '.join(OUTPUTS)}"])
    if plot is not None and Path(plot).suffix.lower() not in PLOTS:
        raise DataError([f"{plot}: --plot must end in {', '.join(PLOTS)}"])
    if method not in METHODS:
        raise DataError([f"unknown method {method!r} (use {', '.join(METHODS)})"])
    meta_frame = read_meta(meta) if meta is not None else None
    data = read_all(labeled)
    rates = None
    if method != "cc":
        models = {m for m in data.models if m}
        if model is None and len(models) > 1:
            raise DataError([f"the labeled files come from {len(models)} models ({', '.join(sorted(models))})"])
        source = model or (models.pop() if models else None)
        if source is None:
            raise DataError([f"{labeled[0]}: no manifest names the model that labeled it; pass --model RUN"])
        rates = find_rates(source, data.themes)
    groups, codes, notes = group_keys(data, by, meta_frame, str(meta))
    shares = estimate(codes, len(groups), data.decided, data.scores, rates, method, n_boot=n_boot, seed=seed)
    table = shares_table(groups, data.themes, shares, method)
    page, plots = None, []
    if out.suffix.lower() == ".html" or plot is not None:
        from policytheme.eval.findings import charts, render, save_charts

        figures = charts(table, by, data.themes)
        if out.suffix.lower() == ".html":
            page = render(table, by, figures, sources=[str(p) for p in labeled], method=method, notes=notes)
        if plot is not None:
            plots = save_charts(figures, Path(plot))
    write_table(table, out, page)
    return SummaryResult(
        str(out), len(groups), data.themes, len(codes), method, time.perf_counter() - started, plots, table
    )
