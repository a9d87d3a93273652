"""Clients for the cluster tests, recording into a History (runnel_interop/history.py).

ProducerLoop   a confluent-kafka producer (idempotent, acks=all by default) in a thread: unique
               values "<name>-<seq>", partition seq % partitions, paced to `rate` records/s; every
               send, acknowledgement and error goes into the history.
ConsumerLoop   a confluent-kafka group member in a thread, recording every record it reads.
final_read     a fresh consumer reads every partition from the beginning to its high watermark
               (asked after the producers stopped) into the history's final read.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
import warnings

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from .history import History

# Errors after which the record was certainly not written (the broker refused it before appending);
# every other delivery error (timeouts above all) leaves it "maybe written".
DEFINITE = {KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.INVALID_MSG,
            KafkaError.TOPIC_AUTHORIZATION_FAILED}

CLIENT_DEFAULTS = {
    "socket.timeout.ms": 5000,
    "topic.metadata.refresh.interval.ms": 1000,
    "metadata.max.age.ms": 5000,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
    "retry.backoff.ms": 100,
    "retry.backoff.max.ms": 500,
}


class ProducerLoop:
    def __init__(self, history: History, bootstrap: str, topic: str, partitions: int, name: str = "p1",
                 rate: float = 400, config: dict | None = None, idempotent: bool = True, pad: int = 0):
        self.history, self.topic, self.partitions, self.name, self.rate = history, topic, partitions, name, rate
        # `pad` bytes of filler in a header of every record (to fill disks fast; the value, which names
        # the record in the history, stays short).
        self.headers = [("pad", b"x" * pad)] if pad else None
        self.conf = {"bootstrap.servers": bootstrap, "client.id": name, "enable.idempotence": idempotent,
                     "acks": "all", "linger.ms": 5, "message.timeout.ms": 45000, "request.timeout.ms": 15000,
                     **CLIENT_DEFAULTS,
                     **(config or {})}
        history.producer(name, idempotent=bool(self.conf["enable.idempotence"]))
        self.producer = Producer(self.conf)
        self.sent = 0
        self.errors: dict[str, int] = {}
        self.fatal: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"producer-{name}", daemon=True)

    def _delivered(self, err, msg) -> None:
        value = msg.value().decode()
        if err is None:
            self.history.ack(value, msg.partition(), msg.offset())
        else:
            self.errors[err.name()] = self.errors.get(err.name(), 0) + 1
            self.history.fail(value, f"{err.name()}: {err.str()}", definite=err.code() in DEFINITE)
            if err.fatal():
                self.fatal = f"{err.name()}: {err.str()}"

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            due = t0 + self.sent / self.rate
            wait = due - time.monotonic()
            if wait > 0:
                self.producer.poll(min(wait, 0.05))  # serves callbacks while pacing
                continue
            value = f"{self.name}-{self.sent}"
            partition = self.sent % self.partitions
            try:
                self.producer.produce(self.topic, value=value.encode(), key=value.encode(), partition=partition,
                                      on_delivery=self._delivered, headers=self.headers)
            except BufferError:
                self.producer.poll(0.1)
                continue
            except KafkaException as e:  # fatal (e.g. idempotence state lost): stop producing
                self.fatal = str(e)
                break
            self.history.send(self.name, value, partition)
            self.sent += 1
            self.producer.poll(0)

    def start(self) -> "ProducerLoop":
        self._thread.start()
        return self

    def stop(self, flush_timeout: float = 60) -> int:
        """Stops sending and flushes: returns how many messages were still undelivered."""
        self._stop.set()
        self._thread.join(10)
        return self.producer.flush(flush_timeout)

    def close(self) -> None:
        """At teardown, whatever happened: stop, purge what is still queued or in flight (recorded
        as failures, maybe written), and let librdkafka go (no client may outlive its test)."""
        self._stop.set()
        self._thread.join(10)
        try:
            self.producer.purge(in_queue=True, in_flight=True)
            self.producer.flush(2)
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass

    def acked(self, partition: int | None = None, since: float | None = None) -> int:
        """Acknowledged sends of this producer (to `partition`, acknowledged after history time `since`)."""
        return sum(1 for s in list(self.history.sends.values())
                   if s.producer == self.name and s.ack is not None
                   and (partition is None or s.ack[0] == partition) and (since is None or s.ack_at >= since))


class ConsumerLoop:
    def __init__(self, history: History, bootstrap: str, topic: str, group: str, name: str = "c1",
                 config: dict | None = None, identity: str = "value"):
        self.history, self.topic, self.name = history, topic, name
        self.identity = identity  # what names a record in the history: its "value" or its "key"
        self.conf = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                     "auto.offset.reset": "earliest", "enable.auto.commit": True, "auto.commit.interval.ms": 500,
                     "session.timeout.ms": 6000, "heartbeat.interval.ms": 500, "fetch.wait.max.ms": 100,
                     **CLIENT_DEFAULTS, **(config or {})}
        self.consumer = Consumer(self.conf)
        self.count = 0
        self.errors: dict[str, int] = {}
        self._stop = threading.Event()
        self._stuck = False
        self._thread = threading.Thread(target=self._run, name=f"consumer-{name}", daemon=True)

    def _run(self) -> None:
        self.consumer.subscribe([self.topic])
        while not self._stop.is_set():
            msg = self.consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                self.errors[msg.error().name()] = self.errors.get(msg.error().name(), 0) + 1
                continue
            ident = msg.key() if self.identity == "key" else msg.value()
            self.history.read(self.name, msg.partition(), msg.offset(), ident.decode())
            self.count += 1
        try:
            self.consumer.close()
        except Exception:  # noqa: BLE001 - closing against a broken cluster must not hide the result
            pass

    def start(self) -> "ConsumerLoop":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops polling and closes the consumer (on its thread), waiting up to 30 s. A close that takes
        longer (librdkafka's close can wait on its group's state) is reported once as a warning, with
        where the thread is, and not waited for again (tests call stop() in their body and at teardown)."""
        self._stop.set()
        if self._stuck:
            return
        self._thread.join(30)
        if self._thread.is_alive():
            self._stuck = True
            frame = sys._current_frames().get(self._thread.ident)
            where = "".join(traceback.format_stack(frame)[-3:]) if frame is not None else "(no frame)"
            warnings.warn(f"consumer {self.name}: still closing 30 s after stop(); its thread is at:\n{where}")

    def read_since(self, since: float) -> int:
        return sum(1 for c, _, _, _, t in list(self.history.reads) if c == self.name and t >= since)


