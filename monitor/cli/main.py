"""The `guanchao` command: thin verbs over the core, for people and for pipelines.

Bad usage or unreadable input ends with one line on stderr and exit code 2, never a
traceback. Output meant for machines goes to stdout; counts and progress go to stderr.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TransferSpeedColumn
from rich.table import Table

from monitor.cli.incidents import drill_app, incidents_app, silences_app
from monitor.cli.inputs import (
    STDIN,
    Format,
    InputError,
    Row,
    check_encoding,
    encodable,
    open_source,
    read_rows,
)
from monitor.cli.qa import qa_app
from monitor.cli.terminal import ConfigOption, err, fail, out, user_errors
from monitor.detect.counting import moment_of
from monitor.detect.enrich import Enricher, build_scorer
from monitor.detect.incidents import describe
from monitor.detect.reasons import worded
from monitor.detect.records import REQUIRED_FIELDS
from monitor.reports.analysis import Analysis, analyze
from monitor.reports.analysis_html import render_report
from monitor.settings import AlertSettings, Settings, load_settings
from monitor.stream.broker import BrokerError, embedded_broker, free_port
from monitor.stream.ingest import (
    DELIVERY_TIMEOUT_SECONDS,
    Delivery,
    Pacer,
    ensure_topics,
    follow_topic,
    keep_time,
    produce_comments,
    time_shifter,
)
from monitor.text.compliance import LISTED, MODEL, Verdict, default_checker
from monitor.text.sentiment import BayesModel, Label, Scorer, as_dicts, save_model
from monitor.text.training import (
    Example,
    Metrics,
    TrainingError,
    TrainingResult,
    check_options,
    clean_text,
    train,
    without_codes,
)

SAMPLE_EXPORT = Path(__file__).parents[1] / "samples" / "comments.jsonl"
MAX_COPY_BYTES = 1_000_000

app = typer.Typer(
    help="观潮 Guanchao: sentiment and crisis monitoring for Chinese social media.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FormatOption = Annotated[str, typer.Option("--input-format", help="auto, lines, csv or jsonl.")]
EncodingOption = Annotated[
    str, typer.Option("--encoding", help="Text encoding of the input, e.g. gbk for Excel.")
]


def main() -> None:
    app()


def _format(value: str) -> Format:
    if value not in ("auto", "lines", "csv", "jsonl"):
        fail(f"--input-format must be auto, lines, csv or jsonl, not {value!r}")
    return value  # type: ignore[return-value]  # checked just above


@contextmanager
def _progress(source: str) -> Iterator[Callable[[int], None]]:
    """A byte-based progress bar on a terminal for files; a no-op otherwise."""
    if source == STDIN or not err.is_terminal:
        yield lambda _: None
        return
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        TransferSpeedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(Path(source).name, total=Path(source).stat().st_size)
        yield lambda size: progress.advance(task, size)


def _report_skipped(skipped: Counter[str], done: int, verb: str) -> None:
    if skipped:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in skipped.most_common())
        err.print(f"{verb} {done}, skipped {skipped.total()} ({reasons})")
    if not done and skipped:
        fail("no usable rows in the input")


def _row_problem(row: Row, settings: Settings) -> str | None:
    if row.error:
        return row.error
    text = row.fields.get("text")
    if not isinstance(text, str) or not text.strip():
        return "no text"
    if len(text) > settings.limits.max_text_chars:
        return "text too long"
    return None


@app.command()
def score(
    source: Annotated[str, typer.Argument(help="File to score, or - for stdin.")] = STDIN,
    config: ConfigOption = None,
    input_format: FormatOption = "auto",
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """Score sentiment: lines, CSV with a `text` column, or JSONL with a `text` field in;
    JSONL out, each row with `sentiment` (P(positive)), `label` and `evidence` added."""
    fmt = _format(input_format)
    with user_errors():
        settings = load_settings(config)
        scorer = build_scorer(settings)
        skipped: Counter[str] = Counter()
        done = 0
        rows: list[dict[str, Any]] = []
        batch = 1 if sys.stdout.isatty() else _SCORE_BATCH  # a person sees each row at once
        with open_source(source) as stream, _progress(source) as advance, _collector_paused():
            for row in read_rows(stream, source, fmt, ("text",), encoding, advance):
                problem = _row_problem(row, settings)
                if problem:
                    skipped[problem] += 1
                    continue
                rows.append(row.fields)
                if len(rows) >= batch:
                    done += _score_rows(scorer, rows, skipped)
            done += _score_rows(scorer, rows, skipped)
    _report_skipped(skipped, done, "scored")


_SCORE_BATCH = 512  # rows scored and written at once: see Scorer.score_many


def _row_encoder() -> Callable[[dict[str, Any]], str]:
    """`json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode` of a row, the same
    text, with json's C encoder made once rather than once a row (a third of the time).
    Rows come from JSON, so no check for cycles is needed."""
    encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False)
    if c_make_encoder is None:  # an interpreter without json's C part
        return encoder.encode
    chunks = c_make_encoder(
        None, encoder.default, encode_basestring, None, ": ", ", ", False, False, False
    )
    return lambda row: "".join(chunks(row, 0))


_encode = _row_encoder()


def _score_rows(scorer: Scorer, rows: list[dict[str, Any]], skipped: Counter[str]) -> int:
    """Score, write and empty `rows`; how many were written."""
    if not rows:
        return 0
    lines = []
    scores = as_dicts(scorer.score_many([fields["text"] for fields in rows]))
    for fields, score in zip(rows, scores, strict=True):
        fields.update(score)  # as {**fields, **score}: the row's fields, then the score's
        try:  # Infinity and NaN are not JSON: such a row is skipped, never printed
            lines.append(_encode(fields))
        except ValueError:
            skipped["not a usable number"] += 1
    rows.clear()
    if lines:  # one write per batch: one per row was a third of the time
        sys.stdout.write("\n".join(lines) + "\n")
    return len(lines)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while scoring: nothing in it makes reference cycles, so the
    collector would find nothing, but it walked each batch's rows again and again (and the
    model's millions of objects), a tenth of `score`'s time on a large file."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@app.command()
def check(
    source: Annotated[str, typer.Argument(help="Copy to check, or - for stdin.")] = STDIN,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    config: ConfigOption = None,
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """Check marketing copy for terms the Advertising Law forbids.

    Exit 0 when clean or only warnings, 1 when a blocking term is found, 2 on bad input."""
    if output not in ("text", "json"):
        fail(f"--format must be text or json, not {output!r}")
    with user_errors():
        settings = load_settings(config)
        copy = _read_copy(source, encoding)
        compliance = settings.compliance
        checker = default_checker(compliance.exempt_names, compliance.off_categories)
    verdict = checker.check(copy)
    if output == "json":
        sys.stdout.write(json.dumps(verdict.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_verdict(copy, verdict)
    raise typer.Exit(1 if verdict.blocked else 0)


def _read_copy(source: str, encoding: str) -> str:
    check_encoding(encoding)
    with open_source(source) as stream:
        data = stream.read(MAX_COPY_BYTES + 1)
    if len(data) > MAX_COPY_BYTES:
        raise InputError(f"{source} is over {MAX_COPY_BYTES // 1_000_000} MB; check copy in parts")
    if b"\x00" in data:
        raise InputError(f"{source} looks like a binary file, not text")
    try:
        text = data.decode(encoding)
    except UnicodeError:
        raise InputError(
            f"{source} is not {encoding} text (try --encoding gbk for Excel exports)"
        ) from None
    if not encodable(text):
        raise InputError(f"{source} decodes to a lone surrogate, not text")
    if not text.strip():
        raise InputError(f"{source} is empty")
    return text


def _print_verdict(copy: str, verdict: Verdict) -> None:
    for item in verdict.passed:  # the model read a listed word as description: say so
        if item.rule == MODEL:
            out.print(f"[green]PASS[/green] {_place(copy, item.start)} [bold]{escape(item.text)}"
                      f"[/bold]\n    理由: {escape(item.why)}")  # fmt: skip
    if not verdict.hits:
        out.print("[green]clean[/green]: nothing to block or check")
        return
    for hit in verdict.hits:
        entry = hit.entry
        colour = "red" if entry.severity == "block" else "yellow"
        before, _, after = hit.context.partition(hit.text)
        out.print(
            f"[{colour}]{entry.severity.upper()}[/{colour}] {_place(copy, hit.start)} "
            f"[bold]{escape(hit.text)}[/bold] ({escape(entry.category_name)})"
        )
        context = f"{escape(before)}[reverse]{escape(hit.text)}[/reverse]{escape(after)}"
        out.print("    " + context.replace("\n", " "))
        out.print(f"    依据: {escape(entry.basis)}")
        if hit.rule != LISTED:  # a context rule, a pattern or the model: why it decided
            out.print(f"    理由: {escape(hit.why)}")
        out.print(f"    建议: {escape(entry.suggestion)}")
    blocking = sum(hit.entry.severity == "block" for hit in verdict.hits)
    out.print(f"{len(verdict.hits)} finding(s), {blocking} blocking")


def _place(copy: str, start: int) -> str:
    """line:column of `start`, both from 1, as editors show them."""
    line = copy.count("\n", 0, start) + 1
    column = start - (copy.rfind("\n", 0, start) + 1) + 1
    return f"{line}:{column}"


@app.command("analyze")
def analyze_command(
    source: Annotated[
        str, typer.Argument(help="Exported comments (CSV or JSONL), or - for stdin.")
    ] = str(SAMPLE_EXPORT),
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write an HTML report here.")
    ] = None,
    config: ConfigOption = None,
    input_format: FormatOption = "auto",
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """Replay an export through the core: per brand and hour, mentions and negatives, and
    the rolling hours in which negatives crossed the brand's threshold."""
    fmt = _format(input_format)
    with user_errors():
        settings = load_settings(config)
        enricher = Enricher(settings)
        skipped: Counter[str] = Counter()
        with open_source(source) as stream, _progress(source) as advance:
            rows = read_rows(stream, source, fmt, REQUIRED_FIELDS, encoding, advance)
            result = analyze(_good_rows(rows, skipped), enricher, settings, datetime.now(UTC))
    result.skipped.update(skipped)
    _print_analysis(result, settings)
    if report:
        generated = datetime.now(settings.zone)
        try:
            report.write_text(render_report(result, source, generated), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {report}: {error.strerror}")
        err.print(f"report written to {report}")
    _report_skipped(result.skipped, result.records, "analysed")


def _good_rows(rows: Iterator[Row], skipped: Counter[str]) -> Iterator[dict[str, object]]:
    for row in rows:
        if row.error:
            skipped[row.error] += 1
        else:
            yield row.fields


def _print_analysis(result: Analysis, settings: Settings) -> None:
    table = Table(title=f"{result.records} comments")
    for column in ("brand", "mentions", "negatives", "threshold", "above threshold (local)"):
        table.add_column(column)
    for brand, report in result.brands.items():
        crossings = "\n".join(
            f"{c.start:%m-%d %H:%M} – {c.end:%H:%M}, peak {c.peak}" for c in report.crossings
        )
        table.add_row(
            brand,
            str(report.mentions),
            str(report.negatives),
            f"> {report.threshold}/h",
            f"[red]{crossings}[/red]" if crossings else "never",
        )
    out.print(table)
    for incident in result.incidents:
        opened = datetime.fromisoformat(incident["opened_at"]).astimezone(settings.zone)
        out.print(f"would open {incident['level_name'].upper():7} {incident['brand']} · "
                  f"{incident['cause']} at {opened:%m-%d %H:%M}", markup=False)  # fmt: skip
    for brand, waves in result.waves.items():
        for wave in waves:
            first = moment_of(wave.first_minute).astimezone(settings.zone)
            out.print(f"{brand} at {first:%m-%d %H:%M}: {worded(wave.reason())}: "
                      f"「{wave.text}」", markup=False)  # fmt: skip
    for brand, report in result.brands.items():
        if report.crossings:
            words = "、".join(word for word, _ in report.keywords.most_common(8))
            crisis = "、".join(word for word, _ in report.crisis_keywords.most_common(5))
            out.print(f"[bold]{brand}[/bold] negative comments mention: {words}")
            if crisis:
                out.print(f"  crisis keywords: [red]{crisis}[/red]")


LABELS = {"positive": Label.POSITIVE, "pos": Label.POSITIVE, "1": Label.POSITIVE,
          "negative": Label.NEGATIVE, "neg": Label.NEGATIVE, "0": Label.NEGATIVE,
          "neutral": Label.NEUTRAL}  # fmt: skip


UNTRAINED = BayesModel(prior=0.0, unseen=0.0, weights={}, stopwords=frozenset(), source="none")


DevOption = Annotated[
    list[str] | None,
    typer.Option("--dev", help="Labelled file to tune the threshold on (repeatable)."),
]
TargetPrecisionOption = Annotated[
    float, typer.Option(help="Negative precision the threshold must reach.")
]
StripCodesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--strip-codes",
        help="File (name without extension) whose labels follow its Weibo emoji codes "
        "such as [泪]: its codes are left out of training (repeatable).",
    ),
]
BalanceOption = Annotated[
    bool, typer.Option(help="Weigh every training file the same, not by its size.")
]


