/*
 * rdkafka_perf: a third-party load driver for Runnel benchmarks, written against librdkafka's C API
 * (Debian librdkafka-dev). It measures what an unmodified librdkafka client gets from a broker,
 * without an interpreter in the loop.
 *
 *   cc -O2 -o .build/rdkafka_perf tools/bench/rdkafka_perf.c -lrdkafka
 *
 *   rdkafka_perf produce -b HOST:PORT -t TOPIC -n COUNT [-s SIZE] [-a ACKS] [-r RATE] [-T TXN_RECORDS]
 *                        [-L TIMELINE] [-X key=value ...]
 *   rdkafka_perf consume -b HOST:PORT -t TOPIC -n COUNT [-p PARTITIONS] [-X key=value ...]
 *
 * produce: COUNT records of SIZE bytes (null keys), acks=ACKS (default all), idempotent, at most RATE
 *          records/s when -r is given (for latency at a fixed load). Latency is measured from the
 *          produce call to the delivery report, per record.
 *          With -T, the producer is transactional (transactional.id rdkafka-perf-<pid>): it commits a
 *          transaction every TXN_RECORDS records and reports commit_transaction()'s latency percentiles.
 *          With -L, writes TIMELINE: per 100 ms of send time (from the first record), the records sent
 *          in it, their largest latency and how many took over 5 ms (where in a run the slow ones were).
 * consume: assigns partitions 0..PARTITIONS-1 from offset 0 and reads until COUNT records arrived.
 * Both print one JSON object on stdout: records, bytes, seconds, records_per_s, MBps, and for produce
 * the latency percentiles in ms. Exit status 1 on any delivery error or timeout.
 */
#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct delivery_state {
    uint64_t *sent_ns;     /* per record send time, indexed by record number */
    double *latency_ms;    /* per delivered record */
    double *by_record;     /* per record number (with -L), else NULL */
    long delivered;
    long failed;
    char first_error[256];
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    (void)rk;
    struct delivery_state *state = opaque;
    if (msg->err) {
        if (state->failed++ == 0)
            snprintf(state->first_error, sizeof state->first_error, "%s", rd_kafka_err2str(msg->err));
        return;
    }
    uintptr_t index = (uintptr_t)msg->_private;
    double ms = (double)(now_ns() - state->sent_ns[index]) / 1e6;
    state->latency_ms[state->delivered++] = ms;
    if (state->by_record) state->by_record[index] = ms;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, long n, double p) {
    if (n == 0) return 0;
    long i = (long)(p * (double)n);
    if (i >= n) i = n - 1;
    return sorted[i];
}

/* Reports a failed transactional call; returns nonzero on failure. */
static int check_txn(const char *what, rd_kafka_error_t *error) {
    if (!error) return 0;
    fprintf(stderr, "rdkafka_perf: %s: %s\n", what, rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    return 1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: rdkafka_perf produce|consume -b BOOTSTRAP -t TOPIC -n COUNT [-s SIZE] [-a ACKS]\n"
            "                    [-r RATE] [-p PARTITIONS] [-X key=value]...\n");
    exit(2);
}

/* With RDKAFKA_PERF_STATS=PATH (and -X statistics.interval.ms=N) librdkafka's statistics JSON is
 * appended to PATH, one object per line: per-broker in-flight and queued requests, RTTs, batch sizes. */
static FILE *stats_out;
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk; (void)opaque;
    if (stats_out) { fwrite(json, 1, len, stats_out); fputc('\n', stats_out); }
    return 0;
}

