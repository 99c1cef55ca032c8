"""``wcbench measure``: any command's memory, process by process, the bytes pickled across its
tree, and its wall time over repeated runs, saved as a run of the suite.

Memory and pickled bytes are measured in one untimed run (the probe in every Python process,
the tree sampled from outside every 2 ms: both cost CPU), as the suite measures a case's memory
in an untimed call; then the command is timed bare, as many times as the suite would time a
case as slow: three pilot runs when three fit in 1.5 s, then rounds until the median's 95%
interval is within +-5% (``wcbench.matrix.rounds_for_spread``) within a budget of about 2 s of
runs (at least 5, at most 50; a run over 12 s gets fewer, at least 3), or exactly ``--runs N``.

A command that exits non-zero (or times out) is not timed again: the run is saved with that
status, marked failed, and the command exits 1. Ctrl-C or SIGTERM stops the tree, saves what
finished (the measured run, the timed runs so far: an incomplete run) and exits 130 or 143.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wcbench import record
from wcbench.matrix import pilot_calls, rounds_for, rounds_for_spread
from wcbench.measure import command as commands
from wcbench.measure import output, save
from wcbench.measure.command import Outcome
from wcbench.sampler import SamplerProcess, TreeSampler
from wcbench.stopping import Stopped


@dataclass(frozen=True)
class Settings:
    """What ``wcbench measure`` was asked: the options, parsed."""

    argv: tuple[str, ...]
    runs: int | None = None
    timeout: float | None = None
    storage: Path | None = Path("results")
    json_path: Path | None = None
    plot_path: Path | None = None
    name: str | None = None


@dataclass
class Session:
    """What has finished so far: the measured run, the pilot and the timed runs."""

    settings: Settings
    measured: Outcome | None = None
    pilot: list[Outcome] = field(default_factory=list)
    timed: list[Outcome] = field(default_factory=list)

    @property
    def failure(self) -> Outcome | None:
        return next((o for o in (self.measured, *self.pilot, *self.timed)
                     if o is not None and not o.ok), None)

    def run_rounds(self) -> None:
        """Pilot and timed runs (none after a failure)."""
        assert self.measured is not None
        settings = self.settings
        rounds = settings.runs
        if rounds is None:
            budget, _ = rounds_for(1, self.measured.seconds)
            for _ in range(pilot_calls(self.measured.seconds)):
                self.pilot.append(commands.bare_run(settings.argv, settings.timeout))
                if self.failure:
                    return
            rounds = rounds_for_spread([o.seconds for o in self.pilot], budget) \
                if self.pilot else budget
        for _ in range(rounds):
            self.timed.append(commands.bare_run(settings.argv, settings.timeout))
            if self.failure:
                return


def _extra_info(session: Session) -> dict[str, object]:
    measured = session.measured
    assert measured is not None and measured.figures is not None
    failed = session.failure
    timed = [o for o in session.timed if o.ok]
    return record.command_fields(
        argv=session.settings.argv, cwd=os.getcwd(),
        failure=failed.describe() if failed else None,
        exit_status=failed.status if failed else 0, figures=measured.figures,
        timed_runs=len(timed), measured_seconds=measured.seconds,
        cpu_seconds=statistics.median(o.cpu_seconds for o in timed) if timed else None,
        pilot_seconds=[o.seconds for o in session.pilot])


def _seconds(session: Session) -> list[float]:
    """The timed runs' wall times; the measured run's when none finished (the record says
    ``timed_runs: 0``)."""
    timed = [o.seconds for o in session.timed if o.ok]
    assert session.measured is not None
    return timed or [session.measured.seconds]


def _finish(session: Session, incomplete: dict | None) -> list[str]:
    """Save, write ``--json`` and the plot; lines saying where."""
    settings = session.settings
    assert session.measured is not None and session.measured.figures is not None
    name = settings.name or save.default_name(settings.argv)
    bench = save.benchmark_json(name, _seconds(session), _extra_info(session))
    lines = []
    saved = None
    if settings.storage is not None:
        saved = save.save(settings.storage, save.run_json(bench, incomplete=incomplete))
        lines.append(f"saved {saved}")
    if settings.json_path is not None:
        save.write_json(settings.json_path, bench, session.measured.figures.timeline)
        lines.append(f"wrote {settings.json_path}")
    plot = settings.plot_path or (saved.with_name(saved.stem + "-memory.png") if saved else None)
    if plot is not None and session.measured.figures.timeline:
        output.plot(session.measured.figures, plot, f"{name}: memory over time")
        lines.append(f"plot: {plot}")
    return lines


def signal_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Stopped) else "SIGINT"


def _say(exc: KeyboardInterrupt, what: str) -> None:
    """Put ``what`` in the one line the CLI prints for an interruption (``stopped by SIGTERM
    ...``, ``interrupted ...``)."""
    exc.args = (f"{signal_name(exc)} {what}" if isinstance(exc, Stopped) else what,)


def _print(lines: Sequence[str]) -> None:
    print("\n".join(lines), flush=True)


def measure_command(settings: Settings) -> int:
    """Measure, time, save and print; the exit status (0, 1 when the command failed)."""
    commands.check_command(settings.argv)
    commands.become_subreaper()
    session = Session(settings)
    sampler = SamplerProcess()
    try:
        with TreeSampler(os.getpid(), process=sampler):  # its start-up paid before the clock
            pass
        session.measured = commands.measured_run(settings.argv, settings.timeout, sampler)
    except KeyboardInterrupt as exc:
        sampler.close(kill=True)
        _say(exc, "during the measured run, its tree stopped; nothing had finished, nothing "
                  "saved")
        raise
    except BaseException:
        sampler.close(kill=True)
        raise
    sampler.close()
    measured = session.measured
    assert measured.figures is not None
    _print([f"wcbench measure: {' '.join(settings.argv)}", "",
            *output.process_lines(measured.figures), "",
            *output.summary_lines(measured.figures, measured.seconds), *measured.notes])
    try:
        if measured.ok:
            session.run_rounds()
    except KeyboardInterrupt as exc:
        how = signal_name(exc)
        kept = _finish(session, record.incomplete_fields(
            reason=how, detail=f"stopped by {how}", running="timed runs",
            finished=len(session.timed)))
        _say(exc, f"after {len(session.timed)} timed run(s), the tree stopped; "
                  + "; ".join(kept))
        raise
    failed = session.failure
    lines = [output.timing_line([o.seconds for o in session.timed if o.ok],
                                [o.cpu_seconds for o in session.timed if o.ok],
                                len(session.pilot))]
    for o in (*session.pilot, *session.timed):
        lines += o.notes
    if failed is not None:
        lines.append(f"FAILED: the command's {failed.describe()} (recorded as failed)")
        if failed.stderr_tail.strip():
            lines += ["its standard error ended with:", failed.stderr_tail.rstrip()]
    _print([*lines, *_finish(session, None)])
    if failed is not None:
        print(f"measure: {' '.join(settings.argv)}: {failed.describe()}", file=sys.stderr)
        return 1
    return 0
