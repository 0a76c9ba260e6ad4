"""Same-run A/B of two models' training step: interleaved paired rounds on the same batches.

A training figure measured at another moment (the champion's, stored in the registry) says
little about this one: on a shared CI machine the same model ran 14.9-86.9 GFLOP/s apart within
one run. :func:`measure_ab` therefore trains the candidate and the champion **in the same
process, on the same device, on the same batches, interleaved**:

- both models are compiled with the same execution settings (:data:`SHARED_COMPILE`:
  ``jit_compile="auto"``, ``steps_per_execution=1``, eager off), each with its own optimizer,
  loss and metrics from its compile config (they are part of what training it costs). A
  ``.keras`` saved under another backend keeps ``jit_compile: False`` in its config; without
  this, one side could run XLA and the other not;
- both are warmed up (the first step traces/compiles, then a few more steps, untimed);
- then rounds: a round is ``steps`` training steps of each model, alternating model at every
  step (candidate-champion, champion-candidate, ...; the next round starts with the other
  model), both on batch ``j`` at step ``j``. Each model's figure for the round is its
  **median seconds per step** in it. A load spell of the shared machine longer than a couple
  of steps slows both models of a round, so it cancels in the round's ratio; a shorter one
  (a time slice given to another process) lands on a few steps of one side and does not move
  a median. The sums are kept too (``candidate_total_s``), but they carry those slices: under
  load their per-round ratio spreads about twice as wide. The median is a model's typical step;
  a model whose steps differ by design (a custom ``train_step`` doing extra work every n-th
  step) would be judged on its typical step;
- the rounds are looked at after ``8, 16, 32, ...`` of them (:meth:`ABPlan.schedule`); the
  caller's ``decided(ratios)`` says whether to stop there. Rounds stop at the last look or when
  the timed rounds would exceed the budget;
- the budget is sized from the measured step time: ``budget_s`` (3 s) unless ``min_rounds``
  rounds (8: fewer cannot give a sign-test bound at the default level over 4 looks) of one
  step of each model would not fit it; then it is raised to what they take (with a margin of
  :data:`BUDGET_MARGIN`), at most ``max_budget_s`` (30 s). A model whose steps take ~0.2 s
  (PyTorch on a shared 2-core CPU) gets its 8 rounds in ~5 s instead of one round in 3 s (a
  10x slower candidate then passed undecided); the reference MLP on TensorFlow (a few ms per
  step) keeps 3 s. Beyond ``max_budget_s`` the rounds that fit are run and the check says
  how long the minimum would take (``budget`` in the details).

One step is ``model.train_on_batch`` of one batch: the user's compiled training step (forward,
loss, gradients, optimizer update, metrics), timed with ``time.perf_counter``; it returns its
logs as numpy, which waits for the device. The per-epoch costs of ``fit`` (callbacks, the data
adapter) are the same for any model and are left out, so they do not dilute the ratio.
Alternating at every step also means neither model keeps its weights in the CPU caches between
its steps, as it would in a real ``fit``; this favours a large model against a small one a
little (the ratio leans towards 1), never the other way.

The two models are trained: give copies (:func:`training_copy`, or load the files again) when
the originals are judged afterwards. The statistics and the decision are in
:mod:`mlchecks.checks.speed`. No pytest here; Keras is imported lazily.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.errors import ModelError

if TYPE_CHECKING:
    import keras

    from mlchecks.measure.calibration import Probe
    from mlchecks.measure.speed import Speed

#: Execution settings both models of an A/B are compiled with.
SHARED_COMPILE: Mapping[str, Any] = {
    "jit_compile": "auto",
    "steps_per_execution": 1,
    "run_eagerly": False,
}

#: What a model saved without compile settings is compiled with (as ``training.build`` does).
REFERENCE_COMPILE: Mapping[str, Any] = {
    "optimizer": "adam",
    "loss": "sparse_categorical_crossentropy",
    "metrics": ["accuracy"],
}

SIDES = ("candidate", "champion")

#: A raised budget is this many times the estimated time of ``min_rounds`` one-step rounds: the
#: estimate comes from the fastest warm-up steps, and load makes later steps slower.
BUDGET_MARGIN = 1.5


@dataclasses.dataclass(frozen=True)
class ABPlan:
    """How much an A/B measures. The defaults keep the timed rounds under 3 s per candidate
    (up to 30 s when its steps are so slow that 8 rounds would not fit in 3 s).

    Attributes:
        first_look: rounds at the first look; each later look doubles them.
        looks: planned looks (after 8, 16, 32, 64 rounds by default); the decision tests each
            at ``alpha / looks``.
        round_s: target seconds of one round (both models' steps together); sets the steps
            of the first round from the fastest warm-up steps, of each later one from the
            median seconds per step of the rounds so far (a loaded machine gets shorter rounds,
            so more of them fit the budget).
        min_steps: steps of each model per round, at least (a median of fewer says little),
            unless the first look would not fit the budget then.
        max_steps: steps of each model per round, at most.
        budget_s: seconds of timed rounds, at most (a round that would end past it is not
            started), unless ``min_rounds`` rounds need more.
        min_rounds: interleaved rounds to measure at least, raising the budget for them
            when the steps are slow (8: the fewest that give a bound at 95% over 4 looks).
        max_budget_s: the most seconds the budget is raised to for ``min_rounds``.
        warmup_steps: untimed steps of each model after the first one (which traces).
        max_batches: distinct batches, cycled through.
    """

    first_look: int = 8
    looks: int = 4
    round_s: float = 0.1
    min_steps: int = 5
    max_steps: int = 64
    budget_s: float = 3.0
    warmup_steps: int = 3
    max_batches: int = 32
    min_rounds: int = 8
    max_budget_s: float = 30.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("float", float):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
                want = "a number > 0"
            else:
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
                want = "an integer >= 1"
            if not ok:
                msg = f"A/B plan {field.name} must be {want}, got {value!r}"
                raise ValueError(msg)
        if self.max_budget_s < self.budget_s:
            msg = (
                f"A/B plan max_budget_s ({self.max_budget_s!r}) must be at least budget_s "
                f"({self.budget_s!r})"
            )
            raise ValueError(msg)

    def sized_budget(self, pair_s: float) -> dict[str, Any]:
        """The budget for steps of ``pair_s`` seconds per pair (one step of each model):
        ``budget_s``, or what ``min_rounds`` one-step rounds take (x :data:`BUDGET_MARGIN`)
        up to ``max_budget_s``. Returns ``{"budget_s", "planned_s", "min_rounds",
        "min_rounds_s", "max_budget_s", "raised"}``."""
        need = self.min_rounds * pair_s
        budget = self.budget_s
        if need > self.budget_s:
            budget = min(self.max_budget_s, need * BUDGET_MARGIN)
        return {"budget_s": budget, "planned_s": self.budget_s, "min_rounds": self.min_rounds,
                "min_rounds_s": need, "max_budget_s": self.max_budget_s,
                "raised": budget > self.budget_s}  # fmt: skip

    def schedule(self) -> tuple[int, ...]:
        """The round counts at which the measurement looks (and may stop)."""
        return tuple(self.first_look * 2**j for j in range(self.looks))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ABRounds:
    """Per-round seconds of both models of one A/B (warm-up excluded).

    ``candidate_s[i]`` and ``champion_s[i]`` are the median seconds per step of each model in
    round ``i`` (``round_steps[i]`` steps each, on the same batches); ``*_total_s`` the summed
    seconds.
    """

    candidate_s: tuple[float, ...]
    champion_s: tuple[float, ...]
    candidate_total_s: tuple[float, ...]
    champion_total_s: tuple[float, ...]
    candidate_first: tuple[bool, ...]
    round_steps: tuple[int, ...]
    batch_size: int
    looked_at: tuple[int, ...]
    planned_looks: int
    stopped: str
    warmup_s: Mapping[str, float]
    timed_s: float
    elapsed_s: float
    budget_s: float
    compile: Mapping[str, Any]
    device: Mapping[str, str]
    plan: Mapping[str, Any]
    measured_at: str = ""
    budget: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def ratios(self) -> tuple[float, ...]:
        """Candidate seconds / champion seconds, per round (> 1: the candidate is slower)."""
        return tuple(c / h for c, h in zip(self.candidate_s, self.champion_s, strict=True))

    @property
    def rounds(self) -> int:
        return len(self.candidate_s)

    @property
    def steps(self) -> int:
        """Steps of each model in a typical round (the median over rounds; 0: no round)."""
        return int(statistics.median(self.round_steps)) if self.round_steps else 0

    def step_s(self, side: str) -> float:
        """Seconds per step of ``side`` (``candidate`` or ``champion``): median over rounds."""
        seconds = self.candidate_s if side == "candidate" else self.champion_s
        return float(statistics.median(seconds))

    def samples_per_s(self, side: str) -> float:
        return self.batch_size / self.step_s(side)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in (
            "candidate_s",
            "champion_s",
            "candidate_total_s",
            "champion_total_s",
            "candidate_first",
            "round_steps",
            "looked_at",
        ):
            out[key] = list(out[key])
        out["rounds"] = self.rounds
        out["steps"] = self.steps
        for side in SIDES:
            out[f"{side}_step_s"] = self.step_s(side)
            out[f"{side}_samples_per_s"] = self.samples_per_s(side)
        return out


def training_copy(model: keras.Model) -> keras.Model:
    """A copy of an in-memory model to train in an A/B: same architecture, weights and compile
    config; the original is not touched. (Models that have a file are better loaded again.)

    Raises:
        ModelError: the model cannot be cloned (a subclassed model: load its file instead).
    """
    import keras

    try:
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
    except Exception as exc:
        msg = (
            f"model {model.name!r} cannot be copied for the speed A/B "
            f"({type(exc).__name__}: {exc}); load its file again instead"
        )
        raise ModelError(msg) from None
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if config:
        copy.compile_from_config(config)
    return copy


def _recompile(model: keras.Model) -> dict[str, Any]:
    """Compile ``model`` with its own optimizer, loss and metrics and :data:`SHARED_COMPILE`.

    Returns what it was compiled with (for the details).
    """
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    source = "its compile config"
    try:
        if config:
            model.compile_from_config({**config, **SHARED_COMPILE})
        else:
            source = "the reference settings (saved without compile settings)"
            model.compile(**REFERENCE_COMPILE, **SHARED_COMPILE)
    except Exception as exc:  # an optimizer or loss Keras cannot rebuild here
        text = " ".join(str(exc).split())[:200]
        if not getattr(model, "compiled", False):
            msg = (
                f"model {model.name!r} cannot be compiled for training "
                f"({type(exc).__name__}: {text})"
            )
            raise ModelError(msg) from None
        source = f"its own compile state, not recompiled ({type(exc).__name__}: {text})"
    optimizer = getattr(model, "optimizer", None)
    return {
        "from": source,
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "loss": str((config or REFERENCE_COMPILE).get("loss")),
        "jit_compile": bool(getattr(model, "jit_compile", False)),
        "steps_per_execution": int(getattr(model, "steps_per_execution", 1) or 1),
        "run_eagerly": bool(getattr(model, "run_eagerly", False)),
    }


def _execution(compiled: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(compiled[k] for k in ("jit_compile", "steps_per_execution", "run_eagerly"))


def measure_ab(
    candidate: keras.Model,
    champion: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    plan: ABPlan | None = None,
    decided: Callable[[Sequence[float]], bool] | None = None,
    device: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ABRounds:
    """Time the training step of ``candidate`` and ``champion`` in interleaved paired rounds.

    Both models are recompiled (:data:`SHARED_COMPILE`) and trained: pass copies.

    Args:
        candidate: the model under test (a copy).
        champion: the champion's model (a copy), same input and output shapes.
        x: training inputs (at least one batch); both models train on the same batches.
        y: integer labels.
        batch_size: the batch size of both (the candidate's training batch size).
        plan: sizes and budget. Defaults to :class:`ABPlan`.
        decided: called with the per-round ratios at each planned look; ``True`` stops.
            Defaults to None (rounds run to the last look or the budget).
        device: ``"CPU"``/``"GPU"`` where the caller placed the work (for the details).
            Defaults to the backend's default device.
        clock: the timer. Defaults to ``time.perf_counter``.

    Raises:
        ModelError: fewer samples than one batch, or a model that cannot be compiled or
            trained on the data (the message names which).
    """
    from mlchecks.measure.speed import _device, _now

    plan = plan or ABPlan()
    n_batches = min(plan.max_batches, len(x) // batch_size)
    if n_batches < 1:
        msg = (
            f"the speed A/B needs at least one batch of {batch_size} samples; the data has "
            f"{len(x)}; use a larger dataset or a smaller batch_size"
        )
        raise ModelError(msg)
    started = clock()
    batches = [
        (np.ascontiguousarray(x[i * batch_size : (i + 1) * batch_size]),
         np.ascontiguousarray(y[i * batch_size : (i + 1) * batch_size]))
        for i in range(n_batches)
    ]  # fmt: skip
    models = {"candidate": candidate, "champion": champion}
    compiled = {side: _recompile(model) for side, model in models.items()}
    like = _execution(compiled["candidate"]) == _execution(compiled["champion"])
    compile_info: dict[str, Any] = {"shared": dict(SHARED_COMPILE), "same_execution": like,
                                    **compiled}  # fmt: skip
    if not like:
        compile_info["note"] = (
            "the two models run with different execution settings (one could not be "
            "recompiled): the ratio includes that difference"
        )

    def step(side: str, j: int) -> float:
        bx, by = batches[j % n_batches]
        t0 = clock()
        models[side].train_on_batch(bx, by)
        return clock() - t0

    warmup: dict[str, float] = {}
    warm: dict[str, list[float]] = {side: [] for side in SIDES}
    for side in SIDES:
        try:
            warmup[side] = step(side, 0)
        except Exception as exc:
            text = " ".join(str(exc).split())[:300]
            msg = (
                f"the {side}'s model {models[side].name!r} cannot be trained on the benchmark "
                f"data ({type(exc).__name__}: {text})"
            )
            raise ModelError(msg) from None
    for j in range(plan.warmup_steps):
        for side in SIDES if j % 2 == 0 else SIDES[::-1]:
            warm[side].append(step(side, j + 1))
    pair_s = sum(min(warm[side]) for side in SIDES) if plan.warmup_steps else 0.0
    if not plan.warmup_steps:  # no untimed steps: size the budget from the first ones
        pair_s = sum(warmup.values())
    sized = plan.sized_budget(pair_s)
    budget = float(sized["budget_s"])
    schedule = plan.schedule()

    def steps_for(n: int, timed: float, pair: float) -> int:
        """About round_s per round at ``pair`` seconds per pair of steps; at least min_steps,
        unless the rounds left to the first look would not fit the budget then."""
        if pair <= 0:
            return plan.min_steps
        steps = min(plan.max_steps, max(plan.min_steps, round(plan.round_s / pair)))
        if n < plan.first_look:
            steps = min(steps, int((budget - timed) / ((plan.first_look - n) * pair)))
        return max(1, steps)

    cand: list[float] = []
    champ: list[float] = []
    totals: dict[str, list[float]] = {side: [] for side in SIDES}
    round_steps: list[int] = []
    first: list[bool] = []
    looked: list[int] = []
    stopped = "last look"
    timed = 0.0
    j = 0
    # The first round is sized from the fastest warm-up steps (the least disturbed by load),
    # each later one from the median seconds per pair of steps of the rounds so far.
    pair = pair_s
    while True:
        n = len(cand)
        if n in schedule:
            looked.append(n)
            if decided is not None and decided([c / h for c, h in zip(cand, champ, strict=True)]):
                stopped = "decided"
                break
            if n == schedule[-1]:
                break
        if n:
            per_pair = [(totals["candidate"][i] + totals["champion"][i]) / round_steps[i]
                        for i in range(n)]  # fmt: skip
            pair = float(statistics.median(per_pair))
        steps = steps_for(n, timed, pair)
        # the next round would end past the budget; short of min_rounds, past max_budget_s
        cap = budget if n >= plan.min_rounds else max(budget, plan.max_budget_s)
        if n and timed + steps * pair > cap:
            stopped = "budget" if n >= plan.min_rounds else "max budget"
            break
        candidate_first = n % 2 == 0
        times: dict[str, list[float]] = {side: [] for side in SIDES}
        for k in range(steps):
            for side in SIDES if (k % 2 == 0) == candidate_first else SIDES[::-1]:
                times[side].append(step(side, j))
            j += 1
        cand.append(float(statistics.median(times["candidate"])))
        champ.append(float(statistics.median(times["champion"])))
        for side in SIDES:
            totals[side].append(sum(times[side]))
            timed += totals[side][-1]
        round_steps.append(steps)
        first.append(candidate_first)
    return ABRounds(
        candidate_s=tuple(cand),
        champion_s=tuple(champ),
        candidate_total_s=tuple(totals["candidate"]),
        champion_total_s=tuple(totals["champion"]),
        candidate_first=tuple(first),
        round_steps=tuple(round_steps),
        batch_size=batch_size,
        looked_at=tuple(looked),
        planned_looks=plan.looks,
        stopped=stopped,
        warmup_s=warmup,
        timed_s=timed,
        elapsed_s=clock() - started,
        budget_s=budget,
        compile=compile_info,
        device=_device(device).to_json(),
        plan=plan.to_json(),
        measured_at=_now(),
        budget=sized,
    )


def measure_ab_training(
    candidate: keras.Model,
    champion: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    plan: ABPlan | None = None,
    decided: Callable[[Sequence[float]], bool] | None = None,
    probe: Probe | None = None,
    device: str | None = None,
) -> tuple[ABRounds, Speed]:
    """The speed A/B of ``candidate`` against ``champion``, and the candidate's training figure
    taken from its side of it.

    With a champion to race, the candidate's training step is already timed by the A/B
    (:func:`measure_ab`: interleaved with the champion's, on the same batches); timing it again
    with :func:`~mlchecks.measure.speed.measure_training` would trace and train it a second time
    for a figure that is information only. The figure returned (``source="ab"``) is the
    candidate's median seconds per ``train_on_batch`` step in each round (``steps`` = 1 per
    round; the per-epoch costs of ``fit`` are left out, so it reads a little faster than a
    ``fit`` figure of the same model), normalised by calibration samples taken just before and
    just after the A/B; ``warmup_s`` is its first (tracing) step; ``memory`` is the process peak
    while both models trained. Both models are trained: pass copies.

    Raises:
        ModelError: as :func:`measure_ab`.
    """
    from mlchecks.measure.flops import count_flops
    from mlchecks.measure.memory import PeakMemory
    from mlchecks.measure.speed import _device, _probe_for, _speed
    from mlchecks.measure.timing import Rounds

    flops = count_flops(candidate)
    info = _device(device)
    probe = _probe_for(probe, info)
    started = time.perf_counter()
    first = len(probe.rates)
    probe.sample()
    with PeakMemory(info.kind) as memory:
        rounds = measure_ab(candidate, champion, x, y, batch_size=batch_size, plan=plan,
                            decided=decided, device=device)  # fmt: skip
    probe.sample()
    rates = probe.rates[first:]
    gflops = sum(rates) / len(rates) if rates else 0.0
    speed = _speed(
        "training",
        batch_size,
        1,
        batch_size,
        float(rounds.warmup_s["candidate"]),
        Rounds(rounds.candidate_s),
        [gflops] * rounds.rounds,
        probe,
        flops.train,
        flops,
        info,
        memory,
        started,
        source="ab",
    )
    return rounds, speed
