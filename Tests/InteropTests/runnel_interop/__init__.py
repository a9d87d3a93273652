"""Support code for Runnel's interop suite: broker process control, raw Kafka wire encoding,
the deterministic record scheme, and wrappers around kcat and the Java test program."""
