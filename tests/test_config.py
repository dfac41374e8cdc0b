"""Config loading: unknown keys named with their file, overrides, CLI errors without tracebacks."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.config import ConfigError, load_config


def test_defaults_and_override(tmp_path):
    cfg = load_config(None, ["cuts.detector=content", "clips.max_s=12.5", "input.sources=[a.mp4, b.mp4]"])
    assert cfg.cuts.detector == "content" and cfg.clips.max_s == 12.5
    assert cfg.input.sources == ["a.mp4", "b.mp4"]


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("cuts:\n  treshold: 20\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "cuts.treshold" in str(e.value) and str(p) in str(e.value)


def test_unknown_section(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("cutz: {}\n")
    with pytest.raises(ConfigError, match="unknown key 'cutz'"):
        load_config(p)


def test_bad_value_and_cross_field(tmp_path):
    with pytest.raises(ConfigError, match="cuts.detector"):
        load_config(None, ["cuts.detector=fancy"])
    with pytest.raises(ConfigError, match="max_s"):
        load_config(None, ["clips.min_s=10", "clips.max_s=5"])


def test_shipped_configs_are_valid():
    for name in ("configs/local.yaml", "configs/cluster.yaml"):
        load_config(name)


def test_hash_ignores_output_and_ray():
    a = load_config(None, ["output.dir=/x", "ray.num_cpus=1"])
    b = load_config(None, ["output.dir=/y"])
    c = load_config(None, ["cuts.threshold=30"])
    assert a.hash() == b.hash() != c.hash()


def test_cli_reports_config_errors_without_traceback(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("clips:\n  min_len: 3\n")
    res = CliRunner().invoke(app, ["run", "--config", str(p)])
    assert res.exit_code == 2
    assert "clips.min_len" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["run", "--config", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "not found" in res.output
    res = CliRunner().invoke(app, ["run", "--set", "nonsense"])
    assert res.exit_code == 2 and "section.key=value" in res.output


def test_actor_reservations_leave_a_cpu_for_tasks():
    from curate.dag import actor_cpu_scale, plan

    cfg = load_config("configs/local.yaml")  # analyze + aesthetics actors on a 2-CPU machine
    specs = plan(cfg)
    scale = actor_cpu_scale(specs, 2)
    reserved = sum(s.resources.num_cpus * (s.resources.concurrency or 2) for s in specs if s.resources.actor)
    assert reserved * scale <= 1.0 + 1e-9
    assert actor_cpu_scale(specs, 64) == 1.0
