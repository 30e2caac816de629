from pathlib import Path

import pytest

from monitor.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "guanchao.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_packaged_default_config_is_valid_and_has_the_plan_threshold() -> None:
    settings = load_settings()
    assert settings.negatives_per_hour == 10
    assert settings.brands


def test_a_brand_may_override_the_threshold(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, "brands:\n  - name: 云朵咖啡\n    negatives_per_hour: 25\n  - name: 山海\n")
    )
    assert settings.threshold_for("云朵咖啡") == 25
    assert settings.threshold_for("山海") == 10


def test_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "timezone: Asia/Shanghai\nbrands:\n  - name: a\n    aliases: 5\n")
    with pytest.raises(ConfigError, match=r"guanchao.yaml:4: brands.0.aliases"):
        load_settings(path)


def test_unknown_settings_are_errors_not_silently_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r":1: negative_per_hour: Extra inputs"):
        load_settings(write(tmp_path, "negative_per_hour: 5\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timezone: Mars/Olympus\n", "unknown time zone"),
        ("sentiment:\n  negative_below: 0.8\n  positive_above: 0.2\n", "must not exceed"),
        ("brands:\n  - name: a\n  - name: a\n", "listed twice: a"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("brands: [unclosed\n", "not valid YAML"),
        ("negatives_per_hour: -1\n", "negatives_per_hour"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, text))


def test_a_relative_model_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "sentiment:\n  model: models/ours.json.gz\n"))
    assert settings.sentiment.model == str(tmp_path / "models" / "ours.json.gz")


@pytest.mark.parametrize(
    "name", ["云朵|咖啡", "other", "Other", "演练·云朵", "云朵\t咖啡", "x" * 51]
)
def test_a_brand_name_that_would_break_keys_or_pose_as_another_is_refused(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigError, match=r":2: brands.0.name"):
        load_settings(write(tmp_path, f'brands:\n  - name: "{name}"\n'))
