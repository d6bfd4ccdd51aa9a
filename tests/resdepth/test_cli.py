"""The command line frame: every command is listed, loads its own parser, and teaches with --help."""

import pytest

from resdepth.cli import COMMANDS, build_parser, main


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_has_a_full_parser_and_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: resdepth {command}" in capsys.readouterr().out


def test_only_the_named_command_is_given_its_full_parser():
    parser = build_parser("paths")
    choices = parser._subparsers._group_actions[0].choices
    assert "--arch" in choices["paths"].format_help()
    assert "--arch" not in choices["train"].format_help()


def test_unknown_command_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bogus"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
