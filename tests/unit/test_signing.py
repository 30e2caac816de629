"""The link in an alert opens one incident for the person paged, for 72 hours, and
nothing else: not another incident, not after it expired, not once changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.signing import BadToken, Links, Signer, incident_scope

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
SIGNER = Signer(b"k" * 32)
LINKS = Links("https://pr.example.com/guanchao/", SIGNER)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_link_opens_its_incident_for_the_person_paged() -> None:
    url = LINKS.incident("云朵咖啡:negative_volume:100", "张伟", NOW)
    assert url.startswith("https://pr.example.com/guanchao/console/incidents/%E4%BA%91")
    scope = incident_scope("云朵咖啡:negative_volume:100")
    assert SIGNER.verify(scope, token_of(url), NOW + timedelta(hours=71)) == "张伟"


@pytest.mark.parametrize(
    ("change", "at", "why"),
    [
        (lambda t: t, NOW + timedelta(hours=72), "expired"),
        (lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"), NOW, "signature"),
        (lambda t: str(int(t.split(".")[0]) + 86400) + t[t.index(".") :], NOW, "signature"),
        (lambda t: t.split(".")[0] + ".5p2g5Lyf." + t.split(".")[2], NOW, "signature"),
        (lambda t: "", NOW, "signature"),
        (lambda t: "x.y", NOW, "signature"),
    ],
    ids=["expired", "mac changed", "expiry moved", "name changed", "empty", "garbage"],
)
def test_a_changed_or_expired_link_is_refused(change: object, at: datetime, why: str) -> None:
    token = token_of(LINKS.incident("云朵咖啡:negative_volume:100", "张伟", NOW))
    with pytest.raises(BadToken, match=why):
        SIGNER.verify(incident_scope("云朵咖啡:negative_volume:100"), change(token), at)  # type: ignore[operator]


def test_a_link_for_one_incident_opens_no_other_and_is_no_session() -> None:
    token = token_of(LINKS.incident("云朵咖啡:negative_volume:100", "张伟", NOW))
    for scope in (incident_scope("云朵咖啡:negative_volume:101"), "session"):
        with pytest.raises(BadToken):
            SIGNER.verify(scope, token, NOW)


def test_another_key_refuses_the_token() -> None:
    token = token_of(LINKS.incident("a:b:1", "张伟", NOW))
    with pytest.raises(BadToken):
        Signer(b"q" * 32).verify(incident_scope("a:b:1"), token, NOW)


def test_the_key_comes_from_the_link_secret_else_the_api_token() -> None:
    names = ("GUANCHAO_LINK_SECRET", "GUANCHAO_API_TOKEN")
    assert Signer.from_env({}, *names) is None
    from_token = Signer.from_env({"GUANCHAO_API_TOKEN": "t0ken"}, *names)
    from_secret = Signer.from_env({"GUANCHAO_LINK_SECRET": "s", "GUANCHAO_API_TOKEN": "t0ken"},
                                  *names)  # fmt: skip
    assert from_token and from_secret
    signed = from_token.sign("session", "张伟", NOW + timedelta(hours=1))
    assert Signer.from_env({"GUANCHAO_API_TOKEN": "t0ken"}, *names).verify(  # type: ignore[union-attr]
        "session", signed, NOW) == "张伟"  # fmt: skip
    with pytest.raises(BadToken):
        from_secret.verify("session", signed, NOW)


def test_without_a_key_links_point_to_the_page_unsigned() -> None:
    assert Links("http://w:6066", None).incident("a:b:1", "张伟", NOW) == (
        "http://w:6066/console/incidents/a%3Ab%3A1"
    )
