"""The weekly QA report per agent (`guanchao qa report --week 2026-W48`): Markdown for the
terminal and chat, and one self-contained HTML page (inline CSS, the score distribution as
inline SVG; nothing fetched).

Pure: scored results in (already masked), text out. A conversation belongs to the ISO week
in which it started, in the configured time zone.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.qa.scoring import QAResult, kind_name

BINS = tuple((low, low + 9 if low < 90 else 100) for low in range(0, 100, 10))
_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)
CHART_WIDTH = 640
CHART_HEIGHT = 200
TOP_DEDUCTIONS = 10
FAILED_LISTED = 50


def parse_week(value: str) -> date:
    """The Monday of an ISO week such as 2026-W48; ValueError for anything else."""
    match = _WEEK.match(value.strip())
    if not match:
        raise ValueError(f"--week must be an ISO week such as 2026-W48, not {value!r}")
    year, week = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {week}") from None


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent_id: str
    conversations: int
    mean: float
    lowest: int
    failed: int
    top_deductions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    week: str
    start: datetime
    end: datetime
    pass_mark: int
    results: tuple[QAResult, ...]
    agents: tuple[AgentRow, ...]  # lowest mean first
    distribution: tuple[int, ...]  # conversations per score bin of BINS
    deductions: tuple[tuple[str, int], ...]  # kind, count: most common first

    @property
    def failed(self) -> tuple[QAResult, ...]:
        return tuple(sorted((r for r in self.results if not r.passed), key=lambda r: r.score))

    @property
    def agents_below(self) -> tuple[AgentRow, ...]:
        return tuple(agent for agent in self.agents if agent.mean < self.pass_mark)


def weekly_report(
    results: Iterable[QAResult], week: str, zone: ZoneInfo, pass_mark: int
) -> WeeklyReport:
    monday = parse_week(week)
    start = datetime.combine(monday, time(), zone)
    end = datetime.combine(monday + timedelta(days=7), time(), zone)
    chosen = tuple(r for r in results if start <= r.started_at.astimezone(zone) < end)
    by_agent: dict[str, list[QAResult]] = {}
    for result in chosen:
        by_agent.setdefault(result.agent_id, []).append(result)
    agents = [_agent_row(agent, rows) for agent, rows in by_agent.items()]
    agents.sort(key=lambda row: (row.mean, row.agent_id))
    distribution = [0] * len(BINS)
    for result in chosen:
        distribution[min(result.score // 10, len(BINS) - 1)] += 1
    kinds = Counter(d.kind for result in chosen for d in result.deductions)
    return WeeklyReport(
        week=f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}",
        start=start,
        end=end,
        pass_mark=pass_mark,
        results=chosen,
        agents=tuple(agents),
        distribution=tuple(distribution),
        deductions=tuple(sorted(kinds.items(), key=lambda item: (-item[1], item[0]))),
    )


def _agent_row(agent: str, rows: Sequence[QAResult]) -> AgentRow:
    kinds = Counter(d.kind for result in rows for d in result.deductions)
    return AgentRow(
        agent_id=agent,
        conversations=len(rows),
        mean=round(sum(r.score for r in rows) / len(rows), 1),
        lowest=min(r.score for r in rows),
        failed=sum(not r.passed for r in rows),
        top_deductions=tuple(sorted(kinds.items(), key=lambda item: (-item[1], item[0]))[:3]),
    )


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, no column breaks or code spans."""
    return " ".join(text.split()).replace("|", "\\|").replace("`", "'")


def _kinds(pairs: Iterable[tuple[str, int]]) -> str:
    return "、".join(f"{kind_name(kind)} {count}" for kind, count in pairs) or "—"


def _reasons(result: QAResult) -> str:
    kinds = Counter(d.kind for d in result.deductions)
    return "、".join(kind_name(kind) + (f"×{n}" if n > 1 else "") for kind, n in kinds.items())


def render_markdown(report: WeeklyReport) -> str:
    total = len(report.results)
    failed = report.failed
    lines = [
        f"# 客服质检周报 {report.week}",
        "",
        f"{report.start:%Y-%m-%d} – {(report.end - timedelta(days=1)):%Y-%m-%d}: "
        f"{total} 个抽检会话，{len(failed)} 个低于合格线 {report.pass_mark} 分。",
        "",
        "## 分数分布",
        "",
        "| 分数 | 会话 |",
        "|---|---|",
        *(
            f"| {low}–{high} | {count} |"
            for (low, high), count in zip(BINS, report.distribution, strict=True)
        ),
        "",
        "## 客服",
        "",
        "| 客服 | 会话 | 平均分 | 最低分 | 不合格 | 主要扣分 |",
        "|---|---|---|---|---|---|",
        *(
            f"| {_cell(a.agent_id)} | {a.conversations} | {a.mean:.1f} | {a.lowest} | {a.failed} "
            f"| {_kinds(a.top_deductions)} |"
            for a in report.agents
        ),
        "",
        "## 最常见的扣分",
        "",
        "| 扣分项 | 次数 |",
        "|---|---|",
        *(
            f"| {kind_name(kind)} (`{kind}`) | {count} |"
            for kind, count in report.deductions[:TOP_DEDUCTIONS]
        ),
        "",
        f"## 平均分低于 {report.pass_mark} 的客服（回炉培训）",
        "",
    ]
    below = report.agents_below
    lines += [
        f"- {_cell(a.agent_id)}: 平均 {a.mean:.1f} 分，{a.conversations} 个会话，"
        f"{a.failed} 个不合格"
        for a in below
    ] or ["无。"]
    lines += ["", "## 不合格会话", ""]
    if failed:
        lines += ["| 会话 | 客服 | 店铺 | 分数 | 原因 |", "|---|---|---|---|---|"]
        lines += [
            f"| {_cell(r.conversation_id)} | {_cell(r.agent_id)} | {_cell(r.shop)} "
            f"| {r.score} | {_cell(_reasons(r))} |"
            for r in failed[:FAILED_LISTED]
        ]
        if len(failed) > FAILED_LISTED:
            lines.append(f"\n（另有 {len(failed) - FAILED_LISTED} 个未列出）")
    else:
        lines.append("无。")
    return "\n".join(lines) + "\n"


