"""``mlchecks evolve``: the continual-learning loop, with the gate at every step.

``--scenario domain`` (the default) is the loop below, judged by the domain rule (no earlier
holdout may lose more than ``max_forgetting``); ``--scenario class`` is the class-incremental
loop at the end of this docstring, judged by the class-incremental forgetting budget.

Data arrives in increments (class-incremental: the classes are split into ``--steps`` groups,
each increment brings the train and test samples of one new group). Step 1 trains the
reference MLP on the first increment; it has no champion, passes the absolute checks and
becomes version 0001. Every later step fine-tunes the champion on the new increment twice:

- **naive**: on the new increment only. It learns the new classes and forgets the old ones
  (catastrophic forgetting), so the gate rejects it (``regression.forgetting``, judged on every
  earlier version's holdout) and the registry is unchanged;
- **rehearsal**: on the new increment plus a replayed sample of the earlier increments'
  training data (``--replay``, the share replayed; default 1, all of it: with half of it the
  old classes are outnumbered and lose 2-4 pp, which the gate rightly rejects on some seeds).
  It keeps what earlier versions knew and is promoted.

Each version's holdout is the test split of its increment, so the forgetting matrix printed at
the end (versions and rejected candidates x holdouts) shows the forgetting directly.

At each step the gate runs the checks continual learning is about: the accuracy floor on the
increment (``accuracy.min``) and the four ``regression.*`` checks with the configured
thresholds; ``mlchecks gate`` runs every suite. The registry is a temporary folder unless
``--registry`` is given (lineage ``--name``, default ``evolve``).

``--scenario class`` (class-incremental, the Split MNIST protocol on the data's classes): the
classes arrive in ``--steps`` tasks (default 5: tasks of two digits), one 10-way head, each
gate judging the new task's data with ``scenario = "class"``
(:mod:`mlchecks.checks.continual`). **naive** fine-tunes the champion on the new task alone;
**rehearsal** on the new task plus a memory of ``--memory`` stored training samples per
earlier class (default 50, of about 135 per digit on digits: with 20 rehearsal forgot 54 pp
of the first task at step 2 and was rejected; with 50 it forgets at most 7 pp and is promoted at
every step).
Naive fine-tuning forgets the earlier tasks outright and is rejected at every step; rehearsal
forgets some and stays within the budget.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.errors import ConfigError

if TYPE_CHECKING:
    from mlchecks.config import Settings
    from mlchecks.data import Dataset
    from mlchecks.run.gate import SuiteRunner

DEFAULT_NAME = "evolve"
FORGETTING = "regression.forgetting"
SCENARIOS = ("domain", "class")
DEFAULT_STEPS = {"domain": 3, "class": 5}
DEFAULT_MEMORY = 50  # stored samples per earlier class (scenario class): measured on digits


@dataclasses.dataclass
class Attempt:
    """One candidate of one step and what the gate made of it."""

    step: int
    kind: str  # "initial", "naive", "rehearsal"
    classes: list[int]
    accepted: bool
    version: str | None
    failed: list[str]
    accuracy: dict[str, float]  # holdout label -> accuracy
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class EvolveResult:
    attempts: list[Attempt]
    holdouts: list[str]  # labels, in order of arrival
    registry: str
    name: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "registry": self.registry, "seconds": self.seconds,
                "holdouts": self.holdouts,
                "attempts": [a.to_json() for a in self.attempts]}  # fmt: skip


def increments(dataset: Dataset, steps: int) -> list[tuple[list[int], Dataset]]:
    """Split ``dataset`` class-incrementally into ``steps`` datasets (train and test of each
    group of classes; all keep the full class count)."""
    if steps > dataset.num_classes:
        msg = (
            f"--steps {steps}: {dataset.name} has only {dataset.num_classes} classes to split "
            f"into increments; use --steps 2..{dataset.num_classes}"
        )
        raise ConfigError(msg)
    out = []
    for group in np.array_split(np.arange(dataset.num_classes), steps):
        classes = [int(c) for c in group]
        tr = np.isin(dataset.y_train, classes)
        te = np.isin(dataset.y_test, classes)
        label = f"{classes[0]}-{classes[-1]}" if len(classes) > 1 else str(classes[0])
        out.append((classes, dataset.replace(
            name=f"{dataset.name}[classes {label}]",
            x_train=dataset.x_train[tr], y_train=dataset.y_train[tr],
            x_test=dataset.x_test[te], y_test=dataset.y_test[te], held=tuple(classes),
        )))  # fmt: skip
    return out


#: What the demo's gate judges at each step: continual learning is about these. Increments hold
#: a subset of the classes, so the data and setup suites (which expect every class) stay out.
CATEGORIES = ("accuracy", "regression")


def judge(
    settings: Settings,
    dataset: Dataset,
    model: Any,
    path: Path,
    runner: SuiteRunner,
    *,
    categories: tuple[str, ...] = CATEGORIES,
) -> tuple[Any, Any]:
    """Gate one candidate in-process through the one :class:`~mlchecks.run.gate.Gate`;
    promote it if accepted. Returns the session and the lineage outcome."""
    from mlchecks.config import ModelSpec
    from mlchecks.model.training import TrainedModel
    from mlchecks.run.gate import Gate
    from mlchecks.run.session import Session

    spec = ModelSpec(name=settings.name, path=str(path))
    trained = TrainedModel(settings.name, model, spec, path=path)
    run = settings.replace(models=(spec,))
    session = Session(run, dataset=dataset, models={spec.name: trained})
    decision = Gate(session, promote=True, categories=categories).run(runner)
    return session, decision.lineages[0]


def evolve(
    settings: Settings,
    dataset: Dataset,
    steps: int,
    *,
    epochs: int = 20,
    finetune_epochs: int = 5,
    replay: float = 1.0,
    workdir: Path,
    runner: SuiteRunner,
    echo: Any = print,
    scenario: str = "domain",
    memory: int = DEFAULT_MEMORY,
) -> EvolveResult:
    """Run the loop; ``settings.registry``/``settings.name`` say where versions go.

    Args:
        scenario: ``"domain"`` (rehearsal replays ``replay`` of the earlier training data) or
            ``"class"`` (rehearsal replays ``memory`` stored samples per earlier class; every
            gate runs with ``scenario = "class"``). Defaults to ``"domain"``.
    """
    if scenario not in SCENARIOS:
        msg = f"--scenario {scenario!r}: expected one of {SCENARIOS}"
        raise ConfigError(msg)
    settings = settings.replace(scenario=scenario)
    from mlchecks.config import ModelSpec
    from mlchecks.model import training

    start = time.perf_counter()
    parts = increments(dataset, steps)
    attempts: list[Attempt] = []
    holdouts: list[tuple[str, np.ndarray, np.ndarray]] = []
    seen_x: list[np.ndarray] = []
    seen_y: list[np.ndarray] = []
    rng = np.random.default_rng(settings.seed)
    recipe = ModelSpec(name=settings.name, builder="mlp", epochs=epochs)
    for step, (classes, part) in enumerate(parts, start=1):
        label = f"classes {classes[0]}-{classes[-1]}" if len(classes) > 1 else f"class {classes[0]}"
        holdouts.append((label, part.x_test, part.y_test))
        echo(f"step {step}/{steps}: {label} arrive ({part.n_train} train / {part.n_test} test)")
        if step == 1:
            kinds: list[tuple[str, np.ndarray, np.ndarray]] = [
                ("initial", part.x_train, part.y_train)
            ]
        else:
            old_x, old_y = np.concatenate(seen_x), np.concatenate(seen_y)
            if scenario == "class":  # the stored memory: the same samples at every step
                keep = np.arange(old_y.size)
            else:
                keep = rng.choice(old_y.size, size=max(1, round(replay * old_y.size)),
                                  replace=False)  # fmt: skip
            kinds = [
                ("naive", part.x_train, part.y_train),
                ("rehearsal", np.concatenate([part.x_train, old_x[keep]]),
                 np.concatenate([part.y_train, old_y[keep]])),
            ]  # fmt: skip
        for kind, x, y in kinds:
            t0 = time.perf_counter()
            training.set_seed(settings.seed + step, settings.deterministic)
            if kind == "initial":
                model = training.build(recipe, part)
                model.fit(x, y, epochs=epochs, batch_size=recipe.batch_size, verbose=0)
            else:
                from mlchecks.registry import open_registry

                registry = open_registry(settings.registry, root=Path(settings.root))
                champion = registry.state(settings.name).champion
                assert champion is not None
                model = training.load_model(registry.model_path(settings.name, champion))
                model.fit(x, y, epochs=finetune_epochs, batch_size=recipe.batch_size,
                          shuffle=True, verbose=0)  # fmt: skip
            path = workdir / f"step{step}-{kind}.keras"
            model.save(path)
            session, outcome = judge(settings, part, model, path, runner)
            failed = [c.id for c in session.checks if c.blocking]
            accuracy = _accuracies(session, holdouts)
            attempt = Attempt(step, kind, classes, not failed, outcome.version, failed, accuracy,
                              time.perf_counter() - t0)  # fmt: skip
            attempts.append(attempt)
            forgetting = next((c for c in session.checks if c.id == "regression.forgetting"), None)
            if failed:
                why = next((c for c in session.checks if c.blocking and c.id == FORGETTING),
                           next(c for c in session.checks if c.blocking))  # fmt: skip
                echo(f"  {kind:9} REJECTED ({', '.join(failed)}): {_short(why.message)}")
            else:
                extra = f"; {_short(forgetting.message)}" if forgetting and forgetting.value else ""
                echo(f"  {kind:9} ACCEPTED -> version {outcome.version}{extra}")
        stored = (stored_samples(part.y_train, memory, rng) if scenario == "class"
                  else np.arange(part.n_train))  # fmt: skip
        seen_x.append(part.x_train[stored])
        seen_y.append(part.y_train[stored])
    result = EvolveResult(attempts, [h[0] for h in holdouts], str(settings.registry),
                          settings.name, time.perf_counter() - start)  # fmt: skip
    echo(matrix_text(result))
    return result


def stored_samples(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of up to ``per_class`` samples of each class in ``labels`` (a replay memory)."""
    keep = [rng.choice(idx, size=min(per_class, idx.size), replace=False)
            for c in np.unique(labels) for idx in [np.flatnonzero(labels == c)]]  # fmt: skip
    return np.sort(np.concatenate(keep))


