"""`guanchao incidents …` and `guanchao silences …`: the on-call person's verbs, calling the
workers' incident API (`monitor/web/api.py`).

With several workers, give every worker's URL (comma-separated): each owns the incidents
of its brands, so lists are merged and an action goes to the worker that has the incident.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.table import Table

from monitor.casework.drill import burst, drill_timings
from monitor.cli.terminal import ConfigOption, err, fail, out, user_errors
from monitor.detect.reasons import joined
from monitor.reports.review import review_html, review_markdown
from monitor.settings import drill_name, load_settings
from monitor.stream.ingest import produce_comments

incidents_app = typer.Typer(help="List, inspect and act on incidents; write reviews.")
silences_app = typer.Typer(help="Mute alerts by brand and level for a while.")

ApiOption = Annotated[
    str,
    typer.Option(
        "--api",
        envvar="GUANCHAO_API",
        help="Worker URL(s), comma-separated.",
    ),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token", envvar="GUANCHAO_API_TOKEN", help="API token (better: the variable).",
        show_default=False,
    ),
]  # fmt: skip
WhoOption = Annotated[str, typer.Option("--who", help="Your name, for the timeline.")]
NoteOption = Annotated[str, typer.Option("--note", help="What was done, for the timeline.")]
DEFAULT_API = "http://127.0.0.1:6066"


class Api:
    def __init__(self, urls: str, token: str) -> None:
        self.urls = [url.strip().rstrip("/") for url in urls.split(",") if url.strip()]
        if not self.urls:
            fail("--api names no worker")
        if not token:
            fail("set GUANCHAO_API_TOKEN (the token the workers were started with)")
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The first worker's answer that is not 404 (the incident lives on one worker)."""
        answer: httpx.Response | None = None
        for url in self.urls:
            answer = self._send(method, url + path, body)
            if answer.status_code != 404:
                break
        assert answer is not None
        return _checked(answer)

    def each(self, path: str) -> Iterator[Any]:
        for url in self.urls:
            yield _checked(self._send("GET", url + path, None))

    def _send(self, method: str, url: str, body: dict[str, Any] | None) -> httpx.Response:
        try:
            return httpx.request(method, url, json=body, headers=self.headers, timeout=10)
        except httpx.HTTPError as error:
            fail(f"cannot reach the worker at {url}: {error}")


def _checked(response: httpx.Response) -> Any:
    try:
        document = response.json()
    except ValueError:
        fail(f"{response.url} answered HTTP {response.status_code}, not JSON")
    if response.status_code >= 400:
        fail(f"HTTP {response.status_code}: {document.get('error', document)}")
    return document


def _path(case_id: str) -> str:
    return f"/incidents/{quote(case_id, safe='')}"


@incidents_app.command("list")
def list_incidents(
    api: ApiOption = DEFAULT_API,
    token: TokenOption = "",
    state: Annotated[str | None, typer.Option(help="open, acknowledged, statement, …")] = None,
    brand: Annotated[str | None, typer.Option(help="Only this brand.")] = None,
    level: Annotated[str | None, typer.Option(help="watch, warning or crisis.")] = None,
) -> None:
    """Incidents on every worker, newest first."""
    filters = "&".join(f"{k}={quote(v)}" for k, v in (("state", state), ("brand", brand),
                                                      ("level", level)) if v)  # fmt: skip
    client = Api(api, token)
    found = [i for answer in client.each(f"/incidents?{filters}") for i in answer["incidents"]]
    found.sort(key=lambda incident: incident["detected_at"], reverse=True)
    table = Table("id", "brand", "level", "state", "detected", "next deadline")
    for incident in found:
        pending = [d for d in incident["deadlines"] if not d["met"]]
        upcoming = f"{pending[0]['deadline']} {pending[0]['due'][11:16]}" if pending else "—"
        brand_name = incident["brand"] + (" (drill)" if incident["drill"] else "")
        table.add_row(incident["id"], brand_name, incident["level"], incident["state"],
                      incident["detected_at"][:16], upcoming)  # fmt: skip
    out.print(table)
    err.print(f"{len(found)} incident(s)")


