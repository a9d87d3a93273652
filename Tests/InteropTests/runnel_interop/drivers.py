"""One produce / consume interface over the four clients, so tests can be parametrized by client.
produce() returns {"acks": {index: (partition, offset)} or None (kcat reports none), "errors": {}};
consume() returns records as dicts {p, o, ts, k, v, h}."""
from __future__ import annotations

from pathlib import Path

from . import clients, records

CLIENTS = ["java", "confluent", "kafka-python", "kcat"]
CODECS = clients.CODECS


class Drivers:
    def __init__(self, bootstrap: str, java=None, kcat: str | None = None, workdir: Path | None = None):
        self.bootstrap, self.java, self.kcat, self.workdir = bootstrap, java, kcat, workdir
        self.consumed = 0

    def produce(self, client: str, topic: str, prefix: str, indices: range, codec: str = "none",
                value_size: int = 100, ts_base: int | None = None, partition: int = 0,
                timeout: float = 240, idempotent: bool = False) -> dict:
        """`idempotent` turns idempotence on where it is not the default (confluent-kafka); Java
        kafka-clients 4.x and kafka-python 3.x are idempotent with acks=all by default."""
        if client == "java":
            r = self.java.run("produce", {
                "bootstrap": self.bootstrap, "topic": topic, "prefix": prefix, "start": indices.start,
                "count": len(indices), "valueSize": value_size, "compression": codec,
                "partition": partition, "lingerMs": 5, "batchSize": 65536,
                **({"tsBase": ts_base} if ts_base is not None else {})}, timeout=timeout)
            acks = {indices.start + n: tuple(a) if a is not None else None for n, a in enumerate(r["acks"])}
            return {"acks": {i: a for i, a in acks.items() if a is not None}, "errors": r["errors"], "raw": r}
        if client == "confluent":
            return clients.confluent_produce(self.bootstrap, topic, prefix, indices, value_size, codec,
                                             partition=partition, ts_base=ts_base, timeout=timeout,
                                             config={"enable.idempotence": True} if idempotent else None)
        if client == "kafka-python":
            return clients.kafka_python_produce(self.bootstrap, topic, prefix, indices, value_size, codec,
                                                partition=partition, ts_base=ts_base, timeout=timeout)
        if client == "kcat":
            clients.kcat_produce(self.kcat, self.bootstrap, topic, prefix, indices, value_size, codec,
                                 partition=partition, timeout=timeout)
            return {"acks": None, "errors": {}}
        raise ValueError(client)

    def consume(self, client: str, topic: str, partitions=(0,), timeout: float = 240) -> list[dict]:
        if client == "java":
            self.consumed += 1
            out = self.workdir / f"consumed-{self.consumed}.jsonl"
            r = self.java.run("consume", {"bootstrap": self.bootstrap, "topic": topic, "out": str(out),
                                          "partitions": list(partitions), "timeoutMs": int(timeout * 1000)},
                              timeout=timeout + 60)
            assert not r["timedOut"], f"Java consumer timed out after {r['count']} records"
            return records.read_jsonl(out)
        if client == "confluent":
            return clients.confluent_consume(self.bootstrap, topic, partitions, timeout=timeout)
        if client == "kafka-python":
            return clients.kafka_python_consume(self.bootstrap, topic, partitions, timeout=timeout)
        if client == "kcat":
            out = []
            for p in partitions:
                out += clients.kcat_consume(self.kcat, self.bootstrap, topic, partition=p, timeout=timeout)
            return out
        raise ValueError(client)

    @staticmethod
    def header_kwargs(client: str, prefix: str) -> dict:
        """How verify() should check headers of records this client produced."""
        if client == "kcat":
            return {"client": None, "fixed_headers": clients.kcat_fixed_headers(prefix)}
        return {"client": client}
