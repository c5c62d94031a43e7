"""Every command's --help as a user's terminal shows it: paragraphs reflowed, placeholders kept."""

import pytest
from typer.testing import CliRunner

from digitrec.cli import app

runner = CliRunner()


def _help(*command: str, columns: int) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": str(columns), "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


def test_a_docstring_paragraph_is_wrapped_to_the_terminal_not_to_the_source_lines():
    # the docstring breaks this sentence after "any recipe field"; a wide terminal shows it on one line
    assert "any recipe field can be overridden with its option" in _help("train", columns=200)
    narrow = _help("train", columns=60)
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 60


@pytest.mark.parametrize("command, placeholder", [
    (("train",), "runs/<recipe>-<timestamp>"),
    (("cv",), "runs/cv-<recipe>-<timestamp>"),
    (("compare",), "runs/compare-<timestamp>"),
])
def test_angle_bracket_placeholders_are_shown_not_taken_for_markup(command, placeholder):
    assert placeholder in _help(*command, columns=200)
