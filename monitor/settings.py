"""The one configuration file, validated once at the edge into a frozen object.

A YAML file names the brands, thresholds, sentiment model and compliance exemptions; a
default ships with the package so the first run needs none. Validation errors name the
line of the file they refer to, because the person fixing them is looking at that file.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

Backend = Literal["auto", "rjieba", "jieba"]  # which jieba build segments the text
DEFAULT_CONFIG = Path(__file__).with_name("default_config.yaml")
M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and line."""


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


# An IANA time zone name, checked when the file is read.
ZoneName = Annotated[str, AfterValidator(_known_zone)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


DRILL_PREFIX = "演练·"  # a drill's comments count under this name, apart from the brand's own
OTHER = "other"  # where mentions of a brand the config does not list are counted
_BRAND_FORBIDDEN = "|\n\r\t"  # `|` separates a table key's parts


def _brand_name(value: str) -> str:
    value = value.strip()
    if value.lower() == OTHER or value.startswith(DRILL_PREFIX):
        raise ValueError(f"{value!r} is reserved; choose another brand name")
    if any(char in _BRAND_FORBIDDEN or not char.isprintable() for char in value):
        raise ValueError(f"brand name {value!r} may not contain |, tabs or control characters")
    return value


BrandName = Annotated[str, Field(min_length=1, max_length=50), AfterValidator(_brand_name)]


class Brand(_Frozen):
    name: BrandName = Field(description="Display name; also matched in comment text.")
    aliases: tuple[str, ...] = Field((), description="Other names found in comment text.")
    competitors: tuple[str, ...] = Field((), description="Brands in this brand's competitor set.")
    negatives_per_hour: int | None = Field(
        None, ge=0, description="Override of the default threshold for this brand."
    )

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


class SentimentSettings(_Frozen):
    model: str = Field(
        "snownlp", description="`social` (packaged), `snownlp` (its own), or a model file."
    )
    segmenter: Backend = Field("auto", description="auto (rjieba, else jieba), rjieba or jieba.")
    negative_below: float = Field(0.4, ge=0, le=1, description="P(positive) below this: negative.")
    positive_above: float = Field(0.6, ge=0, le=1, description="P(positive) above this: positive.")
    negative_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Three-class models: P(negative) at which a comment is labelled negative "
        "and counted toward thresholds; less confident ones are neutral.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> SentimentSettings:
        if self.negative_below > self.positive_above:
            raise ValueError("negative_below must not exceed positive_above")
        return self


class ComplianceSettings(_Frozen):
    exempt_names: tuple[str, ...] = Field(
        (), description="Trademarks and shop names that contain a listed term (e.g. 第一坊)."
    )
    off_categories: tuple[str, ...] = Field(
        (), description="Platform-rule categories this channel switches off (e.g. offplatform)."
    )


class LimitSettings(_Frozen):
    max_text_chars: int = Field(20_000, gt=0, description="Longer comment texts are rejected.")
    max_record_bytes: int = Field(
        256_000, gt=0, le=900_000, description="Larger records are rejected (the broker's limit)."
    )
    unknown_brands: Literal["other", "dead_letter"] = Field(
        "other",
        description="A record's `brand` the config does not list: counted as `other` (never "
        "paged), or sent to the dead-letter topic.",
    )
    earliest_year: int = Field(2000, description="Comments dated before this year are rejected.")
    max_future_seconds: int = Field(
        3600, ge=0, description="Comments dated this far past the current time are rejected."
    )

    @property
    def max_scored_bytes(self) -> int:
        """A scored record carries the comment and its sentiment evidence: the enrich
        stage writes, and the count stage reads, at most this much."""
        return 2 * self.max_record_bytes


class RuleSettings(_Frozen):
    """When a detection opens an incident and how high its level goes."""

    warning_factor: float = Field(2.0, gt=1, description="Negatives over threshold × this: +1.")
    crisis_factor: float = Field(5.0, gt=1, description="Negatives over threshold × this: +2.")
    growth_factor: float = Field(
        3.0, gt=1, description="Negatives at least this × the same hour's 7-day mean: +1 level."
    )
    crisis_keyword_hits: int = Field(3, ge=1, description="Crisis-keyword hits in the hour: +1.")
    high_reach_followers: int = Field(
        100_000, ge=1, description="A negative post by an author with this many followers: +1."
    )
    platforms: int = Field(3, ge=2, description="Negatives on this many platforms: +1.")
    keyword_surge: float = Field(
        0.4, gt=0, description="A keyword up this fraction on its baseline is a surge."
    )
    keyword_min_volume: int = Field(10, ge=1, description="…with at least this many mentions.")
    max_keyword_incidents: int = Field(3, ge=0, description="Surging keywords reported at once.")


class WaveSettings(_Frozen):
    """Copy-paste waves (水军 / 控评): many accounts posting the same text, or nearly, within
    minutes. Counted once by default, so forty paid copies do not page like forty customers."""

    enabled: bool = Field(True, description="Look for waves at all.")
    min_copies: int = Field(
        5,
        ge=2,
        description="A wave: at least this many near-identical mentions from distinct "
        "accounts within `minutes`.",
    )
    minutes: int = Field(10, ge=1, le=60, description="The stretch those copies fall in.")
    similarity: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Near-identical: this Jaccard similarity of the two texts' "
        "character pairs (after normalising: simplified, half-width, no spaces or symbols).",
    )
    min_chars: int = Field(
        10,
        ge=2,
        description="Shorter texts (好喝, 支持) are never compared: people write them "
        "on their own.",
    )
    counting: Literal["once", "all"] = Field(
        "once",
        description="once: a wave's negatives count as one toward the threshold; "
        "all: every copy counts and the incident says a wave is among them.",
    )


