/* Whole-file reads and all-or-nothing writes for the host tools. */
#ifndef L4DFU_TOOLS_FILEIO_H
#define L4DFU_TOOLS_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Reads `path` into a new buffer with `extra` spare bytes after the contents
 * (for padding). Refuses files above max_len. Returns NULL and prints why. */
uint8_t *fileio_read(const char *path, size_t max_len, size_t extra, size_t *len);

/* Writes `len` bytes to a temporary file next to `path`, syncs it and renames
 * it over `path`, so a reader sees the old file or the whole new one, never a
 * part. Returns 0, or -1 after printing why (and removing the temporary). */
int fileio_write_atomic(const char *path, const uint8_t *data, size_t len);

/* The same, readable by the owner only (secret keys). */
int fileio_write_atomic_private(const char *path, const uint8_t *data, size_t len);

#endif
