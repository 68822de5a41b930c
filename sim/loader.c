/* Loading firmware into the virtual board, as a programmer (SWD) would: ELF segments at
 * their load addresses, or a raw binary at a given address. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "l4sim: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            unsigned char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

int sim_load_elf(sim_t *sim, const char *path)
{
    size_t len;
    unsigned char *img = read_file(path, &len);
    if (!img)
        return -1;
    int rc = -1;
    Elf32_Ehdr eh;
    if (len < sizeof eh) {
        fprintf(stderr, "l4sim: %s: too short to be an ELF file\n", path);
        goto out;
    }
    memcpy(&eh, img, sizeof eh);
    if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_machine != EM_ARM) {
        fprintf(stderr, "l4sim: %s: not a 32-bit ARM ELF file\n", path);
        goto out;
    }
    if (eh.e_phoff + (size_t)eh.e_phnum * sizeof(Elf32_Phdr) > len) {
        fprintf(stderr, "l4sim: %s: program headers run past the end of the file\n", path);
        goto out;
    }
    unsigned loaded = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf32_Phdr ph;
        memcpy(&ph, img + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue;
        if ((size_t)ph.p_offset + ph.p_filesz > len) {
            fprintf(stderr, "l4sim: %s: segment %u runs past the end of the file\n", path, i);
            goto out;
        }
        if (sim_load_mem(sim, ph.p_paddr, img + ph.p_offset, ph.p_filesz) != 0) {
            fprintf(stderr, "l4sim: %s: segment at 0x%08x (%u bytes) is not in flash or RAM\n", path, ph.p_paddr,
                    ph.p_filesz);
            goto out;
        }
        loaded++;
    }
    if (!loaded) {
        fprintf(stderr, "l4sim: %s: no loadable segments\n", path);
        goto out;
    }
    rc = 0;
out:
    free(img);
    return rc;
}

int sim_load_bin(sim_t *sim, const char *path, uint32_t addr)
{
    size_t len;
    unsigned char *img = read_file(path, &len);
    if (!img)
        return -1;
    int rc = sim_load_mem(sim, addr, img, len);
    if (rc != 0)
        fprintf(stderr, "l4sim: %s: %zu bytes at 0x%08x do not fit in flash or RAM\n", path, len, addr);
    free(img);
    return rc;
}