class TopicNames(_Frozen):
    comments: str = Field("guanchao-comments", description="Raw comment records (JSON) in.")
    scored: str = Field("guanchao-scored", description="One scored record per comment and brand.")
    incidents: str = Field("guanchao-incidents", description="Incident events out.")
    dead_letter: str = Field("guanchao-dead-letter", description="Bad records, with the reason.")
    alert_dead_letter: str = Field(
        "guanchao-alert-dead-letter", description="Alerts a sink refused after every retry."
    )
    conversations: str = Field(
        "guanchao-conversations", description="Customer-service conversation records (JSON) in."
    )
    qa_cases: str = Field(
        "guanchao-qa-cases", description="QA cases out: sampled conversations below the pass mark."
    )


def _web_address(value: str) -> str:
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or any(c.isspace() for c in value):
        raise ValueError(f"{value!r} is not an http:// or https:// address")
    return value


def _optional_web_address(value: str) -> str:
    return value and _web_address(value)


class StreamSettings(_Frozen):
    app_id: str = Field("guanchao", description="Faust app id: consumer group and table prefix.")
    topics: TopicNames = TopicNames()
    partitions: int = Field(4, ge=1, le=256, description="Partitions of every Guanchao topic.")
    web_host: str = Field("127.0.0.1", description="Address of /health and /metrics.")
    web_port: int = Field(6066, ge=0, le=65535, description="Port of /health and /metrics.")
    web_url: Annotated[str, AfterValidator(_optional_web_address)] = Field(
        "",
        description="How the other workers reach this one's web server, to pass on a "
        "console request for a case it holds (default: http://web_host:web_port).",
    )
    lateness_minutes: int = Field(
        60, ge=0, description="Comments this much older than a brand's newest still count."
    )
    rebalance_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a group rebalance waits for members to join."
    )
    update_every_minutes: int = Field(
        5, ge=1, description="Publish an incident's growing counts at most this often."
    )
    quiet_minutes: int = Field(60, ge=1, description="An incident clears after this long quiet.")
    baseline_days: int = Field(7, ge=1, description="Days of the same hour a baseline averages.")
    broker_check_seconds: float = Field(
        2.0, gt=0, description="How often a worker checks that the broker answers (/health)."
    )
    shutdown_timeout_seconds: float = Field(
        30.0, gt=0, description="A worker asked to stop exits after this long, done or not."
    )


SinkKind = Literal[
    "wecom", "feishu", "dingtalk", "slack", "webhook", "alertmanager", "email", "console"
]
LevelName = Literal["watch", "warning", "crisis"]
LEVELS: tuple[LevelName, ...] = ("watch", "warning", "crisis")


def drill_name(brand: str) -> str:
    return brand if is_drill(brand) else DRILL_PREFIX + brand


def is_drill(brand: str) -> bool:
    return brand.startswith(DRILL_PREFIX)


class SinkSettings(_Frozen):
    """One place alerts go. Secrets are never in this file: only the names of the
    environment variables that hold them."""

    name: str = Field(min_length=1, description="Shown in metrics and the timeline.")
    kind: SinkKind
    url: str | None = Field(None, description="Endpoint, when it holds no secret.")
    url_env: str | None = Field(None, description="Variable holding the endpoint (robot keys).")
    secret_env: str | None = Field(None, description="Variable holding the signing secret.")
    levels: tuple[LevelName, ...] = Field(LEVELS, description="Incident levels this sink gets.")
    language: Literal["zh", "en"] | None = Field(None, description="Overrides alerts.language.")
    per_minute: int | None = Field(None, ge=1, description="Messages per minute (kind default).")
    per_second: int | None = Field(None, ge=1, description="Messages per second (kind default).")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user_env: str | None = None
    smtp_password_env: str | None = None
    sender: str = "guanchao@localhost"
    to: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _complete(self) -> SinkSettings:
        if self.kind == "email" and not self.to:
            raise ValueError("an email sink needs `to`")
        if self.kind not in ("email", "console") and not (self.url or self.url_env):
            raise ValueError(f"a {self.kind} sink needs `url` or `url_env`")
        return self


