#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

uint8_t *fileio_read(const char *path, size_t max_len, size_t extra, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "error: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "error: %s is not a regular file\n", path);
        fclose(f);
        return NULL;
    }
    if ((uint64_t)st.st_size > max_len) {
        fprintf(stderr, "error: %s has %lld bytes, more than the %zu this tool accepts\n", path,
                (long long)st.st_size, max_len);
        fclose(f);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = calloc(1, size + extra + 1);
    if (!buf) {
        fprintf(stderr, "error: out of memory reading %s\n", path);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, size, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || got != size) {
        fprintf(stderr, "error: cannot read %s (got %zu of %zu bytes)\n", path, got, size);
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}

static int write_atomic(const char *path, const uint8_t *data, size_t len, int private_file);

int fileio_write_atomic(const char *path, const uint8_t *data, size_t len)
{
    return write_atomic(path, data, len, 0);
}

int fileio_write_atomic_private(const char *path, const uint8_t *data, size_t len)
{
    return write_atomic(path, data, len, 1);
}

static int write_atomic(const char *path, const uint8_t *data, size_t len, int private_file)
{
    size_t tmp_len = strlen(path) + sizeof ".tmp-XXXXXX";
    char *tmp = malloc(tmp_len);
    if (!tmp) {
        fprintf(stderr, "error: out of memory writing %s\n", path);
        return -1;
    }
    snprintf(tmp, tmp_len, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "error: cannot create a temporary file for %s: %s\n", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* mkstemp makes the file 0600; give a public file the mode an ordinary create would. */
    int ok = 1;
    if (!private_file) {
        mode_t mask = umask(0);
        umask(mask);
        ok = fchmod(fd, 0666 & ~mask) == 0;
    }
    size_t done = 0;
    while (ok && done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok)
            done += (size_t)n;
    }
    ok = ok && fsync(fd) == 0;
    int saved_errno = errno;
    ok = (close(fd) == 0) && ok;
    if (ok && rename(tmp, path) != 0) {
        saved_errno = errno;
        ok = 0;
    }
    if (!ok) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(saved_errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}
