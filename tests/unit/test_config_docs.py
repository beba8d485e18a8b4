"""docs/configuration.md is generated from the Settings model; this keeps the two equal."""

from __future__ import annotations

from pydantic.fields import FieldInfo

from schemas.settings import ENV_PREFIX, Settings
from tools import gen_config_docs
from tools.gen_config_docs import COMMAND, OUTPUT, render


def test_configuration_page_matches_the_settings_model() -> None:
    current = OUTPUT.read_text("utf-8") if OUTPUT.exists() else ""
    assert current == render(), (
        f"docs/configuration.md differs from schemas/settings.py: run `{COMMAND}` "
        "and commit the result"
    )


def test_every_setting_has_a_row_and_a_description() -> None:
    text = render()
    for name, field in Settings.model_fields.items():
        assert field.description, f"{name}: add Field(description=...) in schemas/settings.py"
        assert f"| `{ENV_PREFIX}{name.upper()}` |" in text, name


def test_secret_defaults_are_masked() -> None:
    field = FieldInfo(default="postgresql://news:s3cret@db/n")
    shown = gen_config_docs._default("database_url", field)
    assert "s3cret" not in shown
    assert "***" in shown
