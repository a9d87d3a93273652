"""The classic Kappa reprocessing job with kafka-python: a consumer group reads an input topic, a
transform turns each record into an output record, a producer writes it to an output topic (an alias
or a concrete topic), and offsets are committed only after the writes were acknowledged — so a
crashed or stopped job is at-least-once, never at-most-once. Runs in a thread until stopped or until
its group's committed offsets reach given end offsets."""
from __future__ import annotations

import threading
import time


class KappaJob:
    """`transform(key: bytes, value: bytes) -> bytes` makes the output value; the output key is the
    input key, so a reader can match output to input."""

    def __init__(self, bootstrap: str, source: str, sink: str, group: str, transform,
                 metadata_max_age_ms: int = 300000):
        self.bootstrap, self.source, self.sink, self.group = bootstrap, source, sink, group
        self.transform = transform
        self.metadata_max_age_ms = metadata_max_age_ms
        self.written = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"kappa-{group}", daemon=True)

    def start(self) -> "KappaJob":
        self._thread.start()
        return self

    def stop(self, timeout: float = 60) -> None:
        self._stop.set()
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"job {self.group} did not stop within {timeout}s"
        if self.error is not None:
            raise AssertionError(f"job {self.group} failed: {self.error!r}") from self.error

    def _run(self) -> None:
        from kafka import KafkaProducer, OffsetAndMetadata

        from runnel_interop.kafka_python_group import group_consumer
        consumer = producer = None
        try:
            consumer = group_consumer([self.source], bootstrap_servers=self.bootstrap, group_id=self.group,
                                      enable_auto_commit=False, auto_offset_reset="earliest",
                                      session_timeout_ms=30000, heartbeat_interval_ms=1000,
                                      request_timeout_ms=15000, max_poll_records=200,
                                      metadata_max_age_ms=self.metadata_max_age_ms)
            producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5,
                                     metadata_max_age_ms=self.metadata_max_age_ms)
            while not self._stop.is_set():
                batches = consumer.poll(timeout_ms=200)
                if not batches:
                    continue
                futures = []
                commits = {}
                for tp, msgs in batches.items():
                    for m in msgs:
                        futures.append(producer.send(self.sink, key=m.key, value=self.transform(m.key, m.value),
                                                     timestamp_ms=m.timestamp))
                    commits[tp] = OffsetAndMetadata(msgs[-1].offset + 1, "", -1)
                producer.flush(30)
                for f in futures:
                    f.get(timeout=30)  # raises if a write failed: then nothing is committed
                self.written += len(futures)
                consumer.commit(commits)
        except BaseException as e:  # reported by stop()
            self.error = e
        finally:
            if producer is not None:
                producer.close(timeout=10)
            if consumer is not None:
                consumer.close()