class ConsolePerson(_Frozen):
    """Someone who signs in to the console with a token of their own; actions they take
    there are recorded under this name."""

    name: str = Field(min_length=1, max_length=100)
    token_env: str = Field(description="Variable holding this person's console token.")


class AlertSettings(_Frozen):
    playbook: str = Field("", description="Playbook file; empty for the packaged default.")
    language: Literal["zh", "en"] = Field("zh", description="Language of alert messages.")
    public_url: Annotated[str, AfterValidator(_web_address)] = Field(
        "http://127.0.0.1:6066",
        description="Where people reach the workers (links in alerts), path prefix included.",
    )
    token_env: str = Field(
        "GUANCHAO_API_TOKEN", description="Variable holding the API token for actions."
    )
    link_secret_env: str = Field(
        "GUANCHAO_LINK_SECRET",
        description="Variable holding the key that signs the links in alerts (unset: a key "
        "derived from the API token).",
    )
    link_hours: float = Field(72.0, gt=0, description="How long the link in an alert works.")
    console_people: tuple[ConsolePerson, ...] = Field(
        (), description="People with a console token of their own (the API token works too)."
    )
    sinks: tuple[SinkSettings, ...] = Field(
        (SinkSettings(name="console", kind="console"),), description="Where alerts go."
    )
    attempts: int = Field(5, ge=1, description="Tries before an alert is dead-lettered.")
    backoff_seconds: float = Field(1.0, gt=0, description="First retry delay; doubles.")
    max_backoff_seconds: float = Field(60.0, gt=0, description="Longest retry delay.")
    tick_seconds: float = Field(1.0, gt=0, description="How often due reminders are checked.")
    alertmanager_refresh_minutes: float = Field(
        5.0, gt=0, description="Open incidents are re-posted to Alertmanager this often."
    )

    @model_validator(mode="after")
    def _unique_sinks(self) -> AlertSettings:
        names = [sink.name for sink in self.sinks]
        if len(set(names)) != len(names):
            raise ValueError("sink names must be unique")
        return self


class QAWeights(_Frozen):
    """Points one deduction takes off a conversation's 100: each listed word once per
    turn, each time-or-ending problem once per conversation."""

    rude: int = Field(20, ge=0, le=100, description="Agent: insults, rudeness (有病, 滚).")
    dismissive: int = Field(
        10, ge=0, le=100, description="Agent: dismissive or impatient (等着吧, 爱买不买)."
    )
    blame: int = Field(15, ge=0, le=100, description="Agent: blames the customer (你自己的问题).")
    forbidden_promise: int = Field(
        15, ge=0, le=100, description="Agent: a promise policy forbids (好评返现, 保证明天到)."
    )
    off_platform: int = Field(
        20, ge=0, le=100, description="Agent: asks to move off the platform (加我微信)."
    )
    personal_data: int = Field(
        20, ge=0, le=100, description="Agent: writes a phone, ID-card number or address."
    )
    emotion_worse: int = Field(
        10, ge=0, le=100, description="Customer ends more negative than they began."
    )
    escalation: int = Field(
        10, ge=0, le=100, description="Customer threatens to escalate (投诉, 12315, 曝光, 黑猫)."
    )
    slow_first_response: int = Field(
        5, ge=0, le=100, description="First agent reply later than qa.first_response_seconds."
    )
    long_wait: int = Field(
        5, ge=0, le=100, description="A later wait for the agent over qa.longest_wait_seconds."
    )
    unresolved: int = Field(
        15, ge=0, le=100, description="The conversation ends with the customer's problem open."
    )


class QASettings(_Frozen):
    """Customer-service chat QA (客服质检): which conversations are sampled, how they are
    scored, and the mark below which the agent goes back to training (回炉培训)."""

    sample_rate: float = Field(
        0.05, ge=0, le=1, description="Fraction of conversations scored, by a hash of the id."
    )
    shop_rates: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        {}, description="Per-shop sample rate overriding sample_rate (shop name → fraction)."
    )
    pass_mark: int = Field(85, ge=0, le=100, description="A score below this fails.")
    shops: tuple[str, ...] = Field(
        (),
        description="Shops named in the QA metrics (with those in shop_rates); any other "
        "shop is counted as `other`, so a shop name in a record never makes a new series.",
    )
    weights: QAWeights = QAWeights()
    first_response_seconds: float = Field(
        60.0, gt=0, description="Target: the first agent reply within this after the customer."
    )
    longest_wait_seconds: float = Field(
        180.0, gt=0, description="Target: no later wait for an agent reply longer than this."
    )
    emotion_drop: float = Field(
        0.7,
        gt=0,
        description="The customer's last turn this much lower than their first, in log-odds "
        "of P(positive), and negative, ends worse (0.7: the odds of positive halve).",
    )

    @property
    def metric_shops(self) -> tuple[str, ...]:
        """The shops the metrics name: listed in `shops` or given their own rate."""
        return tuple(dict.fromkeys((*self.shops, *self.shop_rates)))