@app.command("train")
def train_command(
    sources: Annotated[
        list[str], typer.Argument(help="Labelled CSV/JSONL files with `text` and `label`.")
    ],
    model_file: Annotated[Path, typer.Option("--out", "-o", help="Where to write the model file.")],
    dev: DevOption = None,
    held_out: Annotated[float, typer.Option(help="Fraction of each file held out.")] = 0.1,
    seed: Annotated[int, typer.Option(help="Seed of the held-out split.")] = 7,
    regularisation: Annotated[float, typer.Option(help="Inverse L2 strength (C).")] = 1.0,
    min_count: Annotated[int, typer.Option(help="Ignore tokens seen in fewer texts.")] = 2,
    target_precision: TargetPrecisionOption = 0.85,
    strip_codes: StripCodesOption = None,
    balance_sources: BalanceOption = False,
    config: ConfigOption = None,
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """Train a sentiment model on labelled comments (label: positive, negative or neutral),
    print its held-out evaluation and write a model file the config can point at. With
    neutral rows the model has three classes; Weibo's {%…%} markup is always dropped."""
    if not 0 < held_out < 0.5:
        fail("--held-out must be between 0 and 0.5")
    with user_errors():
        check_options(regularisation, min_count, target_precision)
        check_encoding(encoding)
    if importlib.util.find_spec("sklearn") is None:
        fail("guanchao train needs scikit-learn: pip install 'guanchao[train]'")
    coded = frozenset(strip_codes or [])
    with user_errors():
        scorer = build_scorer(load_settings(config), UNTRAINED)
        examples, tuning = _labelled(sources, dev or [], scorer, encoding, coded)
        try:
            result = train(
                examples, tuning, scorer, held_out=held_out, seed=seed,
                regularisation=regularisation, min_count=min_count,
                target_precision=target_precision, source=str(model_file),
                balance_sources=balance_sources,
            )  # fmt: skip
        except TrainingError:
            raise
        except ValueError as error:  # scikit-learn's word for too little data
            raise TrainingError(f"cannot train on this data: {error}") from None
    _write_model(result, model_file, {
        "trained_on": sources, "tuned_on": dev or [], "strip_codes": sorted(coded),
        "balance_sources": balance_sources,
    })  # fmt: skip


def _labelled(
    sources: list[str], dev: list[str], scorer: Scorer, encoding: str, coded: frozenset[str]
) -> tuple[list[Example], list[Example]]:
    """The training and the tuning examples, with a count of the rows skipped and why."""
    skipped: Counter[str] = Counter()
    examples = [
        e for source in sources for e in _examples(source, scorer, encoding, skipped, coded)
    ]
    tuning = [e for source in dev for e in _examples(source, scorer, encoding, skipped)]
    _report_skipped(skipped, len(examples) + len(tuning), "read")
    return examples, tuning


def _write_model(result: TrainingResult, model_file: Path, options: dict[str, Any]) -> None:
    """Save the model with what it was trained on and how it measured, and print that."""
    metadata = {
        **options,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "negative_confidence": result.negative_confidence,
        "held_out": {name: vars(metrics) for name, metrics in result.held_out.items()},
        "dev": {name: vars(metrics) for name, metrics in result.dev.items()},
    }
    try:
        save_model(result.model, model_file, metadata)
    except OSError as error:
        fail(f"cannot write {model_file}: {error.strerror}")
    _print_metrics("held out", result.held_out)
    _print_metrics("dev", result.dev)
    classes = "three classes" if result.model.neutral else "positive/negative only"
    out.print(
        f"wrote {model_file} ({len(result.model.weights)} features, {classes}); "
        f"in the config:\nsentiment:\n  model: {model_file}\n"
        f"  negative_confidence: {result.negative_confidence}"
    )


def _examples(
    source: str,
    scorer: Scorer,
    encoding: str,
    skipped: Counter[str],
    strip_codes: frozenset[str] = frozenset(),
) -> list[Example]:
    """Labelled rows as examples named after their file; `strip_codes` names the files
    whose Weibo codes are left out (their labels were made from them)."""
    examples = []
    strip = Path(source).stem in strip_codes
    with open_source(source) as stream:
        for row in read_rows(stream, source, "auto", ("text", "label"), encoding):
            label = LABELS.get(str(row.fields.get("label", "")).strip().lower())
            text = row.fields.get("text")
            if row.error or label is None or not isinstance(text, str) or not text.strip():
                skipped[row.error or ("unknown label" if label is None else "no text")] += 1
                continue
            tokens = scorer.tokens(clean_text(text))
            found = without_codes(tokens) if strip else tuple(tokens)
            if found:
                examples.append(Example(found, label, Path(source).stem))
    return examples


def _print_metrics(title: str, metrics: dict[str, Metrics]) -> None:
    if not metrics:
        return
    table = Table(title=title)
    columns = ("data", "items", "accuracy", "macro-F1", "neg precision", "neg recall",
               "neutral→neg", "ECE")  # fmt: skip
    for column in columns:
        table.add_column(column)
    for name, result in metrics.items():
        table.add_row(
            name, str(result.items), f"{result.accuracy:.3f}", f"{result.macro_f1:.3f}",
            f"{result.negative_precision:.3f}", f"{result.negative_recall:.3f}",
            f"{result.neutral_as_negative:.3f}", f"{result.calibration_error:.3f}",
        )  # fmt: skip
    out.print(table)


BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        envvar="GUANCHAO_BROKER",
        help="Kafka URL, e.g. kafka://127.0.0.1:9092 (default: start an embedded broker).",
    ),
]