static void set_conf(rd_kafka_conf_t *conf, const char *key, const char *value) {
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "rdkafka_perf: %s=%s: %s\n", key, value, err);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *mode = argv[1];
    const char *bootstrap = NULL, *topic = NULL, *acks = "all";
    long count = 0, size = 1024, partitions = 1;
    double rate = 0;
    long txn_records = 0;
    const char *timeline = NULL;
    const char *extra[64];
    int extras = 0;
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) usage();
        const char *flag = argv[i], *value = argv[++i];
        if (!strcmp(flag, "-b")) bootstrap = value;
        else if (!strcmp(flag, "-t")) topic = value;
        else if (!strcmp(flag, "-n")) count = atol(value);
        else if (!strcmp(flag, "-s")) size = atol(value);
        else if (!strcmp(flag, "-a")) acks = value;
        else if (!strcmp(flag, "-r")) rate = atof(value);
        else if (!strcmp(flag, "-p")) partitions = atol(value);
        else if (!strcmp(flag, "-T")) txn_records = atol(value);
        else if (!strcmp(flag, "-L")) timeline = value;
        else if (!strcmp(flag, "-X") && extras < 64) extra[extras++] = value;
        else usage();
    }
    if (!bootstrap || !topic || count <= 0 || size < 0 || partitions <= 0) usage();

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_conf(conf, "bootstrap.servers", bootstrap);
    int producing = !strcmp(mode, "produce");
    if (producing) {
        set_conf(conf, "acks", acks);
        set_conf(conf, "enable.idempotence", strcmp(acks, "all") ? "false" : "true");
        set_conf(conf, "linger.ms", "5");
        set_conf(conf, "batch.size", "1000000");
        set_conf(conf, "queue.buffering.max.messages", "1000000");
        set_conf(conf, "queue.buffering.max.kbytes", "1048576");
        if (txn_records > 0) {
            char id[64];
            snprintf(id, sizeof id, "rdkafka-perf-%ld", (long)getpid());
            set_conf(conf, "transactional.id", id);
        }
    } else if (!strcmp(mode, "consume")) {
        set_conf(conf, "group.id", "rdkafka-perf");
        set_conf(conf, "enable.auto.commit", "false");
        set_conf(conf, "fetch.max.bytes", "52428800");
        set_conf(conf, "max.partition.fetch.bytes", "10485760");
        set_conf(conf, "fetch.wait.max.ms", "100");
        set_conf(conf, "queued.max.messages.kbytes", "1048576");
    } else {
        usage();
    }
    for (int i = 0; i < extras; i++) {
        char key[256];
        const char *eq = strchr(extra[i], '=');
        if (!eq || (size_t)(eq - extra[i]) >= sizeof key) usage();
        memcpy(key, extra[i], (size_t)(eq - extra[i]));
        key[eq - extra[i]] = 0;
        set_conf(conf, key, eq + 1);
    }

    const char *stats_path = getenv("RDKAFKA_PERF_STATS");
    if (stats_path && *stats_path) {
        if (!(stats_out = fopen(stats_path, "w"))) { perror(stats_path); return 2; }
        rd_kafka_conf_set_stats_cb(conf, on_stats);
    }

    char err[512];
    if (producing) {
        struct delivery_state state = {0};
        state.sent_ns = calloc((size_t)count, sizeof(uint64_t));
        state.latency_ms = calloc((size_t)count, sizeof(double));
        char *payload = malloc((size_t)size + 1);
        if (!state.sent_ns || !state.latency_ms || !payload) { fprintf(stderr, "out of memory\n"); return 1; }
        if (timeline && !(state.by_record = calloc((size_t)count, sizeof(double)))) { fprintf(stderr, "out of memory\n"); return 1; }
        for (long i = 0; i < size; i++) payload[i] = (char)('a' + (i * 7 + i / 13) % 26);
        rd_kafka_conf_set_opaque(conf, &state);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        if (!rk) { fprintf(stderr, "rdkafka_perf: %s\n", err); return 1; }
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        long commits = 0;
        double *commit_ms = txn_records > 0 ? calloc((size_t)(count / txn_records + 2), sizeof(double)) : NULL;
        if (txn_records > 0) {
            if (!commit_ms) { fprintf(stderr, "out of memory\n"); return 1; }
            if (check_txn("init_transactions", rd_kafka_init_transactions(rk, 30000))
                || check_txn("begin_transaction", rd_kafka_begin_transaction(rk))) return 1;
        }
        double start = now_s();
        for (long i = 0; i < count; i++) {
            if (txn_records > 0 && i > 0 && i % txn_records == 0) {
                uint64_t t0 = now_ns();
                if (check_txn("commit_transaction", rd_kafka_commit_transaction(rk, 60000))) return 1;
                commit_ms[commits++] = (double)(now_ns() - t0) / 1e6;
                if (check_txn("begin_transaction", rd_kafka_begin_transaction(rk))) return 1;
            }
            if (rate > 0) {
                /* Paced: wait in librdkafka's poll (not a busy loop, which would take a core from the
                 * broker on a small machine) until this record is due. */
                double target = start + (double)i / rate;
                while (target > now_s()) rd_kafka_poll(rk, 1);  /* sleeps up to 1 ms; records due meanwhile go out together */
            }
            state.sent_ns[i] = now_ns();
            while (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, payload, (size_t)size,
                                    NULL, 0, (void *)(uintptr_t)i) == -1) {
                if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                    fprintf(stderr, "rdkafka_perf: produce: %s\n", rd_kafka_err2str(rd_kafka_last_error()));
                    return 1;
                }
                rd_kafka_poll(rk, 10);
            }
            if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
        }
        if (txn_records > 0) {
            uint64_t t0 = now_ns();
            if (check_txn("commit_transaction", rd_kafka_commit_transaction(rk, 60000))) return 1;
            commit_ms[commits++] = (double)(now_ns() - t0) / 1e6;
        }
        if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "rdkafka_perf: flush timed out with %d messages outstanding\n", rd_kafka_outq_len(rk));
            return 1;
        }
        double seconds = now_s() - start;
        if (state.failed) {
            fprintf(stderr, "rdkafka_perf: %ld delivery errors, first: %s\n", state.failed, state.first_error);
            return 1;
        }
        if (timeline) {
            FILE *out = fopen(timeline, "w");
            if (!out) { fprintf(stderr, "rdkafka_perf: %s: %s\n", timeline, strerror(errno)); return 1; }
            fprintf(out, "window_start_s records max_ms over_5ms\n");
            const uint64_t window = 100000000ull;
            long i = 0;
            while (i < count) {
                uint64_t slot = (state.sent_ns[i] - state.sent_ns[0]) / window;
                long records = 0, slow = 0;
                double worst = 0;
                for (; i < count && (state.sent_ns[i] - state.sent_ns[0]) / window == slot; i++) {
                    records++;
                    if (state.by_record[i] > worst) worst = state.by_record[i];
                    if (state.by_record[i] > 5.0) slow++;
                }
                fprintf(out, "%.1f %ld %.3f %ld\n", (double)slot / 10.0, records, worst, slow);
            }
            fclose(out);
        }
        qsort(state.latency_ms, (size_t)state.delivered, sizeof(double), compare_doubles);
        printf("{\"mode\":\"produce\",\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"records_per_s\":%.1f,"
               "\"MBps\":%.3f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}",
               count, count * size, seconds, (double)count / seconds, (double)(count * size) / seconds / 1e6,
               percentile(state.latency_ms, state.delivered, 0.50),
               percentile(state.latency_ms, state.delivered, 0.99),
               percentile(state.latency_ms, state.delivered, 0.999),
               state.delivered ? state.latency_ms[state.delivered - 1] : 0.0);
        if (commits > 0) {
            qsort(commit_ms, (size_t)commits, sizeof(double), compare_doubles);
            printf(",\"transactions\":%ld,\"commit_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", commits,
                   percentile(commit_ms, commits, 0.50), percentile(commit_ms, commits, 0.99), commit_ms[commits - 1]);
        }
        printf("}\n");
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 0;
    }

    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) { fprintf(stderr, "rdkafka_perf: %s\n", err); return 1; }
    rd_kafka_topic_partition_list_t *assignment = rd_kafka_topic_partition_list_new((int)partitions);
    for (long p = 0; p < partitions; p++)
        rd_kafka_topic_partition_list_add(assignment, topic, (int32_t)p)->offset = 0;
    if (rd_kafka_assign(rk, assignment)) { fprintf(stderr, "rdkafka_perf: assign failed\n"); return 1; }
    rd_kafka_topic_partition_list_destroy(assignment);
    long got = 0, bytes = 0;
    double start = now_s(), deadline = start + 300;
    while (got < count) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 1000);
        if (now_s() > deadline) break;
        if (!msg) continue;
        if (!msg->err) {
            got++;
            bytes += (long)msg->len;
        } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "rdkafka_perf: consume: %s\n", rd_kafka_message_errstr(msg));
        }
        rd_kafka_message_destroy(msg);
    }
    double seconds = now_s() - start;
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got < count) {
        fprintf(stderr, "rdkafka_perf: consumed %ld of %ld records before the deadline\n", got, count);
        return 1;
    }
    printf("{\"mode\":\"consume\",\"records\":%ld,\"bytes\":%ld,\"seconds\":%.6f,\"records_per_s\":%.1f,"
           "\"MBps\":%.3f}\n",
           got, bytes, seconds, (double)got / seconds, (double)bytes / seconds / 1e6);
    return 0;
}
