"""Distribution and mixed precision: TensorFlow's own tf.distribute strategies and, under JAX, Keras's
DataParallel, chosen by `train.strategy`.

`train.batch_size` (and `eval.batch_size` for the validation batches seen in training) is per replica in every
task: a step of R replicas takes R x batch_size examples, and the manifest records that global batch.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import keras

from pipeline.config import CHOICES
from pipeline.errors import PipelineError, WorkerLost

STRATEGIES = CHOICES[
    "train.strategy"
]  # the config's own list: default, mirrored, multi-worker, data-parallel
# Seconds a collective may wait for the other workers before failing, so a worker whose peer died stops
# instead of hanging (set PIPELINE_COLLECTIVE_TIMEOUT to change it).
COLLECTIVE_TIMEOUT = float(os.environ.get("PIPELINE_COLLECTIVE_TIMEOUT", "600"))


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in a TF_CONFIG cluster: `index` of `count` workers; the chief writes the run."""

    index: int = 0
    count: int = 1
    is_chief: bool = True


def worker_role(tf_config: str | None = None) -> WorkerRole:
    """Read TF_CONFIG (as TensorFlow documents it): the chief is the task of type "chief", or worker 0 when
    the cluster has none. Without TF_CONFIG this process is the only worker."""
    text = os.environ.get("TF_CONFIG", "") if tf_config is None else tf_config
    if not text.strip():
        return WorkerRole()
    try:
        spec = json.loads(text)
        cluster, task = spec["cluster"], spec["task"]
        kind, index = task["type"], int(task["index"])
        members = [(name, i) for name in ("chief", "worker") for i in range(len(cluster.get(name, [])))]
    except (ValueError, KeyError, TypeError) as error:
        raise PipelineError(f"TF_CONFIG is not a cluster spec with a task ({error})") from None
    if (kind, index) not in members:
        raise PipelineError(f"TF_CONFIG: task {kind} {index} is not in its cluster")
    chief = ("chief", 0) if "chief" in cluster else ("worker", 0)
    return WorkerRole(members.index((kind, index)), len(members), (kind, index) == chief)


@dataclass
class Distribution:
    """How a training job is spread: `strategy` (a tf.distribute strategy or None), `replicas` in sync,
    `workers` processes, this process's `role`; `jax` holds Keras's DataParallel under JAX."""

    name: str = "default"
    strategy: Any = None
    replicas: int = 1
    role: WorkerRole = field(default_factory=WorkerRole)
    jax: Any = None

    @property
    def workers(self) -> int:
        return self.role.count

    @property
    def multi_worker(self) -> bool:
        return self.name == "multi-worker"

    def scope(self) -> contextlib.AbstractContextManager:
        """A fresh scope (a strategy's scope object can be entered only once), or a no-op one."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.jax is not None:
            return self.jax.scope()
        return contextlib.nullcontext()

    def record(self, batch_size: int) -> dict:
        """The fields a train stage's manifest entry gets."""
        return {
            "strategy": self.name,
            "replicas": self.replicas,
            "workers": self.workers,
            "global_batch_size": batch_size * self.replicas,
        }

    @contextlib.contextmanager
    def peer_failures(self) -> Iterator[None]:
        """Under "multi-worker", a collective that fails because another worker died or timed out becomes one
        line naming this worker (TensorFlow raises a long graph-execution error)."""
        if not self.multi_worker:
            yield
            return
        import tensorflow as tf  # noqa: PLC0415

        lost = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError)
        try:
            yield
        except lost as error:
            raise WorkerLost(
                f"worker {self.role.index} of {self.workers}: lost another worker during training "
                f"({type(error).__name__}); start the group again to resume from the last finished epoch"
            ) from None

    def agree_max(self, value: float) -> float:
        """The largest `value` over all workers (one collective), so every worker takes the same decision."""
        if not self.multi_worker or self.workers == 1:
            return value
        import tensorflow as tf  # noqa: PLC0415

        # tf.distribute reduces only by SUM and MEAN: gather every replica's value, then take the largest
        per_replica = self.strategy.run(lambda: tf.constant([float(value)], tf.float32))
        return float(tf.reduce_max(self.strategy.gather(per_replica, axis=0)))


_multi_worker_strategy = None  # one per process: TensorFlow configures collectives once, at start-up


def make_distribution(name: str) -> Distribution:
    """The Distribution `train.strategy` names.

    "mirrored" replicates the model on every local GPU (or every logical CPU device); "multi-worker" reads the
    cluster from TF_CONFIG as TensorFlow documents; "data-parallel" (JAX only) shards every batch over the
    local devices through keras.distribution.DataParallel.
    """
    global _multi_worker_strategy
    if name not in STRATEGIES:
        raise PipelineError(f"unknown train.strategy '{name}'; known: {', '.join(STRATEGIES)}")
    if name == "default":
        return Distribution()
    backend = keras.backend.backend()
    if name == "data-parallel":
        if backend != "jax":
            raise PipelineError(
                f"train.strategy = 'data-parallel' needs KERAS_BACKEND=jax (it is '{backend}'); "
                "under TensorFlow use 'mirrored' or 'multi-worker'"
            )
        parallel = keras.distribution.DataParallel()
        return Distribution(name, replicas=len(parallel.device_mesh.devices.flatten()), jax=parallel)
    if backend != "tensorflow":
        raise PipelineError(
            f"train.strategy = '{name}' needs the TensorFlow backend (KERAS_BACKEND is '{backend}'); "
            "under JAX use 'data-parallel'"
        )
    import tensorflow as tf  # noqa: PLC0415 - only under the TensorFlow backend

    from pipeline import keras_mends  # noqa: PLC0415

    keras_mends.apply()
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Distribution(name, strategy, strategy.num_replicas_in_sync)
    role = worker_role()
    if _multi_worker_strategy is None:
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT)
        _multi_worker_strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        # The strategy's coordination service installs a SIGTERM handler of its own (the preemption notifier),
        # after which SIGTERM no longer ends the process; the launcher, a scheduler or `kill` expect it to.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    strategy = _multi_worker_strategy
    return Distribution(name, strategy, strategy.num_replicas_in_sync, role)


def collectives_started() -> bool:
    """Whether this process has joined a multi-worker cluster. Such a process must leave with os._exit on an
    error: a normal interpreter exit waits in TensorFlow's collective teardown for peers that may be gone."""
    return _multi_worker_strategy is not None


def set_precision(mixed: bool) -> None:
    """mixed_float16 on GPUs (compute in float16, variables and outputs in float32) or plain float32."""
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