@app.command()
def worker(
    broker: BrokerOption = None,
    web_port: Annotated[
        int | None, typer.Option(help="Port of /health and /counts (default from config).")
    ] = None,
    config: ConfigOption = None,
    loglevel: Annotated[str, typer.Option(help="crit, error, warn, info or debug.")] = "warn",
    public_url: Annotated[
        str | None,
        typer.Option(
            envvar="GUANCHAO_PUBLIC_URL",
            help="Where people reach this worker: the links in alerts (default: the config's "
            "alerts.public_url).",
        ),
    ] = None,
    clock_ahead: Annotated[
        float,
        typer.Option(
            hidden=True,
            help="Seconds the worker's clock runs ahead of the machine's: tests see a "
            "reminder fall due without waiting for it. Never in production.",
        ),
    ] = 0.0,
) -> None:
    """Run a stream worker: comments in, scored records, counts and incidents out."""
    level = LOG_LEVELS.get(loglevel.strip().lower())
    if level is None:
        fail(f"--loglevel must be crit, error, warn, info or debug, not {loglevel!r}")
    loglevel = level
    with user_errors():
        settings = load_settings(config)
    if public_url is not None:
        try:
            alerts = AlertSettings.model_validate({**settings.alerts.model_dump(),
                                                   "public_url": public_url})  # fmt: skip
        except ValueError:
            fail(f"--public-url {public_url!r} is not an http:// or https:// address")
        settings = settings.model_copy(update={"alerts": alerts})
    _check_port_free(
        settings.stream.web_host, settings.stream.web_port if web_port is None else web_port
    )
    ahead = timedelta(seconds=clock_ahead)
    clock = lambda: datetime.now(UTC) + ahead  # noqa: E731
    if broker:
        _run_worker(settings, broker, web_port, loglevel, clock)
        return
    with _embedded() as url:
        err.print(f"embedded broker at {url} (set GUANCHAO_BROKER to share it)")
        _run_worker(settings, url, web_port, loglevel, clock)


