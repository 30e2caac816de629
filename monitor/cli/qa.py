"""`guanchao qa …`: customer-service chat QA (客服质检) over an exported file, through the
same core the stream will use (`monitor.qa`).

Input: JSONL, one conversation per line (`id`, `channel`, `agent_id`, `turns`, …), or CSV
(or JSONL) with one turn per row (`id`, `role`, `text`, `time` and the conversation's
columns), grouped by `id`. A file that cannot be read ends with one line on stderr and exit
code 2; a row or conversation that breaks the contract is skipped and counted.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.cli.inputs import STDIN, Format, open_source, read_rows
from monitor.cli.terminal import ConfigOption, err, fail, out, user_errors
from monitor.detect.records import RecordError
from monitor.qa.conversations import Conversation, group_turn_rows, parse_conversation
from monitor.qa.report import parse_week, render_html, render_markdown, weekly_report
from monitor.qa.scoring import QAResult, build_checker, kind_name
from monitor.settings import Settings, load_settings

CSV_COLUMNS = ("id", "role", "text", "time")

qa_app = typer.Typer(
    help="Customer-service chat QA (客服质检): score a 5 % sample of conversations, weekly "
    "per-agent report.",
    no_args_is_help=True,
)

SourceArgument = Annotated[
    str, typer.Argument(help="Exported conversations (JSONL or CSV), or - for stdin.")
]
AllOption = Annotated[
    bool, typer.Option("--all", help="Score every conversation, not only the sample.")
]
FormatOption = Annotated[str, typer.Option("--input-format", help="auto, csv or jsonl.")]
EncodingOption = Annotated[
    str, typer.Option("--encoding", help="Text encoding of the input, e.g. gbk for Excel.")
]


def _format(value: str) -> Format:
    if value not in ("auto", "csv", "jsonl"):
        fail(f"--input-format must be auto, csv or jsonl, not {value!r}")
    return value  # type: ignore[return-value]  # checked just above


def read_conversations(
    source: str,
    fmt: Format,
    encoding: str,
    settings: Settings,
    now: datetime,
    skipped: Counter[str],
) -> Iterator[Conversation]:
    """Conversations of the file; what breaks the contract is counted in `skipped` by its
    reason class. Rows that are turns (no `turns`, a `role`) are grouped by `id` first."""
    turn_rows: list[dict[str, Any]] = []
    with open_source(source) as stream:
        for row in read_rows(stream, source, fmt, CSV_COLUMNS, encoding):
            if row.error:
                skipped[row.error] += 1
            elif "turns" not in row.fields and "role" in row.fields:
                turn_rows.append(row.fields)
            else:
                conversation = _parsed(row.fields, settings, now, skipped)
                if conversation is not None:
                    yield conversation
    for record in group_turn_rows(turn_rows):
        conversation = _parsed(record, settings, now, skipped)
        if conversation is not None:
            yield conversation


def _parsed(
    fields: dict[str, Any], settings: Settings, now: datetime, skipped: Counter[str]
) -> Conversation | None:
    try:
        return parse_conversation(fields, settings.limits, settings.zone, now)
    except RecordError as error:
        skipped[error.reason] += 1
    except Exception:  # as in the stream: one record never stops the run
        skipped["unprocessable"] += 1
    return None


def _summary(seen: int, scored: int, failed: int, skipped: Counter[str], sample: bool) -> None:
    which = "sampled and scored" if sample else "scored"
    line = f"{seen} conversation(s), {scored} {which}, {failed} below the pass mark"
    if skipped:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in skipped.most_common())
        line += f"; skipped {skipped.total()} ({reasons})"
    err.print(line, markup=False)
    if not seen and skipped:
        fail("no usable conversations in the input")


def _results(
    source: str,
    fmt: Format,
    encoding: str,
    settings: Settings,
    every: bool,
    skipped: Counter[str],
) -> tuple[int, list[QAResult]]:
    checker = build_checker(settings)
    now = datetime.now(UTC)
    seen = 0
    results = []
    for conversation in read_conversations(source, fmt, encoding, settings, now, skipped):
        seen += 1
        if every or checker.sampled(conversation):
            results.append(checker.score(conversation))
    return seen, results


def _printable(text: str) -> str:
    """One line, no terminal control characters (an id could carry an escape sequence)."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _print_result(result: QAResult) -> None:
    verdict = "PASS" if result.passed else "FAIL"
    shop = f" shop={_printable(result.shop)}" if result.shop else ""
    out.print(
        f"{verdict} {result.score:3d}/100  {_printable(result.channel)}:"
        f"{_printable(result.conversation_id)}{shop} agent={_printable(result.agent_id)}",
        markup=False,
    )
    for deduction in result.deductions:
        evidence = f"「{_printable(deduction.evidence)}」" if deduction.evidence else ""
        out.print(
            f"    turn #{deduction.turn + 1}  -{deduction.points:<3d}{deduction.kind} "
            f"({kind_name(deduction.kind)}): {_printable(deduction.why)} {evidence}",
            markup=False,
        )


@qa_app.command("score")
def score_command(
    source: SourceArgument = STDIN,
    every: AllOption = False,
    output: Annotated[str, typer.Option("--format", help="text or json (JSON lines).")] = "text",
    config: ConfigOption = None,
    input_format: FormatOption = "auto",
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """Score the sampled conversations (all of them with --all): 0–100, pass or fail, and
    each deduction with its kind, the turn it came from and the evidence, masked."""
    if output not in ("text", "json"):
        fail(f"--format must be text or json, not {output!r}")
    fmt = _format(input_format)
    skipped: Counter[str] = Counter()
    with user_errors():
        settings = load_settings(config)
        seen, results = _results(source, fmt, encoding, settings, every, skipped)
    for result in results:
        if output == "json":
            line = json.dumps(result.as_dict(), ensure_ascii=False, allow_nan=False)
            sys.stdout.write(line + "\n")
        else:
            _print_result(result)
    failed = sum(not result.passed for result in results)
    _summary(seen, len(results), failed, skipped, sample=not every)
    if seen and not results:
        err.print(f"none is in the {settings.qa.sample_rate:.0%} sample; --all scores every one")


@qa_app.command("report")
def report_command(
    source: SourceArgument,
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W48.")],
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Also write the report as HTML here.")
    ] = None,
    every: AllOption = False,
    config: ConfigOption = None,
    input_format: FormatOption = "auto",
    encoding: EncodingOption = "utf-8-sig",
) -> None:
    """The weekly per-agent report: score distribution, most common deductions, agents
    below the pass mark, failed conversations. Markdown on stdout; --html writes a
    self-contained page (the chart inline as SVG)."""
    try:
        parse_week(week)
    except ValueError as error:
        fail(str(error))
    fmt = _format(input_format)
    skipped: Counter[str] = Counter()
    with user_errors():
        settings = load_settings(config)
        seen, results = _results(source, fmt, encoding, settings, every, skipped)
    report = weekly_report(results, week, settings.zone, settings.qa.pass_mark)
    sys.stdout.write(render_markdown(report))
    if html_path is not None:
        try:
            html_path.write_text(render_html(report), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {html_path}: {error.strerror or error}")
        err.print(f"report written to {html_path}", markup=False)
    failed = sum(not result.passed for result in results)
    _summary(seen, len(results), failed, skipped, sample=not every)