@incidents_app.command()
def show(case_id: str, api: ApiOption = DEFAULT_API, token: TokenOption = "") -> None:
    """One incident: why, deadlines, timeline and where its alerts went."""
    case = Api(api, token).call("GET", _path(case_id))
    out.print(f"[bold]{case['brand']}[/bold] · {case['cause']} · {case['level']} · {case['state']}")
    out.print(joined(case["reasons"], "en"), markup=False)
    for item in case["deadlines"]:
        out.print(f"  {item['deadline']:10} due {item['due']}  met {item['met'] or '—'}")
    table = Table("when", "what", "who", "note")
    for entry in case["timeline"]:
        table.add_row(entry["at"][:19], entry["kind"], entry["who"], entry["note"])
    out.print(table)
    sent = Table("alert", "sink", "state", "attempts", "error")
    for delivery in case["deliveries"]:
        why = delivery["error"] or delivery["muted_by"]
        sent.add_row(delivery["kind"], delivery["sink"], delivery["state"],
                     str(delivery["attempts"]), why)  # fmt: skip
    out.print(sent)


ACTIONS = {
    "ack": "Acknowledge: the first response is given (meets the 30-minute deadline).",
    "statement": "The public statement is published (meets the 2-hour deadline).",
    "resolve": "The solution is delivered (meets the 24-hour deadline); the incident closes.",
    "false-alarm": "Close as a false alarm: every reminder and page stops.",
}


def _action_command(action: str, help_text: str) -> None:
    """One verb per playbook action, all calling POST /incidents/{id}/{action}."""

    def command(
        case_id: str, who: WhoOption, note: NoteOption = "", api: ApiOption = DEFAULT_API,
        token: TokenOption = "",
    ) -> None:  # fmt: skip
        body = {"who": who, "note": note}
        case = Api(api, token).call("POST", f"{_path(case_id)}/{action}", body)
        out.print(f"{case['id']}: {case['state']}")

    incidents_app.command(action, help=help_text)(command)


for _action, _help in ACTIONS.items():
    _action_command(_action, _help)


@incidents_app.command()
def report(
    case_id: str,
    api: ApiOption = DEFAULT_API,
    token: TokenOption = "",
    html: Annotated[Path | None, typer.Option(help="Also write an HTML page here.")] = None,
) -> None:
    """The post-incident review, as Markdown on stdout (and HTML with --html).

    The timeline, each deadline met or missed and by how much, negatives over time, the
    keywords and top comments, and the sections to fill in (问题点, 改进清单)."""
    case = Api(api, token).call("GET", _path(case_id))
    now = datetime.now(UTC)
    out.print(review_markdown(case, now), markup=False)
    if html:
        try:
            html.write_text(review_html(case, now), encoding="utf-8")
        except OSError as error:
            fail(f"cannot write {html}: {error.strerror}")
        err.print(f"review written to {html}")


@silences_app.command("list")
def list_silences(api: ApiOption = DEFAULT_API, token: TokenOption = "") -> None:
    answer = Api(api, token).call("GET", "/silences")
    table = Table("id", "brand", "level", "until", "by", "comment", "active")
    for s in answer["silences"]:
        table.add_row(s["id"], s["brand"], s["level"], s["ends_at"][:16], s["created_by"],
                      s["comment"], "yes" if s["active"] else "no")  # fmt: skip
    out.print(table)


@silences_app.command("add")
def add_silence(
    who: WhoOption,
    minutes: Annotated[int, typer.Option(help="How long the silence lasts.")],
    brand: Annotated[str, typer.Option(help="A brand, or * for all.")] = "*",
    level: Annotated[str, typer.Option(help="watch, warning, crisis, or * for all.")] = "*",
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    api: ApiOption = DEFAULT_API,
    token: TokenOption = "",
) -> None:
    body = {"who": who, "minutes": minutes, "brand": brand, "level": level, "comment": comment}
    silence = Api(api, token).call("POST", "/silences", body)
    out.print(f"silence {silence['id']} until {silence['ends_at']}")


