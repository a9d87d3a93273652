// multifile_sync: the raw reference for durable appends spread over many partitions. Writes `total`
// bytes as 16 KiB pwrite()s round-robin over `files` files in `dir` and makes them durable every
// `round` bytes, either with one syncfs(2) of the file system (what Runnel's engine does when a
// group commit touches many files) or with one fdatasync(2) per file written in the round.
// Prints MB/s. Used by tools/bench/storage_bench.py; no dependencies beyond libc.
//
//     cc -O2 -o multifile_sync tools/bench/multifile_sync.c
//     ./multifile_sync DIR FILES TOTAL_MIB syncfs|fdatasync [ROUND_KIB=1024]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR FILES TOTAL_MIB syncfs|fdatasync [ROUND_KIB]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int files = atoi(argv[2]);
    long long total = atoll(argv[3]) << 20;
    int use_syncfs = strcmp(argv[4], "syncfs") == 0;
    long long round = (argc > 5 ? atoll(argv[5]) : 1024) << 10;
    enum { block = 16384 };
    if (files < 1 || total < block || round < block) return 2;
    int *fds = calloc(files, sizeof(int));
    long long *sizes = calloc(files, sizeof(long long));
    char *dirty = calloc(files, 1);
    char *buf = malloc(block), path[4096];
    memset(buf, 'x', block);
    for (int i = 0; i < files; i++) {
        snprintf(path, sizeof path, "%s/f%05d", dir, i);
        fds[i] = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
        if (fds[i] < 0) { perror(path); return 1; }
    }
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY);
    long long written = 0, in_round = 0;
    int next = 0;
    double start = now();
    while (written < total) {
        int f = next++ % files;
        if (pwrite(fds[f], buf, block, sizes[f]) != block) { perror("pwrite"); return 1; }
        sizes[f] += block;
        dirty[f] = 1;
        written += block;
        in_round += block;
        if (in_round >= round || written >= total) {
            if (use_syncfs) {
                if (syncfs(dirfd) != 0) { perror("syncfs"); return 1; }
                memset(dirty, 0, files);
            } else {
                for (int i = 0; i < files; i++)
                    if (dirty[i]) { fdatasync(fds[i]); dirty[i] = 0; }
            }
            in_round = 0;
        }
    }
    double seconds = now() - start;
    printf("%.1f\n", written / seconds / 1e6);
    for (int i = 0; i < files; i++) close(fds[i]);
    return 0;
}