LOG_LEVELS = {"crit": "critical", "critical": "critical", "error": "error", "warn": "warning",
              "warning": "warning", "info": "info", "debug": "debug"}  # fmt: skip


def _check_port_free(host: str, port: int) -> None:
    """The web port, bound and let go: taken, it is one line now rather than a traceback
    from the web server once the worker has joined its group."""
    if not 1 <= port <= 65535:
        fail(f"--web-port must be between 1 and 65535, not {port}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            probe.bind((host, port))
    except OSError as error:
        fail(f"cannot serve /health on {host}:{port}: {error.strerror or error}")


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Loopback port (0: a free one).")] = 9092,
) -> None:
    """Run the embedded broker alone, so that several workers and producers can share it."""
    with _embedded(port or None) as url:
        out.print(f"broker listening at {url}; Ctrl-C stops it")
        with suppress(KeyboardInterrupt):
            signal.pause()


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="JSONL or CSV of comments, or - for stdin.")],
    broker: BrokerOption = None,
    rate: Annotated[
        float | None, typer.Option(help="Comments per second (default: as fast as possible).")
    ] = None,
    rewrite_time: Annotated[
        bool, typer.Option(help="Shift created_at so the export replays as if happening now.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(help="Seconds a comment may wait for the broker before it counts as failed."),
    ] = DELIVERY_TIMEOUT_SECONDS,
    config: ConfigOption = None,
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """Produce comments into the comments topic, with a progress bar on a terminal.

    Exit 0 when the broker acknowledged every comment; 2, with the count and reasons of
    those it did not, otherwise."""
    if broker is None:
        fail("--broker (or GUANCHAO_BROKER) is required: where should the comments go?")
    if rate is not None and not (0 < rate < math.inf):
        fail("--rate must be a positive number")
    if not 1 <= timeout <= 86_400:
        fail("--timeout must be between 1 and 86400 seconds")
    with user_errors():
        check_encoding(encoding)  # before the broker is asked anything
        settings = load_settings(config)
        delivery = _ingest(source, broker, settings, rate, rewrite_time, encoding, timeout)
    report = delivery.describe(settings.stream.topics.comments)
    if delivery.failed:
        fail(report)
    err.print(report)


def _ingest(
    source: str, broker: str, settings: Settings, rate: float | None, rewrite: bool,
    encoding: str, timeout: float = DELIVERY_TIMEOUT_SECONDS,
) -> Delivery:  # fmt: skip
    with open_source(source) as stream, _progress(source) as advance:
        rows: Iterable[dict[str, Any] | bytes] = (
            row.fields or row.raw.strip()
            for row in read_rows(stream, source, "auto", REQUIRED_FIELDS, encoding, advance)
        )
        shift: Callable[[dict[str, Any]], None] = keep_time
        if rewrite:  # the newest comment must be known first: read the export into memory
            rows = list(rows)
            shift = time_shifter(rows, datetime.now(settings.zone), settings.zone)
        return produce_comments(broker, settings, rows, shift, Pacer(rate), timeout)


@contextmanager
def _embedded(port: int | None = None) -> Iterator[str]:
    try:
        with embedded_broker(port) as url:
            yield url
    except BrokerError as error:
        fail(str(error))


def _run_worker(
    settings: Settings,
    broker: str,
    web_port: int | None,
    loglevel: str,
    clock: Callable[[], datetime],
) -> None:
    from monitor.redaction import install_redaction
    from monitor.stream.app import Worker, build_app
    from monitor.stream.lograte import limit_repeats

    install_redaction(settings)  # no secret in any log line, whatever mode configures later
    limit_repeats()  # a broker that is gone makes aiokafka log ~75 errors a second
    with user_errors():
        try:
            ensure_topics(broker, settings)
        except Exception as error:
            raise InputError(f"cannot reach the broker at {broker}: {error}") from None
    with tempfile.TemporaryDirectory(prefix="guanchao-") as datadir:
        with user_errors():  # a playbook, model or sink variable that cannot be used
            stream_app = build_app(settings, broker, Path(datadir), web_port, clock)
        # stdout stays stdout: the console sink's pages are not log warnings
        worker = Worker(stream_app, settings.stream.shutdown_timeout_seconds,
                        loglevel=loglevel, quiet=True, redirect_stdouts=False)  # fmt: skip
        worker.execute_from_commandline()


@app.command()
def demo(
    rate: Annotated[float, typer.Option(help="Comments per second in the replay.")] = 60.0,
    config: ConfigOption = None,
    source: Annotated[
        str, typer.Option(help="Export to replay (default: the bundled sample).")
    ] = str(SAMPLE_EXPORT),
    keep: Annotated[
        bool, typer.Option(help="Keep the worker running after the replay, for the console.")
    ] = True,
) -> None:
    """The live demo: an embedded broker, a worker, and a paced replay of the sample stream
    (an ordinary afternoon, then a logistics-complaint burst); incidents print as they open,
    and the links in the alerts open the console until Ctrl-C."""
    with user_errors():
        settings = load_settings(config)
    env, made_token = _demo_env(settings)
    with _embedded() as url:
        err.print(f"embedded broker at {url}; starting a worker …")
        web_port = free_port()
        console = f"http://127.0.0.1:{web_port}"
        worker_process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "worker", "--broker", url,
             "--web-port", str(web_port), "--public-url", console,
             *(["--config", str(config)] if config else [])], env=env,
        )  # fmt: skip
        done = threading.Event()
        printer = threading.Thread(
            target=_print_incidents, args=(url, settings.stream.topics.incidents, done), daemon=True
        )
        try:
            with user_errors():
                ensure_topics(url, settings)
            printer.start()
            if not wait_until_ready(web_port, worker_process, timeout=60):
                fail("the worker did not become ready within 60 s")
            err.print(f"replaying {source} at {rate:g} comments/s, as if happening now")
            with user_errors():
                delivery = _ingest(source, url, settings, rate, True, "utf-8-sig")
            if delivery.failed:
                err.print(delivery.describe(settings.stream.topics.comments))
            time.sleep(DEMO_SETTLE_SECONDS)
            if keep:
                _wait_for_people(console, made_token, settings.alerts.token_env)
        finally:
            done.set()
            worker_process.terminate()
            worker_process.wait(timeout=30)
            printer.join(timeout=5)