class Settings(_Frozen):
    timezone: ZoneName = Field(
        "Asia/Shanghai", description="Zone for hourly buckets and naive times."
    )
    negatives_per_hour: int = Field(
        10, ge=0, description="Default: more than this many negatives in a rolling hour alerts."
    )
    brands: tuple[Brand, ...] = Field((), description="The brands and competitors watched.")
    sentiment: SentimentSettings = SentimentSettings()
    compliance: ComplianceSettings = ComplianceSettings()
    limits: LimitSettings = LimitSettings()
    rules: RuleSettings = RuleSettings()
    waves: WaveSettings = WaveSettings()
    stream: StreamSettings = StreamSettings()
    alerts: AlertSettings = AlertSettings()
    qa: QASettings = QASettings()

    @model_validator(mode="after")
    def _unique_brands(self) -> Settings:
        names = [brand.name for brand in self.brands]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"brands listed twice: {', '.join(duplicates)}")
        unknown = sorted({c for b in self.brands for c in b.competitors} - set(names))
        if unknown:
            raise ValueError(f"competitors must be listed brands too: {', '.join(unknown)}")
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def threshold_for(self, brand: str) -> int:
        brand = brand.removeprefix(DRILL_PREFIX)
        for candidate in self.brands:
            if candidate.name == brand and candidate.negatives_per_hour is not None:
                return candidate.negatives_per_hour
        return self.negatives_per_hour

    @cached_property
    def brand_names(self) -> dict[str, str]:
        """Every name and alias a record's `brand` may give, folded, to the brand's name."""
        return {name.casefold(): brand.name for brand in self.brands for name in brand.names}

    def is_watched(self, brand: str) -> bool:
        """A configured brand (or its drill): the only ones that may page someone."""
        return brand.removeprefix(DRILL_PREFIX) in {b.name for b in self.brands}

    def brand_words(self) -> tuple[str, ...]:
        return tuple(name for brand in self.brands for name in brand.names)


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate a config file (the packaged default when `path` is None)."""
    source = path or DEFAULT_CONFIG
    settings = load_yaml_model(source, Settings, "config")
    return _resolve_paths(settings, source.parent)


def load_yaml_model(source: Path, model: type[M], what: str) -> M:
    """Read a YAML file into a pydantic model; errors name the file and the line."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {what} {source}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"cannot read {what} {source}: not UTF-8 text") from None
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(error, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a {what}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of settings")
    try:
        return model.model_validate(document)
    except ValidationError as error:
        if not document:  # not one line per missing field
            raise ConfigError(f"{source}: the {what} is empty") from None
        raise ConfigError(_describe(error, source, text)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a {what}") from None


def _yaml_problem(error: yaml.YAMLError, source: Path) -> str:
    """One line: PyYAML's own message spans several, with a caret under the spot."""
    mark = getattr(error, "problem_mark", None)
    where = f"{source}:{mark.line + 1}" if mark is not None else str(source)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{where}: not valid YAML: {' '.join(str(problem).split())}"


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Relative model and playbook paths are relative to the config file, not the
    working directory."""
    model = settings.sentiment.model
    if model not in ("snownlp", "social") and not Path(model).is_absolute():
        sentiment = settings.sentiment.model_copy(update={"model": str(base / model)})
        settings = settings.model_copy(update={"sentiment": sentiment})
    playbook = settings.alerts.playbook
    if playbook and not Path(playbook).is_absolute():
        alerts = settings.alerts.model_copy(update={"playbook": str(base / playbook)})
        settings = settings.model_copy(update={"alerts": alerts})
    return settings


def _describe(error: ValidationError, source: Path, text: str) -> str:
    root = yaml.compose(text)
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        line = _line_of(root, problem["loc"])
        where = f"{source}:{line}" if line else str(source)
        lines.append(f"{where}: {location}: {problem['msg']}")
    return "\n".join(lines)


def _line_of(node: Any, loc: Sequence[int | str]) -> int | None:
    """1-based line of the YAML node at `loc`, or of its nearest ancestor."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((value for key, value in node.value if key.value == part), None)
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line
