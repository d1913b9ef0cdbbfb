"""`lit-gen --help` and what a run prints: every command listed, help without torch, quiet logs, `--verbose`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import pytest

from lit_gen.callbacks.progress import EpochLines
from lit_gen.cli import COMMANDS, main
from lit_gen.console import VERBOSE_ENV, quiet_third_parties


def test_help_lists_every_command_with_one_line(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    for name in ["fit", "validate", "test", "sample", "compare", "features", "sweep", "submit"]:
        assert name in COMMANDS
        assert any(line.split()[:1] == [name] and len(line.split()) > 2 for line in out.splitlines()), out
    assert "--verbose" in out


def test_a_mistyped_command_names_the_nearest_one(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["fti", "--config", "x.yaml"])
    assert exit_.value.code == 1
    assert "unknown command 'fti': did you mean 'fit'?" in capsys.readouterr().err


def test_help_of_commands_that_do_not_train_loads_neither_torch_nor_lightning():
    """One fresh interpreter (torch is loaded in this one) asks every such help; ~0.5 s where torch would add ~5 s."""
    script = (
        "import sys, contextlib, io\n"
        "from lit_gen.cli import main\n"
        "for args in (['--help'], ['sample', '--help'], ['compare', '--help'], ['features', '--help'],\n"
        "             ['features', 'train', '--help'], ['sweep', '--help'], ['submit', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(args)\n"
        "        except SystemExit as exit_:\n"
        "            assert exit_.code in (0, None), (args, exit_.code)\n"
        "print(sorted(m for m in ('torch', 'lightning', 'jsonargparse', 'optuna', 'matplotlib') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_verbose_is_taken_off_the_command_line_and_kept_for_child_processes(monkeypatch, capsys):
    monkeypatch.setenv(VERBOSE_ENV, "0")  # and back as it was after the test
    with pytest.raises(SystemExit):
        main(["--verbose", "--help"])
    assert os.environ[VERBOSE_ENV] == "1"
    capsys.readouterr()


@pytest.mark.parametrize("max_epochs, shown", [
    (100, [0, *range(4, 100, 5)]),  # ~20 lines and the first
    (3, [0, 1, 2]),
    (-1, list(range(7))),  # no known end: every epoch
])
def test_epoch_lines_show_about_twenty_epochs_of_a_long_run(max_epochs, shown):
    bar = EpochLines(max_lines=20)
    assert [e for e in range(min(abs(max_epochs), 100) if max_epochs > 0 else 7) if bar._shown(e, max_epochs)] == shown


def test_quiet_run_filters_only_the_named_messages(monkeypatch, caplog):
    monkeypatch.setenv(VERBOSE_ENV, "0")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_third_parties()
        warnings.warn_explicit("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning,
                               "_pytree.py", 21, module="lightning.pytorch.utilities._pytree")
        warnings.warn_explicit("something else is deprecated", FutureWarning, "_pytree.py", 22,
                               module="lightning.pytorch.utilities._pytree")
    assert [str(w.message) for w in caught] == ["something else is deprecated"]
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("💡 Tip: try our cloud")
        logger.info("GPU available: False, used: False")
        monkeypatch.setenv(VERBOSE_ENV, "1")
        logger.info("💡 Tip: shown when verbose")
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False",
                                                         "💡 Tip: shown when verbose"]
