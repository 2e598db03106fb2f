"""Progress bars are opt-in in every script, and compare_all passes its choice on to each model."""

import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
try:
    import compare_all  # noqa: E402  (scripts/compare_all.py, which imports every model's script)
finally:
    sys.path.remove(str(SCRIPTS))


@pytest.mark.parametrize("name", sorted(compare_all.SCRIPTS))
@pytest.mark.parametrize("argv, expected", [([], False), (["--progress-bar"], True), (["--no-progress-bar"], False)])
def test_a_script_shows_progress_bars_only_when_asked(name, argv, expected):
    assert compare_all.SCRIPTS[name].build_parser().parse_args(argv).progress_bar is expected


@pytest.mark.parametrize("argv, expected", [([], False), (["--progress-bar"], True)])
def test_compare_all_passes_its_choice_to_each_script(argv, expected):
    args = compare_all.build_parser().parse_args(argv)
    for name, script in compare_all.SCRIPTS.items():
        assert script.build_parser().parse_args(compare_all.script_argv(args, name)).progress_bar is expected
