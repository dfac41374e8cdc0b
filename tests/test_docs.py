"""The README's config reference is the generated one, and every CLI command is documented."""

from __future__ import annotations

import os

from curate.cli import app, config_reference

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def test_config_reference_is_current():
    text = open(README).read()
    assert config_reference().strip() in text, "run `curate config-reference` and paste it into README.md"


def test_every_command_in_readme():
    text = open(README).read()
    for cmd in app.registered_commands:
        name = cmd.name or cmd.callback.__name__.replace("_", "-")
        assert f"curate {name}" in text, name
    for group in app.registered_groups:
        assert f"curate {group.name}" in text, group.name