@silences_app.command("expire")
def expire_silence(silence_id: str, api: ApiOption = DEFAULT_API, token: TokenOption = "") -> None:
    silence = Api(api, token).call("DELETE", f"/silences/{quote(silence_id, safe='')}")
    out.print(f"silence {silence['id']} ended at {silence['ends_at']}")


drill_app = typer.Typer(
    help="The 「黑色2小时」 exercise: a labelled complaint burst through the real pipeline.",
    invoke_without_command=True,
)


@drill_app.callback()
def drill(
    ctx: typer.Context,
    brand: Annotated[str | None, typer.Option(help="The brand whose response is drilled.")] = None,
    count: Annotated[
        int, typer.Option(help="Complaints in the burst (default: threshold + 5).")
    ] = 0,
    broker: Annotated[str | None, typer.Option(envvar="GUANCHAO_BROKER", help="Kafka URL.")] = None,
    config: ConfigOption = None,
    api: ApiOption = DEFAULT_API,
    token: TokenOption = "",
    wait: Annotated[int, typer.Option(help="Seconds to wait for detection and the page.")] = 120,
) -> None:
    """Send the burst, then wait for the drill incident and its first page, and say how
    long each took. Acknowledge it as you would a real one; `drill report` shows the rest."""
    if ctx.invoked_subcommand is not None:
        return
    if not brand or not broker:
        fail("--brand and --broker (or GUANCHAO_BROKER) are required")
    with user_errors():
        settings = load_settings(config)
        brand = settings.brand_names.get(brand.strip().casefold(), "")
        if not brand:
            known = ", ".join(b.name for b in settings.brands) or "none"
            fail(f"--brand must be a brand of the config (those listed: {known}); "
                 "a name it does not list is never paged")  # fmt: skip
        client = Api(api, token)
        size = count or settings.threshold_for(brand) + 5
        started = datetime.now(UTC)
        delivery = produce_comments(
            broker, settings, burst(brand, size, uuid.uuid4().hex[:8], started)
        )
    if delivery.failed:
        fail(f"drill: {delivery.describe(settings.stream.topics.comments)}")
    err.print(f"drill: {size} complaints about {brand} sent at {started:%H:%M:%S}")
    case = _wait_for(lambda: _drill_case(client, brand, started), wait, "the drill incident")
    detected = datetime.fromisoformat(case["detected_at"])
    out.print(f"detected {case['id']} after {(detected - started).total_seconds():.1f} s")
    paged = _wait_for(
        lambda: drill_timings([client.call("GET", _path(case["id"]))])[0]["to_page"],
        wait, "the first page",
    )  # fmt: skip
    out.print(f"paged {paged:.1f} s after detection; acknowledge with:")
    out.print(f"  guanchao incidents ack '{case['id']}' --who <you>", markup=False)


@drill_app.command("report")
def drill_report(api: ApiOption = DEFAULT_API, token: TokenOption = "") -> None:
    """Every drill incident: time from detection to the page and to the acknowledgement."""
    client = Api(api, token)
    listed = [i for answer in client.each("/incidents") for i in answer["incidents"] if i["drill"]]
    table = Table("incident", "detected", "to page (s)", "to ack (s)", "state")
    for row in drill_timings(client.call("GET", _path(i["id"])) for i in listed):
        table.add_row(row["id"], row["detected_at"][:19], _seconds(row["to_page"]),
                      _seconds(row["to_ack"]), row["state"])  # fmt: skip
    out.print(table)


def _drill_case(client: Api, brand: str, since: datetime) -> dict[str, Any] | None:
    drills = [
        i
        for answer in client.each(f"/incidents?brand={quote(drill_name(brand))}")
        for i in answer["incidents"]
        if datetime.fromisoformat(i["detected_at"]) >= since
    ]
    return min(drills, key=lambda i: i["detected_at"]) if drills else None


def _wait_for(probe: Callable[[], Any], seconds: int, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.5)
    fail(f"no {what} within {seconds} s: is a worker running with this config?")


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"
