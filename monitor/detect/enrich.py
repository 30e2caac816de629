"""One comment in, one scored comment out: sentiment, brands and crisis keywords.

This is the work of the stream's enrich stage and of `guanchao analyze`, so replaying an
export offline gives the same answers as the live stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lexicons import DIRECTORY as LEXICONS
from monitor.detect.records import Comment, RecordError
from monitor.settings import OTHER, Settings, drill_name
from monitor.text.phrases import PhraseMatcher
from monitor.text.segment import make_segmenter
from monitor.text.sentiment import (
    BayesModel,
    Label,
    LinearModel,
    Scorer,
    Sentiment,
    Thresholds,
    load_model,
    load_rules,
    load_stopwords,
)


@dataclass(frozen=True, slots=True)
class Scored:
    comment: Comment
    sentiment: Sentiment
    brands: tuple[str, ...]
    crisis_keywords: tuple[str, ...]
    tokens: tuple[str, ...]

    @property
    def negative(self) -> bool:
        """Counted as negative: the label, which a three-class model only gives when
        P(negative) reaches the configured `negative_confidence`."""
        return self.sentiment.label is Label.NEGATIVE

    def keywords(self, excluded: frozenset[str]) -> tuple[str, ...]:
        """Distinct content words of a negative comment: what the complaint is about."""
        if not self.negative:
            return ()
        return tuple(
            dict.fromkeys(
                token
                for token in self.tokens
                if len(token) > 1 and token.isalnum() and token not in excluded
            )
        )

    def as_dict(self) -> dict[str, Any]:
        comment = self.comment
        return {
            **comment.extra,
            "id": comment.id,
            "platform": comment.platform,
            "text": comment.text,
            "created_at": comment.created_at.isoformat(),
            "author_followers": comment.author_followers,
            "likes": comment.likes,
            "shares": comment.shares,
            "brands": list(self.brands),
            "crisis_keywords": list(self.crisis_keywords),
            **self.sentiment.as_dict(),
        }


def build_scorer(settings: Settings, model: BayesModel | LinearModel | None = None) -> Scorer:
    """The configured scorer; `model` replaces the configured one (training starts from none)."""
    config = settings.sentiment
    return Scorer(
        segmenter=make_segmenter(config.segmenter, settings.brand_words()),
        model=model or load_model(config.model),
        rules=load_rules(),
        thresholds=Thresholds(
            config.negative_below, config.positive_above, config.negative_confidence
        ),
    )


def read_word_list(name: str) -> list[str]:
    """`lexicons/<name>.txt`: one word per line, `#` starts a comment line."""
    lines = (LEXICONS / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


class Enricher:
    def __init__(self, settings: Settings, scorer: Scorer | None = None) -> None:
        self.settings = settings
        self.scorer = scorer or build_scorer(settings)
        self._brands = PhraseMatcher(
            {name: brand.name for brand in settings.brands for name in brand.names}
        )
        self._crisis = PhraseMatcher.of_words(read_word_list("crisis_keywords"))
        self.not_keywords = (
            load_stopwords() | set(settings.brand_words()) | set(read_word_list("not_keywords"))
        )

    def enrich(self, comment: Comment) -> Scored:
        tokens = self.scorer.tokens(comment.text)
        given = self._given_brand(comment)
        brands = [
            *given,
            *(brand for brand in self._brands.labels(comment.text) if brand not in given),
        ]
        if comment.brand and not brands:
            brands = self._unknown_brand(comment.brand)
        return Scored(
            comment=comment,
            sentiment=self.scorer.score_tokens(tokens),
            brands=tuple(brands),
            crisis_keywords=tuple(self._crisis.labels(comment.text)),
            tokens=tuple(tokens),
        )

    def _given_brand(self, comment: Comment) -> list[str]:
        """The producer's `brand`, if it names a configured brand (or an alias of one)."""
        known = self.settings.brand_names.get((comment.brand or "").strip().casefold())
        return [known] if known else []

    def _unknown_brand(self, brand: str) -> list[str]:
        """Anyone who can write to the topic sets `brand`: a name the config does not list
        must never open an incident or page anyone, nor add state per name."""
        if self.settings.limits.unknown_brands == "dead_letter":
            raise RecordError("unknown_brand", f"brand {brand!r} is not in the config")
        return [OTHER]

    def records(self, scored: Scored) -> list[tuple[str, dict[str, Any]]]:
        """(brand, scored record) for each brand the comment is about."""
        record = {**scored.as_dict(), "keywords": list(scored.keywords(self.not_keywords))}
        brands = scored.brands
        if scored.comment.extra.get("drill"):  # `guanchao drill`: counted apart, marked
            brands = tuple(brand if brand == OTHER else drill_name(brand) for brand in brands)
        return [(brand, {**record, "brand": brand}) for brand in brands]
