"""README documents the whole public contract: every feature and every config key."""

import dataclasses
from pathlib import Path

from fluxstream.config import AnalysisConfig, InputConfig, StftConfig
from fluxstream.dsp import registry

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_feature_and_its_parameters_are_documented():
    for name in registry.public_names():
        assert f"`{name}`" in README, name
        for f in dataclasses.fields(registry.get(name).params):
            assert f"`{f.name}=" in README or f"`{f.name}`" in README, (name, f.name)


def test_every_config_key_is_documented():
    for cls in (InputConfig, StftConfig, AnalysisConfig):
        for f in dataclasses.fields(cls):
            assert f"\n{f.name} = " in README or f"`{f.name}`" in README, (cls.__name__, f.name)