DEMO_SETTLE_SECONDS = 5.0


def _demo_env(settings: Settings) -> tuple[dict[str, str], str]:
    """The worker's environment: a link secret and an API token made for this demo where
    none is set, so that the links in its alerts open the console; the token it made."""
    env = dict(os.environ)
    env.setdefault(settings.alerts.link_secret_env, secrets.token_urlsafe(32))
    made = "" if env.get(settings.alerts.token_env) else secrets.token_urlsafe(12)
    if made:
        env[settings.alerts.token_env] = made
    return env, made


def _wait_for_people(console: str, made_token: str, token_env: str) -> None:
    sign_in = f"the token made for this demo: {made_token}" if made_token else f"${token_env}"
    err.print(f"the worker keeps running: open a 确认 link above, or the board at "
              f"{console}/console/ (sign in with {sign_in}); Ctrl-C to stop")  # fmt: skip
    with suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def wait_until_ready(web_port: int, process: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once the worker's /health says it is ready (it joined its group, recovered
    its tables and counted again)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/health", timeout=1) as r:
                if json.load(r).get("ready"):
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def _print_incidents(broker: str, topic: str, done: threading.Event) -> None:
    for message in follow_topic(broker, topic, done.is_set):
        event = json.loads(message.value)
        if "incident" not in event:
            continue  # the playbook's own events; its alerts print through the console sink
        colour = {"opened": "red", "level_changed": "magenta", "cleared": "green"}.get(
            event["event"], "yellow"
        )
        out.print(f"[{colour}]{escape(describe(event))}[/{colour}]")


app.add_typer(incidents_app, name="incidents")
app.add_typer(silences_app, name="silences")
app.add_typer(drill_app, name="drill")
app.add_typer(qa_app, name="qa")
