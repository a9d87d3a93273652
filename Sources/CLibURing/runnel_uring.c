#include "runnel_uring.h"
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

struct runnel_uring { struct io_uring ring; };

runnel_uring *runnel_uring_create(unsigned entries, int *error_out) {
    runnel_uring *r = calloc(1, sizeof(*r));
    if (!r) { if (error_out) *error_out = ENOMEM; return NULL; }
    int rc = io_uring_queue_init(entries, &r->ring, 0);
    if (rc < 0) { if (error_out) *error_out = -rc; free(r); return NULL; }
    // fdatasyncs run on io-wq's bounded workers, by default at most 4 per CPU: a round syncing 50
    // partition files would run in waves of 8. Allow as many as a round can hold (best effort: older
    // kernels lack the call and keep their default).
    unsigned workers[2] = { entries < 256 ? entries : 256, 0 };
    (void)io_uring_register_iowq_max_workers(&r->ring, workers);
    if (error_out) *error_out = 0;
    return r;
}

void runnel_uring_destroy(runnel_uring *r) {
    if (!r) return;
    io_uring_queue_exit(&r->ring);
    free(r);
}

int runnel_uring_prep_write(runnel_uring *r, int fd, const void *buf, unsigned len, uint64_t offset, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_write(sqe, fd, buf, len, offset);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int runnel_uring_prep_write_flags(runnel_uring *r, int fd, const void *buf, unsigned len, uint64_t offset, int rw_flags,
                                  uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_write(sqe, fd, buf, len, offset);
    sqe->rw_flags = rw_flags;
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int runnel_uring_prep_writev(runnel_uring *r, int fd, const struct iovec *iovecs, unsigned nr, uint64_t offset, uint64_t user_data) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_writev(sqe, fd, iovecs, nr, offset);
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

unsigned runnel_uring_sq_entries(runnel_uring *r) { return r->ring.sq.ring_entries; }

int runnel_uring_prep_fdatasync(runnel_uring *r, int fd, uint64_t user_data, int drain) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
    if (!sqe) return -EBUSY;
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    if (drain) sqe->flags |= IOSQE_IO_DRAIN;
    io_uring_sqe_set_data64(sqe, user_data);
    return 0;
}

int runnel_uring_submit(runnel_uring *r) { return io_uring_submit(&r->ring); }

int runnel_uring_submit_and_wait(runnel_uring *r, unsigned wait_nr) {
    return io_uring_submit_and_wait(&r->ring, wait_nr);
}

unsigned runnel_uring_reap(runnel_uring *r, uint64_t *user_data, int32_t *results, unsigned max) {
    struct io_uring_cqe *cqe;
    unsigned n = 0;
    while (n < max && io_uring_peek_cqe(&r->ring, &cqe) == 0) {
        user_data[n] = io_uring_cqe_get_data64(cqe);
        results[n] = cqe->res;
        io_uring_cqe_seen(&r->ring, cqe);
        n++;
    }
    return n;
}

long runnel_fs_type(const char *path) {
    struct statfs info;
    return statfs(path, &info) == 0 ? (long)info.f_type : 0;
}

// glibc has no wrapper for cachestat; its number is the same on every architecture (the unified table).
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

int runnel_cachestat(int fd, uint64_t offset, uint64_t length, uint64_t *cached) {
    struct { uint64_t off, len; } range = { offset, length };
    struct { uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted; } stat = { 0 };
    if (syscall(__NR_cachestat, fd, &range, &stat, 0) != 0) return -errno;
    *cached = stat.nr_cache;
    return 0;
}