def _accuracies(
    session: Any, holdouts: list[tuple[str, np.ndarray, np.ndarray]]
) -> dict[str, float]:
    """The candidate's accuracy on every holdout so far, from the gate's own predictions
    (the earlier holdouts come from the registry, the newest is the current test split)."""
    from mlchecks.registry import Holdout, holdout_id
    from mlchecks.run import gate

    spec = session.settings.models[0]
    trained = session.model(spec)
    baseline = session.baseline(spec)
    earlier = baseline.holdouts if baseline else ()
    known = {h.id: h for h in (gate.session_holdout(session), *earlier)}
    out: dict[str, float] = {}
    for label, x, y in holdouts:
        # an increment whose candidates were all rejected left no holdout in the registry
        h = known.get(holdout_id(x, y)) or Holdout.from_arrays(x, y, session.dataset.num_classes)
        out[label] = float((gate.holdout_predictions(session, trained, h) == y).mean())
    return out


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def matrix_text(result: EvolveResult) -> str:
    """The forgetting matrix: accuracy of each version/candidate on each increment's holdout,
    and its average over the increments seen so far."""
    width = max(14, *(len(h) + 2 for h in result.holdouts))
    head = f"{'':26}" + "".join(f"{h:>{width}}" for h in result.holdouts) + f"{'average':>10}"
    lines = ["forgetting matrix (accuracy on each increment's holdout; rows: candidates by step)",
             head]  # fmt: skip
    for a in result.attempts:
        tag = f"v{a.version}" if a.version else ("accepted" if a.accepted else "rejected")
        row = f"step {a.step} {a.kind:9} {tag:>10}"
        row = f"{row:26}"
        for h in result.holdouts:
            value = a.accuracy.get(h)
            row += f"{'-' if value is None else f'{value:.3f}':>{width}}"
        seen = list(a.accuracy.values())
        row += f"{sum(seen) / len(seen):>10.3f}" if seen else f"{'-':>10}"
        lines.append(row)
    rejected = sum(1 for a in result.attempts if not a.accepted)
    lines.append(
        f"{len(result.attempts)} candidates, {rejected} rejected, "
        f"{sum(1 for a in result.attempts if a.version)} promoted; {result.seconds:.1f}s"
    )
    return "\n".join(lines)
