// The machine's ceiling for a follower's catch-up, without any broker: what replication must do at the
// least, done by two processes over loopback TCP with nothing else.
//   leader:   sendfile() of a file in the page cache (read first; the best case for the leader) in
//             1 MiB answers, each after a small request from the follower (as Fetch does), or streamed
//             without requests (--stream);
//   follower: recv() each answer into a buffer, CRC-32C over it, copy it into one of 8 page-aligned
//             buffers, which a writer thread pwrite()s with O_DIRECT at the file's end, with an
//             fdatasync() every --sync-mib MiB (receiving and writing overlap, as the broker's engine does).
// Prints one JSON line: bytes, seconds, MB/s. Used by tools/bench/cluster_bench.py (--parts reference) to
// put the catch-up figure next to what this machine allows for the same work.
//
//   cc -O2 -msse4.2 -pthread -o catchup_reference tools/bench/catchup_reference.c
//   ./catchup_reference --source FILE --target-dir DIR [--chunk-mib 1] [--sync-mib 8] [--stream]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nmmintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint32_t crc32c(const uint8_t *p, size_t n) {
    uint64_t c = 0xffffffff;
    while (n >= 8) { uint64_t v; memcpy(&v, p, 8); c = _mm_crc32_u64(c, v); p += 8; n -= 8; }
    while (n--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c ^ 0xffffffff;
}

static int full_recv(int fd, uint8_t *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0) { if (r < 0 && errno == EINTR) continue; return -1; }
        got += (size_t)r;
    }
    return 0;
}

enum { RING = 8 };
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint8_t *buffers[RING];
    long filled, written;  // counts of chunks: filled by the receiver, written by the writer
    long total;
    size_t chunk;
    long sync_every;
    int fd, failed;
} ring = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static void *writer(void *unused) {
    (void)unused;
    for (long n = 0; n < ring.total; n++) {
        pthread_mutex_lock(&ring.lock);
        while (ring.filled <= n) pthread_cond_wait(&ring.changed, &ring.lock);
        pthread_mutex_unlock(&ring.lock);
        if (pwrite(ring.fd, ring.buffers[n % RING], ring.chunk, (off_t)n * (off_t)ring.chunk) != (ssize_t)ring.chunk ||
            ((n + 1) % ring.sync_every == 0 && fdatasync(ring.fd))) {
            perror("write");
            ring.failed = 1;
        }
        pthread_mutex_lock(&ring.lock);
        ring.written = n + 1;
        pthread_cond_broadcast(&ring.changed);
        pthread_mutex_unlock(&ring.lock);
    }
    if (fdatasync(ring.fd)) ring.failed = 1;
    return NULL;
}

int main(int argc, char **argv) {
    const char *source = NULL, *dir = NULL;
    long chunk_mib = 1, sync_mib = 8;
    int stream = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--source") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--target-dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--chunk-mib") && i + 1 < argc) chunk_mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--sync-mib") && i + 1 < argc) sync_mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--stream")) stream = 1;
        else { fprintf(stderr, "unknown argument %s\n", argv[i]); return 2; }
    }
    if (!source || !dir || chunk_mib < 1 || sync_mib < 1) {
        fprintf(stderr, "usage: %s --source FILE --target-dir DIR [--chunk-mib N] [--sync-mib N] [--stream]\n", argv[0]);
        return 2;
    }
    int src = open(source, O_RDONLY);
    struct stat st;
    if (src < 0 || fstat(src, &st) != 0) { perror("source"); return 1; }
    // The source in the page cache: read it once.
    static uint8_t scratch[1 << 20];
    while (read(src, scratch, sizeof scratch) > 0) {}
    const size_t chunk = (size_t)chunk_mib << 20;
    const off_t total = st.st_size - st.st_size % (off_t)chunk;

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1) ||
        getsockname(listener, (struct sockaddr *)&addr, &len)) { perror("listen"); return 1; }

    pid_t leader = fork();
    if (leader == 0) {
        int c = accept(listener, NULL, NULL);
        if (c < 0) _exit(1);
        char request[64];
        for (off_t at = 0; at < total; at += (off_t)chunk) {
            if (!stream && full_recv(c, (uint8_t *)request, sizeof request)) _exit(1);
            off_t position = at;
            size_t left = chunk;
            while (left > 0) {
                ssize_t sent = sendfile(c, src, &position, left);
                if (sent <= 0) { if (sent < 0 && errno == EINTR) continue; _exit(1); }
                left -= (size_t)sent;
            }
        }
        _exit(0);
    }
    close(src);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)&addr, sizeof addr)) { perror("connect"); return 1; }
    char path[4096];
    snprintf(path, sizeof path, "%s/catchup-reference.log", dir);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    if (out < 0) { perror("open O_DIRECT"); return 1; }
    uint8_t *recvbuf = malloc(chunk);
    if (!recvbuf) return 1;
    memset(recvbuf, 0, chunk);
    for (int i = 0; i < RING; i++) {
        if (posix_memalign((void **)&ring.buffers[i], 4096, chunk)) return 1;
        memset(ring.buffers[i], 0, chunk);
    }
    ring.chunk = chunk;
    ring.total = (long)(total / (off_t)chunk);
    ring.sync_every = sync_mib >= chunk_mib ? sync_mib / chunk_mib : 1;
    ring.fd = out;
    char request[64] = { 0 };
    uint32_t sum = 0;
    double start = now();
    pthread_t thread;
    pthread_create(&thread, NULL, writer, NULL);
    for (long n = 0; n < ring.total; n++) {
        if (!stream && send(s, request, sizeof request, 0) != sizeof request) { perror("send"); return 1; }
        if (full_recv(s, recvbuf, chunk)) { perror("recv"); return 1; }
        sum ^= crc32c(recvbuf, chunk);
        pthread_mutex_lock(&ring.lock);
        while (n - ring.written >= RING) pthread_cond_wait(&ring.changed, &ring.lock);
        pthread_mutex_unlock(&ring.lock);
        memcpy(ring.buffers[n % RING], recvbuf, chunk);
        pthread_mutex_lock(&ring.lock);
        ring.filled = n + 1;
        pthread_cond_broadcast(&ring.changed);
        pthread_mutex_unlock(&ring.lock);
    }
    pthread_join(thread, NULL);
    if (ring.failed) return 1;
    double seconds = now() - start;
    int status = 0;
    waitpid(leader, &status, 0);
    close(out);
    unlink(path);
    printf("{\"bytes\": %lld, \"seconds\": %.4f, \"MBps\": %.1f, \"stream\": %s, \"crc\": %u}\n",
           (long long)total, seconds, total / seconds / 1e6, stream ? "true" : "false", sum);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
