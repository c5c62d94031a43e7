"""Running the CLI in tests: success with its output, or exactly one clear error line."""

from typer.testing import CliRunner

from digitrec.cli import app

runner = CliRunner()


def ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def error_line(args: list[str], *fragments: str, code: int = 1) -> str:
    """Assert the command fails with `code`, printing one 'digitrec: error:' line, no traceback."""
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("digitrec: error:"), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
