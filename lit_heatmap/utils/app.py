"""What every entry point does around its work: the run's log file holds what the console showed, and a
user's mistake ends in one line.

* :func:`entry_point` wraps the task function under ``@hydra.main``: it checks the config before any
  set-up (:func:`lit_heatmap.utils.checks.check_config`), copies the console (``print``, warnings,
  Lightning's messages) into Hydra's job log file ``<run dir>/<task_name>.log`` while the task runs
  (:class:`RunLog`), and writes the traceback of any error there. A user's mistake (a
  :data:`USER_ERRORS` error: a bad config value, a missing file, an incompatible choice, a bad sample)
  ends the process with status 1 and one line on stderr; other errors go on to Hydra as before.
* :class:`CheckRunDir` is a Hydra callback that checks, before Hydra creates it, that the run (or sweep)
  directory can be created (``paths.log_dir=<a file>/logs``).
"""

from __future__ import annotations

import functools
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from lit_heatmap.codecs.compat import ExportError
from lit_heatmap.data.validation import BadSampleError
from lit_heatmap.utils.checkpoint import CheckpointError
from lit_heatmap.utils.checks import ConfigError, check_config, check_creatable_folder
from lit_heatmap.utils.config import ConfigCompatibilityError

#: errors that are the user's to fix: one line on the console, the traceback in the log file
USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    ConfigCompatibilityError,
    CheckpointError,
    BadSampleError,
    ExportError,
    FileNotFoundError,
)
#: Lightning's loggers, which do not propagate to the root logger when Lightning was imported first
LIGHTNING_LOGGERS = ("lightning.pytorch", "lightning.fabric")


class _Tee:
    """A console stream whose text also goes, line by line, to the log file (progress-bar redraws,
    i.e. writes holding ``\\r`` or escape codes, stay on the console only)."""

    def __init__(self, stream: TextIO, log: RunLog) -> None:
        self._stream, self._log = stream, log
        self._line, self._redraw = "", False

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        if "\r" in text or "\x1b" in text:
            self._redraw = True
        elif text == "\n" and self._redraw:  # the newline that closes a progress bar
            self._redraw = False
        else:
            self._redraw = False
            self._line += text
            if "\n" in self._line:
                done, self._line = self._line.rsplit("\n", 1)
                self._log.write(done + "\n")
        return n

    def flush(self) -> None:
        self._stream.flush()

    def close_line(self) -> None:
        if self._line:
            self._log.write(self._line + "\n")
            self._line = ""

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding...: the console's
        return getattr(self._stream, name)


class RunLog:
    """While active (a context manager), the text of ``sys.stdout``/``sys.stderr`` and the records of
    Lightning's loggers also go to the root logger's log file (Hydra's ``job_logging`` file handler).
    Does nothing when there is no such file (``hydra/job_logging=disabled``)."""

    def __init__(self) -> None:
        self.handler = next((h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)), None)
        self._saved: tuple[Any, Any] | None = None
        self._attached: list[logging.Logger] = []

    @property
    def path(self) -> str | None:
        return None if self.handler is None else self.handler.baseFilename

    def write(self, text: str) -> None:
        """Appends ``text`` to the log file as it is."""
        h = self.handler
        if h is None:
            return
        with h.lock:
            if h.stream is None:
                h.stream = h._open()
            h.stream.write(text)
            h.stream.flush()

    def write_traceback(self) -> None:
        """The traceback of the exception being handled, into the log file only."""
        self.write(traceback.format_exc())

    def __enter__(self) -> RunLog:
        if self.handler is None:
            return self
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = _Tee(sys.stdout, self), _Tee(sys.stderr, self)
        for name in LIGHTNING_LOGGERS:
            lg = logging.getLogger(name)
            if not lg.propagate and self.handler not in lg.handlers:
                lg.addHandler(self.handler)
                self._attached.append(lg)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._saved is None:
            return
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _Tee):
                stream.close_line()
        sys.stdout, sys.stderr = self._saved
        self._saved = None
        for lg in self._attached:
            lg.removeHandler(self.handler)
        self._attached = []


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.initialized() and str(HydraConfig.get().mode) == "RunMode.MULTIRUN"


def entry_point(task: str) -> Callable[[Callable[[DictConfig], Any]], Callable[[DictConfig], Any]]:
    """Decorator of an entry point's ``main(cfg)`` (below ``@hydra.main``): config checks first, the
    console copied into the run's log file, one line for a user's mistake (exit status 1).

    Args:
        task: ``"train"``, ``"eval"``, ``"predict"`` or ``"export"`` (which checks apply; the message prefix).
    """

    def wrap(main: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
        @functools.wraps(main)
        def run(cfg: DictConfig) -> Any:
            with RunLog() as log:
                try:
                    check_config(cfg, task)
                    return main(cfg)
                except USER_ERRORS as err:
                    log.write_traceback()
                    if _is_multirun():  # a sweep goes on to its other jobs; Hydra reports this one
                        raise
                    where = f" (traceback in {log.path})" if log.path else ""
                    print(f"lit-heatmap-{task}: error: {err}{where}", file=sys.stderr, flush=True)
                    raise SystemExit(1) from None
                except Exception:
                    log.write_traceback()
                    raise

        return run

    return wrap


class CheckRunDir(Callback):
    """Hydra callback: before Hydra creates the run (sweep) directory, check that it can; else one line
    naming ``paths.log_dir`` (or ``hydra.run.dir``) and exit status 1."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.sweep.dir")

    @staticmethod
    def _check(config: DictConfig, key: str) -> None:
        from hydra.core.hydra_config import HydraConfig

        try:
            HydraConfig.instance().set_config(config)
            run_dir = Path(str(OmegaConf.select(config, key))).expanduser().absolute()
            log_dir = OmegaConf.select(config, "paths.log_dir", default=None)
        except Exception:  # noqa: BLE001 - an unresolvable value: Hydra reports it
            return
        what = f"{key}={run_dir}"
        if log_dir is not None:
            log_path = Path(str(log_dir)).expanduser().absolute()
            if log_path == run_dir or log_path in run_dir.parents:
                what = f"paths.log_dir={log_dir}"
        try:
            check_creatable_folder(what, run_dir)
        except ConfigError as err:
            name = str(OmegaConf.select(config, "task_name", default="") or "")
            raise SystemExit(f"lit-heatmap-{name}: error: {err}" if name else f"error: {err}") from None
