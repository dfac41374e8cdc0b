"""Guard detectors (empty, truncated, repetitive, wrong language, too long) and prompt files."""

from __future__ import annotations

import pytest

from curate.captioners import guards
from curate.captioners.base import Result
from curate.captioners.prompts import FIELDS, PromptError, load_prompts

GOOD = ("A man in a red jacket rides a mountain bike down a dusty trail while the camera pans "
        "left to follow him past tall pine trees in warm evening light.")


def test_clean_caption_passes():
    assert guards.check(Result(GOOD, "stop"), "en") == []


@pytest.mark.parametrize("text", [None, "", "   ", "...", "\n\t-"])
def test_empty(text):
    assert guards.check(Result(text, "stop")) == ["empty"]


def test_error_result():
    assert guards.check(Result(None, "error", error="HTTP 500")) == ["error"]


def test_truncated_is_length_finish():
    assert "truncated" in guards.check(Result(GOOD, "length"))
    assert "truncated" not in guards.check(Result(GOOD, "stop"))


@pytest.mark.parametrize("text", [
    "the dog runs and the dog runs and the dog runs and the dog runs and the dog runs",
    "a car drives down a road, " + "very " * 8 + "fast",
    "在路上在路上在路上在路上在路上在路上在路上",
    "a b c d a b c d a b c d e f a b c d a b c d a b c d",
])
def test_repetitive(text):
    assert guards.is_repetitive(text)


def test_not_repetitive_on_normal_text():
    assert not guards.is_repetitive(GOOD)
    assert not guards.is_repetitive("The camera pans left. The camera pans right.")


@pytest.mark.parametrize("text", [
    "Мужчина в красной куртке едет на велосипеде по пыльной тропе вечером.",
    "一个穿红色夹克的男人在尘土飞扬的小路上骑山地自行车。",
    "Un homme en veste rouge roule à vélo sur un sentier poussiéreux pendant que la caméra suit son mouvement.",
    "tQ bnd zk qqx vorp lm ztt wqa prr xlk",
])
def test_wrong_language_for_english(text):
    assert guards.is_wrong_language(text, "en")


def test_right_language():
    assert not guards.is_wrong_language(GOOD, "en")
    assert not guards.is_wrong_language("Мужчина в красной куртке едет на велосипеде по тропе.", "ru")
    assert not guards.is_wrong_language("short", "en")  # too short to judge
    assert not guards.is_wrong_language("anything at all", "xx")  # unknown code: never flagged


def test_too_long_brief():
    assert "too_long" in guards.check(Result(GOOD, "stop"), max_words=10)
    assert "too_long" not in guards.check(Result(GOOD, "stop"), max_words=30)


def test_default_prompt_file_loads_and_renders():
    p = load_prompts("configs/prompts/captions.yaml")
    assert set(p.templates) == set(FIELDS)
    text = p.render("diff", prev_t_s="1.0", t_s="2.0", prev_text="a dog")
    assert "1.0s" in text and "a dog" in text
    assert p.system and len(p.sha) == 12


def test_prompt_file_errors(tmp_path):
    good = load_prompts("configs/prompts/captions.yaml").templates
    bad = tmp_path / "p.yaml"
    import yaml

    bad.write_text(yaml.safe_dump(dict(good, brief="Say {detailed} in {max_wrds} words")))
    with pytest.raises(PromptError, match="max_wrds"):
        load_prompts(str(bad))
    bad.write_text(yaml.safe_dump({k: v for k, v in good.items() if k != "window"}))
    with pytest.raises(PromptError, match="'window' is missing"):
        load_prompts(str(bad))
    with pytest.raises(PromptError, match="not found"):
        load_prompts(str(tmp_path / "nope.yaml"))