def distribution_svg(report: WeeklyReport) -> str:
    """Bars per score bin, the pass mark as a dashed line: inline SVG, no script."""
    top = max(report.distribution, default=0) or 1
    left, bottom, width = 36, 28, CHART_WIDTH - 48
    height = CHART_HEIGHT - bottom - 12
    step = width / len(BINS)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" '
        f'role="img" aria-label="分数分布" class="chart">'
    ]
    for number, ((low, high), count) in enumerate(zip(BINS, report.distribution, strict=True)):
        bar = height * count / top
        x = left + number * step + 4
        y = 12 + height - bar
        colour = "#c0392b" if high < report.pass_mark else "#2e86c1"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{step - 8:.1f}" height="{bar:.1f}" '
            f'fill="{colour}"><title>{low}–{high}: {count}</title></rect>'
        )
        if count:
            parts.append(
                f'<text x="{x + (step - 8) / 2:.1f}" y="{y - 3:.1f}" '
                f'text-anchor="middle" font-size="11">{count}</text>'
            )
        parts.append(
            f'<text x="{x + (step - 8) / 2:.1f}" y="{CHART_HEIGHT - 10}" '
            f'text-anchor="middle" font-size="11">{low}</text>'
        )
    mark_x = left + step * report.pass_mark / 10
    parts.append(
        f'<line x1="{mark_x:.1f}" x2="{mark_x:.1f}" y1="6" y2="{12 + height}" '
        f'stroke="#555" stroke-dasharray="4 3"><title>合格线 {report.pass_mark}</title>'
        f"</line>"
    )
    parts.append(
        f'<line x1="{left}" x2="{left + width}" y1="{12 + height}" y2="{12 + height}" '
        f'stroke="#999"/>'
    )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;color:#222;line-height:1.5}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f8}.fail{color:#c0392b;font-weight:600}.chart{width:100%;max-width:40rem}
.muted{color:#666}
"""


def render_html(report: WeeklyReport) -> str:
    e = html.escape
    failed = report.failed
    agents = "".join(
        f"<tr><td>{e(a.agent_id)}</td><td>{a.conversations}</td>"
        f'<td class="{"fail" if a.mean < report.pass_mark else ""}">{a.mean:.1f}</td>'
        f"<td>{a.lowest}</td><td>{a.failed}</td><td>{e(_kinds(a.top_deductions))}</td></tr>"
        for a in report.agents
    )
    kinds = "".join(
        f"<tr><td>{e(kind_name(kind))} <code>{e(kind)}</code></td><td>{count}</td></tr>"
        for kind, count in report.deductions[:TOP_DEDUCTIONS]
    )
    below = "".join(
        f"<li>{e(a.agent_id)}: 平均 {a.mean:.1f} 分，{a.conversations} 个会话，"
        f"{a.failed} 个不合格</li>"
        for a in report.agents_below
    )
    rows = "".join(
        f"<tr><td>{e(r.conversation_id)}</td><td>{e(r.agent_id)}</td><td>{e(r.shop)}</td>"
        f'<td class="fail">{r.score}</td><td>'
        + "<br>".join(
            f"第 {d.turn + 1} 句 · {e(kind_name(d.kind))} −{d.points}：{e(d.why)}"
            + (f' <span class="muted">「{e(d.evidence)}」</span>' if d.evidence else "")
            for d in r.deductions
        )
        + "</td></tr>"
        for r in failed[:FAILED_LISTED]
    )
    more = (
        f'<p class="muted">另有 {len(failed) - FAILED_LISTED} 个未列出</p>'
        if len(failed) > FAILED_LISTED
        else ""
    )
    period = f"{report.start:%Y-%m-%d} – {(report.end - timedelta(days=1)):%Y-%m-%d}"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>客服质检周报 {e(report.week)}</title><style>{_STYLE}</style></head><body>
<h1>客服质检周报 {e(report.week)}</h1>
<p>{period}：{len(report.results)} 个抽检会话，{len(failed)} 个低于合格线 {
        report.pass_mark
    } 分。</p>
<h2>分数分布</h2>{distribution_svg(report)}
<h2>客服</h2><table><tr><th>客服</th><th>会话</th><th>平均分</th><th>最低分</th><th>不合格</th>
<th>主要扣分</th></tr>{agents}</table>
<h2>最常见的扣分</h2><table><tr><th>扣分项</th><th>次数</th></tr>{kinds}</table>
<h2>平均分低于 {report.pass_mark} 的客服（回炉培训）</h2><ul>{below or "<li>无。</li>"}</ul>
<h2>不合格会话</h2>{
        "<table><tr><th>会话</th><th>客服</th><th>店铺</th><th>分数</th><th>扣分</th></tr>"
        + rows
        + "</table>"
        if rows
        else "<p>无。</p>"
    }{more}
</body></html>
"""