def high_watermarks(bootstrap: str, topic: str, partitions: int, timeout: float = 10) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "hw-probe", "enable.auto.commit": False,
                  **CLIENT_DEFAULTS})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1] for p in range(partitions)}
    finally:
        c.close()


def final_read(history: History, bootstrap: str, topic: str, partitions: int, timeout: float = 60,
               identity: str = "value") -> dict[int, int]:
    """Reads every partition from its beginning to its high watermark (asked now) into the history's
    final read (records named by their "value" or "key"); returns the high watermarks. Raises
    AssertionError if it cannot get there in time."""
    hws = high_watermarks(bootstrap, topic, partitions)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"final-read-{topic}", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100,
                  **CLIENT_DEFAULTS})
    try:
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        position = {p: 0 for p in range(partitions)}
        deadline = time.monotonic() + timeout
        while any(position[p] < hws[p] for p in range(partitions)):
            if time.monotonic() > deadline:
                raise AssertionError(f"final read of {topic}: reached {position}, high watermarks {hws}, "
                                     f"not within {timeout}s")
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    history.fault(f"final read error: {msg.error()}")
                continue
            ident = msg.key() if identity == "key" else msg.value()
            history.final(msg.partition(), msg.offset(), ident.decode())
            position[msg.partition()] = max(position[msg.partition()], msg.offset() + 1)
        history.final_complete()
        return hws
    finally:
        c.close()
