"""Timing, calibration, FLOPs, memory and the speed measurements of a model: no checks here.

``speed.training`` is judged on a same-run A/B (:mod:`.ab`): the candidate's and the champion's
training steps timed in interleaved rounds on the same batches. The figures of one model
(:mod:`.speed`: samples/s of ``fit``, latency, predict throughput, peak memory) come with a
same-run float32 matmul *calibration* (:mod:`.calibration`) and the model's FLOPs
(:mod:`.flops`): the fraction of the machine's matmul peak, recorded as information. The checks
themselves live in :mod:`mlchecks.checks.speed`. No pytest here; Keras and the backend are
imported lazily, inside the functions that need them.
"""

from mlchecks.measure.ab import (
    SHARED_COMPILE,
    ABPlan,
    ABRounds,
    measure_ab,
    measure_ab_training,
    training_copy,
)
from mlchecks.measure.calibration import Calibration, Probe, calibrate
from mlchecks.measure.device import (
    DeviceInfo,
    cpu_name,
    device_info,
    gpu_unavailable_reason,
    machine_id,
    sync,
    sync_model,
)
from mlchecks.measure.flops import FlopCount, count_flops, normalised
from mlchecks.measure.memory import PeakMemory
from mlchecks.measure.speed import (
    BACKENDS_FILE,
    Plan,
    Speed,
    backend_table,
    ensure_compiled,
    load_memo,
    measure_latency,
    measure_predict_throughput,
    measure_training,
    memo_key,
    preserved_state,
    record_backend,
    save_memo,
)
from mlchecks.measure.timing import (
    BENCH_FORMAT,
    TRAIN_FLOPS_FACTOR,
    Overhead,
    Rounds,
    Runner,
    interleave,
    spread,
    time_rounds,
)

__all__ = [
    "BACKENDS_FILE",
    "BENCH_FORMAT",
    "SHARED_COMPILE",
    "TRAIN_FLOPS_FACTOR",
    "ABPlan",
    "ABRounds",
    "Calibration",
    "DeviceInfo",
    "FlopCount",
    "Overhead",
    "PeakMemory",
    "Plan",
    "Probe",
    "Rounds",
    "Runner",
    "Speed",
    "backend_table",
    "calibrate",
    "count_flops",
    "cpu_name",
    "device_info",
    "ensure_compiled",
    "gpu_unavailable_reason",
    "interleave",
    "load_memo",
    "machine_id",
    "measure_ab",
    "measure_ab_training",
    "measure_latency",
    "measure_predict_throughput",
    "measure_training",
    "memo_key",
    "normalised",
    "preserved_state",
    "record_backend",
    "save_memo",
    "spread",
    "sync",
    "sync_model",
    "time_rounds",
    "training_copy",
]
