"""MetricSettings: TOML loading, platform presets, layered overrides, clear errors."""

import pytest

from qa_scorer.settings import (
    PLATFORM_PRESETS,
    MetricSettings,
    SettingsError,
    load_settings,
    settings_from_mapping,
)


def write(tmp_path, text, name="settings.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_match_the_source_documents():
    s = MetricSettings().validate()
    assert (s.service_start_s, s.service_end_s) == (8 * 3600, 24 * 3600)   # 08:00-24:00
    assert (s.within_seconds, s.slow_seconds) == (180, 120)                 # 3-minute rate, 2-minute rule
    assert (s.min_reply_chars, s.product_answer_min_chars) == (4, 15)       # 4 characters, 15 for products
    assert s.closing_silence_s == 300                                       # closing after 5 minutes
    assert s.latency_cap_s is None and s.unanswered_latency_s is None


def test_toml_metrics_table_is_loaded(tmp_path):
    path = write(tmp_path, """
[metrics]
within_seconds = 120
service_end = "23:00"
product_keywords = ["尺码", "材质"]
[rubric]
ignored_here = 1
""")
    s = load_settings(path)
    assert s.within_seconds == 120
    assert s.service_end_s == 23 * 3600
    assert s.product_keywords == ["尺码", "材质"]
    assert s.slow_seconds == 120  # untouched keys keep their defaults


def test_toml_local_time_value_is_accepted(tmp_path):
    # TOML allows an unquoted local time; it becomes "HH:MM:SS".
    s = load_settings(write(tmp_path, "[metrics]\nservice_start = 08:30:00\n"))
    assert s.service_start == "08:30:00"
    assert s.service_start_s == 8 * 3600 + 30 * 60


@pytest.mark.parametrize("platform", sorted(PLATFORM_PRESETS))
def test_each_preset_applies_its_values(platform):
    s = load_settings(platform=platform)
    for key, value in PLATFORM_PRESETS[platform].items():
        assert getattr(s, key) == value
    assert s.platform == platform


def test_every_preset_sets_the_same_keys():
    # so that switching presets never leaves a value of the previous one behind
    from qa_scorer.settings import _PRESET_KEYS
    for name, preset in PLATFORM_PRESETS.items():
        assert set(preset) == set(_PRESET_KEYS), name


def test_taobao_and_douyin_presets():
    taobao = load_settings(platform="taobao")
    assert (taobao.latency_cap_s, taobao.unanswered_latency_s) == (600, 600)
    douyin = load_settings(platform="douyin")
    # 08:00:00-22:59:59 inclusive = end 23:00:00 exclusive
    assert (douyin.service_start_s, douyin.service_end_s) == (8 * 3600, 23 * 3600)
    assert douyin.latency_cap_s is None


def test_switching_preset_leaves_nothing_of_the_previous_one():
    taobao = settings_from_mapping({"platform": "taobao"})
    douyin = settings_from_mapping({"platform": "douyin"}, base=taobao)
    assert douyin.latency_cap_s is None and douyin.unanswered_latency_s is None


def test_file_values_override_the_preset_and_survive_cli_overrides(tmp_path):
    # Layers: defaults <- preset <- [metrics] of the file <- CLI overrides.
    path = write(tmp_path, '[metrics]\nplatform = "taobao"\nlatency_cap_s = 300\n')
    s = load_settings(path, overrides={"within_seconds": 150, "slow_seconds": None})
    assert s.latency_cap_s == 300           # the file's value, not the preset's 600
    assert s.unanswered_latency_s == 600    # from the preset
    assert s.within_seconds == 150          # CLI override
    assert s.slow_seconds == 120            # None override = not given


def test_unknown_key_names_the_key_and_the_allowed_keys(tmp_path):
    path = write(tmp_path, "[metrics]\nwithin_secs = 120\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    message = str(err.value)
    assert str(path) in message
    assert "within_secs" in message
    assert "allowed:" in message and "within_seconds" in message


def test_unknown_platform_lists_allowed_platforms():
    with pytest.raises(SettingsError) as err:
        load_settings(platform="jd")
    assert "'jd'" in str(err.value)
    for name in PLATFORM_PRESETS:
        assert name in str(err.value)


@pytest.mark.parametrize(
    "toml, key",
    [
        ('within_seconds = "180"', "within_seconds"),
        ("slow_seconds = -1", "slow_seconds"),
        ("min_reply_chars = 4.5", "min_reply_chars"),
        ("latency_cap_s = true", "latency_cap_s"),
        ('service_start = "8h"', "service_start"),
        ('service_end = "25:00"', "service_end"),
        ('product_keywords = "尺码"', "product_keywords"),
        ('closing_phrases = ["再见", ""]', "closing_phrases"),
    ],
)
def test_bad_values_name_the_key(tmp_path, toml, key):
    path = write(tmp_path, f"[metrics]\n{toml}\n")
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert f"metrics.{key}" in str(err.value)
    assert str(path) in str(err.value)


def test_service_hours_must_not_wrap():
    with pytest.raises(SettingsError, match="service_start"):
        settings_from_mapping({"service_start": "22:00", "service_end": "08:00"})


def test_invalid_or_missing_file_is_named(tmp_path):
    bad = write(tmp_path, "[metrics\nwithin_seconds = 1\n", name="bad.toml")
    with pytest.raises(SettingsError, match="bad.toml: not valid TOML"):
        load_settings(bad)
    with pytest.raises(SettingsError, match="missing.toml: settings file not found"):
        load_settings(tmp_path / "missing.toml")


def test_to_dict_round_trips():
    s = settings_from_mapping({"platform": "taobao", "within_seconds": 150})
    again = settings_from_mapping(s.to_dict())
    assert again == s


def test_rule_settings_defaults_and_validation():
    s = MetricSettings().validate()
    assert s.count_trailing_acks is False and s.reply_turn_window_s == 10
    assert s.product_question_types == ["product", "size"] and s.question_types == "auto"
    assert settings_from_mapping({"platform": "taobao"}).count_trailing_acks is True   # published rule
    assert settings_from_mapping({"platform": "douyin"}).count_trailing_acks is False
    # switching back from taobao leaves nothing of it behind
    assert settings_from_mapping({"platform": "kuaishou"},
                                 base=settings_from_mapping({"platform": "taobao"})).count_trailing_acks is False
    with pytest.raises(SettingsError, match="count_trailing_acks must be true or false"):
        settings_from_mapping({"count_trailing_acks": "yes"})
    with pytest.raises(SettingsError, match="closing_patterns: '祝您\\(' is not a valid regular expression"):
        settings_from_mapping({"closing_patterns": ["祝您("]})
    with pytest.raises(SettingsError, match="product_question_types must be a list drawn from"):
        settings_from_mapping({"product_question_types": ["shoes"]})
    with pytest.raises(SettingsError, match="question_types must be"):
        settings_from_mapping({"question_types": "model"})
    with pytest.raises(SettingsError, match="reply_turn_window_s must be a whole number"):
        settings_from_mapping({"reply_turn_window_s": -1})
