/* core/h5io: HDF5 files of named tensors, strings and attributes (see h5io.h).
 *
 * Every HDF5 call is checked by H5CHK: HDF5 returns a negative value on failure, and with
 * automatic error printing off the failure is turned into an ofa error naming the file and the
 * object; HDF5's own innermost message is logged at debug level.  Each function keeps its hid_t's
 * in locals initialised to -1 and closes them at one `done:` label.
 */
#include "core/h5io.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/afile.h"
#include "core/error.h"
#include "core/log.h"

_Static_assert(sizeof(hid_t) == sizeof(int64_t), "hid_t must fit ofa_h5.fid");

/* Chunks are the whole dataset, cut down along dim 0 (then dim 1, ...) to at most this size. */
#define H5IO_CHUNK_BYTES ((size_t)1 << 20)

/* Turns HDF5's automatic error printing off, once (init flag). */
static void h5io_init(void)
{
    static int done;
    if (done) return;
    /* no library shutdown at exit (must precede initialization): after a failed H5Fclose (disk
     * full) HDF5 1.10 would crash closing that file again in its atexit handler; the OS reclaims
     * everything anyway */
    H5dont_atexit();
    H5open();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    done = 1;
}

/* ---- HDF5 error stack ----------------------------------------------------------------------- */

struct stack_info {
    char first[256]; /* the innermost (most specific) message */
    int checksum;    /* a Fletcher32 failure anywhere on the stack */
};

static herr_t stack_walk_cb(unsigned n, const H5E_error2_t *e, void *ctx)
{
    struct stack_info *si = ctx;
    const char *d = e->desc ? e->desc : "";
    if (n == 0) snprintf(si->first, sizeof si->first, "%s", d);
    if (strstr(d, "Fletcher32") || strstr(d, "fletcher32")) si->checksum = 1;
    return 0;
}

/* Reads (and clears) the current HDF5 error stack; must run right after the failing call. */
static void stack_read(struct stack_info *si)
{
    memset(si, 0, sizeof *si);
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, stack_walk_cb, si);
    H5Eclear2(H5E_DEFAULT);
}

/* Records `code` with "path: <message>" and logs HDF5's detail at debug level. */
static int h5_fail(int code, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int h5_fail(int code, const char *path, const char *fmt, ...)
{
    struct stack_info si;
    stack_read(&si);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (si.first[0]) OFA_DEBUG("%s: %s: HDF5 says: %s", path, msg, si.first);
    return OFA_ERR(code, "%s: %s", path, msg);
}

/* Checks an HDF5 call (negative = failure): records the error, sets rc and jumps to done. */
#define H5CHK(call, code, ...)                                                                     \
    do {                                                                                           \
        if ((call) < 0) {                                                                          \
            rc = h5_fail((code), h->path, __VA_ARGS__);                                            \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

#define CLOSE_ID(fn, id)                                                                           \
    do {                                                                                           \
        if ((id) >= 0) fn(id);                                                                     \
        (id) = -1;                                                                                 \
    } while (0)

/* "/x/y" -> "x/y"; "" and "/" -> "/" (the root), as HDF5 wants it for opening. */
static const char *h5name(const char *name)
{
    while (*name == '/') name++;
    return *name ? name : "/";
}

static void fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = 0;
    len += (size_t)snprintf(buf + len, cap - len, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

static int64_t numel_of(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

/* ---- files ---------------------------------------------------------------------------------- */

static hid_t make_fapl(void)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return -1;
    /* STRONG: closing the file closes anything left open in it, so close always really closes. */
    if (H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static int set_paths(ofa_h5 *h, const char *path)
{
    size_t n = strlen(path);
    if (n == 0) return OFA_ERR(OFA_E_IO, "empty HDF5 file name");
    if (n >= sizeof h->path) return OFA_ERR(OFA_E_IO, "%.200s...: path too long", path);
    memcpy(h->path, path, n + 1);
    snprintf(h->tmp_path, sizeof h->tmp_path, "%s.tmp", path);
    return 0;
}

int ofa_h5_create(ofa_h5 *h, const char *path)
{
    h5io_init();
    memset(h, 0, sizeof *h);
    h->fid = -1;
    OFA_TRY(set_paths(h, path));
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return OFA_ERR(OFA_E_IO, "%s is a folder; name the HDF5 file to write in it", path);
    /* Create the temporary ourselves first: a missing folder or permission problem then reports
     * errno's reason, which HDF5's error stack would not. */
    int fd = open(h->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return OFA_ERR(OFA_E_IO, "%s: cannot create '%s': %s", h->path, h->tmp_path, strerror(errno));
    close(fd);
    ofa_tmp_track(h->tmp_path);
    int rc = 0;
    hid_t fapl = make_fapl(), fcpl = -1;
    H5CHK(fapl, OFA_E_RUNTIME, "cannot set up HDF5 file access");
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5CHK(fcpl, OFA_E_RUNTIME, "cannot set up HDF5 file creation");
    /* room for the whole-file checksum, written by ofa_h5_commit once the file is closed */
    H5CHK(H5Pset_userblock(fcpl, OFA_H5_USERBLOCK), OFA_E_RUNTIME, "cannot set up the checksum block");
    hid_t fid = H5Fcreate(h->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
    H5CHK(fid, OFA_E_IO, "cannot create HDF5 file '%s'", h->tmp_path);
    h->fid = fid;
    h->writing = 1;
done:
    CLOSE_ID(H5Pclose, fcpl);
    CLOSE_ID(H5Pclose, fapl);
    if (rc < 0) {
        unlink(h->tmp_path);
        ofa_tmp_untrack(h->tmp_path);
    }
    return rc;
}

static int fsync_path(const char *p, int flags)
{
    int fd = open(p, flags | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return r;
}


/* ---- the whole-file checksum ---------------------------------------------------------------- */

/* The user block's text: the magic line, then the CRC-32 (zlib) of bytes [512, end) and their
 * count; the rest of the 512 bytes are zeros.  The block is compared byte for byte with the one
 * these values give, so a changed byte anywhere in the file is found. */
#define H5IO_MAGIC "ofa-h5-checksum 1\n"

static void block_text(char *blk, uint32_t crc, int64_t size)
{
    memset(blk, 0, OFA_H5_USERBLOCK);
    snprintf(blk, OFA_H5_USERBLOCK, H5IO_MAGIC "crc32 %08" PRIx32 "\nbytes %" PRId64 "\n", crc, size);
}

/* CRC-32 of fd's bytes from `from` to the end; *size gets their count.  -1 with errno on a read error. */
static int crc_from(int fd, off_t from, uint32_t *crc, int64_t *size)
{
    enum { CAP = 1 << 20 };
    unsigned char *buf = ofa_xmalloc(CAP);
    uLong c = crc32(0L, Z_NULL, 0);
    int64_t total = 0;
    int rc = 0;
    for (off_t at = from;;) {
        ssize_t n = pread(fd, buf, CAP, at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0) break;
        c = crc32(c, buf, (uInt)n);
        at += n;
        total += n;
    }
    free(buf);
    *crc = (uint32_t)c;
    *size = total;
    return rc;
}

/* Writes the checksum block into the closed temporary file. */
static int checksum_write(const char *path, const char *tmp)
{
    int fd = open(tmp, O_RDWR | O_CLOEXEC);
    if (fd < 0) return OFA_ERR(OFA_E_IO, "%s: cannot reopen '%s' for its checksum: %s", path, tmp, strerror(errno));
    uint32_t crc;
    int64_t size;
    char blk[OFA_H5_USERBLOCK];
    int rc = 0;
    if (crc_from(fd, OFA_H5_USERBLOCK, &crc, &size) < 0) {
        rc = OFA_ERR(OFA_E_IO, "%s: cannot read '%s' for its checksum: %s", path, tmp, strerror(errno));
    } else {
        block_text(blk, crc, size);
        if (pwrite(fd, blk, sizeof blk, 0) != (ssize_t)sizeof blk)
            rc = OFA_ERR(OFA_E_IO, "%s: cannot write the checksum into '%s': %s", path, tmp, strerror(errno));
    }
    close(fd);
    return rc;
}

/* Verifies the checksum block of an ofa file before libhdf5 reads any of it.  A file whose HDF5
 * superblock starts at byte 0 (written by an older ofa, h5py, ...) has no block and passes. */
static int checksum_verify(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OFA_ERR(OFA_E_IO, "%s: %s", path, strerror(errno));
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    char blk[OFA_H5_USERBLOCK], want[OFA_H5_USERBLOCK];
    int rc = 0;
    ssize_t n = pread(fd, blk, sizeof blk, 0);
    if (n >= 8 && memcmp(blk, sig, 8) == 0) goto done; /* no user block: nothing to verify */
    /* HDF5 at byte 512 is ofa's layout: the block must be ofa's, whatever damaged it.  Anything
     * else (a text file, a foreign user block of another size) is for HDF5 to name. */
    unsigned char at512[8];
    int ours_layout = pread(fd, at512, 8, OFA_H5_USERBLOCK) == 8 && memcmp(at512, sig, 8) == 0;
    size_t ml = strlen(H5IO_MAGIC), diff = 0;
    for (size_t i = 0; i < ml; i++) diff += n < (ssize_t)ml || blk[i] != H5IO_MAGIC[i];
    if (diff > 2 && !ours_layout) goto done;
    if (diff > 0 || n != (ssize_t)sizeof blk) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: corrupted: its checksum block is damaged%s", path,
                     n != (ssize_t)sizeof blk ? " (truncated)" : "");
        goto done;
    }
    uint32_t stored = 0, crc = 0;
    int64_t stored_size = -1, size = 0;
    if (sscanf(blk + strlen(H5IO_MAGIC), "crc32 %8" SCNx32 "\nbytes %" SCNd64, &stored, &stored_size) != 2) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: corrupted: its checksum block is damaged", path);
        goto done;
    }
    if (crc_from(fd, OFA_H5_USERBLOCK, &crc, &size) < 0) {
        rc = OFA_ERR(OFA_E_IO, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    block_text(want, stored, stored_size);
    if (size != stored_size)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: corrupted: %" PRId64 " bytes after the checksum block, %" PRId64
                     " when written (truncated or extended)", path, size, stored_size);
    else if (crc != stored)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: corrupted: checksum %08" PRIx32 " does not match the stored %08" PRIx32
                     " (the file changed after it was written)", path, crc, stored);
    else if (memcmp(blk, want, sizeof blk) != 0)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: corrupted: its checksum block is damaged", path);
done:
    close(fd);
    return rc;
}

static int commit_tmp(ofa_h5 *h);

int ofa_h5_commit(ofa_h5 *h)
{
    OFA_ASSERT(h->writing && h->fid >= 0);
    int rc = commit_tmp(h);
    ofa_tmp_untrack(h->tmp_path); /* renamed, or removed on failure */
    return rc;
}

/* closes, checksums, syncs and renames the temporary file (removed on failure) */
static int commit_tmp(ofa_h5 *h)
{
    int rc = 0;
    hid_t fid = (hid_t)h->fid;
    h->fid = -1;
    h->writing = 0;
    errno = 0;
    if (H5Fclose(fid) < 0) {
        int e = errno;
        rc = h5_fail(OFA_E_IO, h->path, "cannot write HDF5 file '%s'%s%s (disk full or a file size limit?)",
                     h->tmp_path, e ? ": " : "", e ? strerror(e) : "");
        unlink(h->tmp_path);
        return rc;
    }
    if ((rc = checksum_write(h->path, h->tmp_path)) < 0) {
        unlink(h->tmp_path);
        return rc;
    }
    if (fsync_path(h->tmp_path, O_RDONLY) < 0) {
        rc = OFA_ERR(OFA_E_IO, "%s: cannot fsync '%s': %s", h->path, h->tmp_path, strerror(errno));
        unlink(h->tmp_path);
        return rc;
    }
    if (rename(h->tmp_path, h->path) < 0) {
        rc = OFA_ERR(OFA_E_IO, "%s: cannot rename '%s' to it: %s", h->path, h->tmp_path, strerror(errno));
        unlink(h->tmp_path);
        return rc;
    }
    return ofa_fsync_dir_of(h->path);
}

/* from -> to across filesystems: a copy to "<to>.tmp", fsync, rename, then from is removed */
static int copy_then_rename(const char *from, const char *to)
{
    char tmp[OFA_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *in = fopen(from, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    int rc = in && out ? 0 : OFA_ERR(OFA_E_IO, "cannot copy '%s' to '%s': %s", from, tmp, strerror(errno));
    char buf[1 << 16];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = OFA_ERR(OFA_E_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (rc == 0 && ferror(in)) rc = OFA_ERR(OFA_E_IO, "cannot read '%s'", from);
    if (in) fclose(in);
    if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0) && rc == 0)
        rc = OFA_ERR(OFA_E_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (out && fclose(out) != 0 && rc == 0) rc = OFA_ERR(OFA_E_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, to) < 0) rc = OFA_ERR(OFA_E_IO, "cannot rename '%s' to '%s': %s", tmp, to, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    OFA_TRY(ofa_fsync_dir_of(to));
    unlink(from);
    return 0;
}

int ofa_h5_move(const char *from, const char *to)
{
    if (rename(from, to) < 0) {
        if (errno == EXDEV) return copy_then_rename(from, to); /* e.g. ckpt/ linked to scratch */
        return OFA_ERR(OFA_E_IO, "cannot move '%s' to '%s': %s", from, to, strerror(errno));
    }
    return ofa_fsync_dir_of(to);
}

void ofa_h5_abort(ofa_h5 *h)
{
    if (!h) return;
    if (h->fid >= 0) {
        H5Fclose((hid_t)h->fid);
        H5Eclear2(H5E_DEFAULT);
    }
    if (h->writing) {
        unlink(h->tmp_path);
        ofa_tmp_untrack(h->tmp_path);
    }
    h->fid = -1;
    h->writing = 0;
}

int ofa_h5_open(ofa_h5 *h, const char *path)
{
    h5io_init();
    memset(h, 0, sizeof *h);
    h->fid = -1;
    OFA_TRY(set_paths(h, path));
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno == ENOENT) return OFA_ERR(OFA_E_IO, "%s: no such file", path);
        return OFA_ERR(OFA_E_IO, "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return OFA_ERR(OFA_E_IO, "%s: is a folder, not a file", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return OFA_ERR(OFA_E_IO, "%s: %s", path, strerror(errno));
    close(fd);
    OFA_TRY(checksum_verify(path));
    htri_t is = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is <= 0) return OFA_ERR(OFA_E_FORMAT, "%s: not an HDF5 file (or truncated)", path);
    int rc = 0;
    hid_t fapl = make_fapl();
    H5CHK(fapl, OFA_E_RUNTIME, "cannot set up HDF5 file access");
    hid_t fid = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    H5CHK(fid, OFA_E_FORMAT, "not an HDF5 file (or truncated)");
    h->fid = fid;
done:
    CLOSE_ID(H5Pclose, fapl);
    return rc;
}

void ofa_h5_close(ofa_h5 *h)
{
    if (!h) return;
    if (h->writing) {
        ofa_h5_abort(h); /* closing a file being written without commit discards it */
        return;
    }
    if (h->fid >= 0) {
        H5Fclose((hid_t)h->fid);
        H5Eclear2(H5E_DEFAULT);
    }
    h->fid = -1;
}

/* ---- objects -------------------------------------------------------------------------------- */

/* 1 when every link along `name` exists, 0 when one is missing, < 0 on an HDF5 failure. */
static int link_exists(hid_t fid, const char *name)
{
    name = h5name(name);
    if (strcmp(name, "/") == 0) return 1;
    char buf[OFA_PATH_MAX * 2];
    size_t n = strlen(name);
    if (n >= sizeof buf) return 0;
    memcpy(buf, name, n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(fid, buf, H5P_DEFAULT);
        buf[i] = c;
        if (e <= 0) return e < 0 ? -1 : 0;
    }
    return 1;
}

int ofa_h5_exists(ofa_h5 *h, const char *name)
{
    OFA_ASSERT(h->fid >= 0);
    int rc = link_exists((hid_t)h->fid, name);
    if (rc < 0) return h5_fail(OFA_E_FORMAT, h->path, "cannot look up '%s'", name);
    return rc;
}

/* Opens dataset `name`; a missing one is OFA_E_FORMAT "no dataset". */
static int open_dataset(ofa_h5 *h, const char *name, hid_t *did)
{
    OFA_ASSERT(h->fid >= 0);
    int rc = 0;
    int e = link_exists((hid_t)h->fid, name);
    if (e == 0) return OFA_ERR(OFA_E_FORMAT, "%s: no dataset '%s'", h->path, name);
    H5CHK(e, OFA_E_FORMAT, "cannot look up '%s'", name);
    *did = H5Dopen2((hid_t)h->fid, h5name(name), H5P_DEFAULT);
    H5CHK(*did, OFA_E_FORMAT, "'%s' is not a readable dataset", name);
done:
    return rc;
}

static int space_shape(ofa_h5 *h, const char *name, hid_t space, int *ndim, int64_t *shape)
{
    int rc = 0;
    int nd = H5Sget_simple_extent_ndims(space);
    H5CHK(nd, OFA_E_FORMAT, "cannot read the shape of '%s'", name);
    if (nd > OFA_H5_MAX_DIMS)
        return OFA_ERR(OFA_E_FORMAT, "%s: '%s' has %d dimensions (at most %d supported)", h->path, name, nd,
                       OFA_H5_MAX_DIMS);
    hsize_t dims[OFA_H5_MAX_DIMS];
    H5CHK(H5Sget_simple_extent_dims(space, dims, NULL), OFA_E_FORMAT, "cannot read the shape of '%s'", name);
    *ndim = nd;
    for (int i = 0; i < nd; i++) shape[i] = (int64_t)dims[i];
done:
    return rc;
}

int ofa_h5_shape(ofa_h5 *h, const char *name, int *ndim, int64_t *shape)
{
    hid_t did = -1, space = -1;
    int rc = open_dataset(h, name, &did);
    if (rc < 0) goto done;
    space = H5Dget_space(did);
    H5CHK(space, OFA_E_FORMAT, "cannot read the shape of '%s'", name);
    rc = space_shape(h, name, space, ndim, shape);
done:
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Dclose, did);
    return rc;
}

/* ---- numeric datasets ----------------------------------------------------------------------- */

static hid_t lcpl_intermediate(void)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0) return -1;
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        H5Pclose(lcpl);
        return -1;
    }
    return lcpl;
}

static int check_new_name(ofa_h5 *h, const char *name)
{
    OFA_ASSERT(h->writing && h->fid >= 0);
    OFA_ASSERT(name && strcmp(h5name(name), "/") != 0);
    int e = link_exists((hid_t)h->fid, name);
    if (e < 0) return h5_fail(OFA_E_IO, h->path, "cannot look up '%s'", name);
    if (e > 0) return OFA_ERR(OFA_E_IO, "%s: dataset '%s' already exists", h->path, name);
    return 0;
}

static int write_numeric(ofa_h5 *h, const char *name, hid_t memtype, hid_t filetype, const void *data, int ndim,
                         const int64_t *shape)
{
    OFA_ASSERT(ndim >= 0 && ndim <= OFA_H5_MAX_DIMS);
    OFA_TRY(check_new_name(h, name));
    hid_t space = -1, dcpl = -1, lcpl = -1, did = -1;
    int rc = 0;
    hsize_t dims[OFA_H5_MAX_DIMS], chunk[OFA_H5_MAX_DIMS];
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        OFA_ASSERT(shape[i] >= 0);
        dims[i] = chunk[i] = (hsize_t)shape[i];
        numel *= shape[i];
    }
    space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    H5CHK(space, OFA_E_RUNTIME, "cannot make a dataspace for '%s'", name);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5CHK(dcpl, OFA_E_RUNTIME, "cannot make a dataset property list for '%s'", name);
    if (ndim > 0 && numel > 0) {
        /* Chunked (Fletcher32 needs chunks): the whole dataset, cut to at most 1 MiB. */
        size_t esize = H5Tget_size(filetype);
        size_t bytes = esize * (size_t)numel;
        for (int d = 0; d < ndim && bytes > H5IO_CHUNK_BYTES; d++) {
            size_t per = bytes / chunk[d]; /* bytes of one slice along d */
            hsize_t c = per >= H5IO_CHUNK_BYTES ? 1 : (hsize_t)(H5IO_CHUNK_BYTES / per);
            if (c < chunk[d]) chunk[d] = c;
            bytes = per * chunk[d];
        }
        H5CHK(H5Pset_chunk(dcpl, ndim, chunk), OFA_E_RUNTIME, "cannot set chunks for '%s'", name);
        H5CHK(H5Pset_fletcher32(dcpl), OFA_E_RUNTIME, "cannot set the checksum filter for '%s'", name);
    }
    lcpl = lcpl_intermediate();
    H5CHK(lcpl, OFA_E_RUNTIME, "cannot make a link property list for '%s'", name);
    did = H5Dcreate2((hid_t)h->fid, h5name(name), filetype, space, lcpl, dcpl, H5P_DEFAULT);
    H5CHK(did, OFA_E_IO, "cannot create dataset '%s'", name);
    if (numel > 0)
        H5CHK(H5Dwrite(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), OFA_E_IO, "cannot write dataset '%s'", name);
done:
    CLOSE_ID(H5Dclose, did);
    CLOSE_ID(H5Pclose, lcpl);
    CLOSE_ID(H5Pclose, dcpl);
    CLOSE_ID(H5Sclose, space);
    return rc;
}

int ofa_h5_write_f32(ofa_h5 *h, const char *name, const float *data, int ndim, const int64_t *shape)
{
    return write_numeric(h, name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, data, ndim, shape);
}
int ofa_h5_write_f64(ofa_h5 *h, const char *name, const double *data, int ndim, const int64_t *shape)
{
    return write_numeric(h, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, data, ndim, shape);
}
int ofa_h5_write_i32(ofa_h5 *h, const char *name, const int32_t *data, int ndim, const int64_t *shape)
{
    return write_numeric(h, name, H5T_NATIVE_INT32, H5T_STD_I32LE, data, ndim, shape);
}
int ofa_h5_write_i64(ofa_h5 *h, const char *name, const int64_t *data, int ndim, const int64_t *shape)
{
    return write_numeric(h, name, H5T_NATIVE_INT64, H5T_STD_I64LE, data, ndim, shape);
}

/* Reads dataset `name` (already open) into out with memtype; a checksum failure gets its own message. */
static int read_into(ofa_h5 *h, const char *name, hid_t did, hid_t memtype, void *out, int64_t numel)
{
    hid_t ftype = H5Dget_type(did);
    if (ftype < 0) return h5_fail(OFA_E_FORMAT, h->path, "cannot read the type of dataset '%s'", name);
    H5T_class_t cls = H5Tget_class(ftype);
    H5Tclose(ftype);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        return OFA_ERR(OFA_E_FORMAT, "%s: dataset '%s' is not numeric", h->path, name);
    if (numel == 0) return 0;
    if (H5Dread(did, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        struct stack_info si;
        stack_read(&si);
        if (si.first[0]) OFA_DEBUG("%s: reading '%s': HDF5 says: %s", h->path, name, si.first);
        if (si.checksum)
            return OFA_ERR(OFA_E_FORMAT, "%s: dataset '%s' failed its checksum (corrupt file)", h->path, name);
        return OFA_ERR(OFA_E_FORMAT, "%s: cannot read dataset '%s'", h->path, name);
    }
    return 0;
}

static int read_numeric(ofa_h5 *h, const char *name, hid_t memtype, void *out, int ndim, const int64_t *shape)
{
    OFA_ASSERT(ndim >= 0 && ndim <= OFA_H5_MAX_DIMS);
    hid_t did = -1, space = -1;
    int rc = open_dataset(h, name, &did);
    if (rc < 0) goto done;
    space = H5Dget_space(did);
    H5CHK(space, OFA_E_FORMAT, "cannot read the shape of '%s'", name);
    int nd = 0;
    int64_t got[OFA_H5_MAX_DIMS];
    if ((rc = space_shape(h, name, space, &nd, got)) < 0) goto done;
    int same = nd == ndim;
    for (int i = 0; same && i < nd; i++) same = got[i] == shape[i];
    if (!same) {
        char a[256], b[256];
        fmt_shape(a, sizeof a, nd, got);
        fmt_shape(b, sizeof b, ndim, shape);
        rc = OFA_ERR(OFA_E_FORMAT, "%s: dataset '%s' has shape %s, expected %s", h->path, name, a, b);
        goto done;
    }
    rc = read_into(h, name, did, memtype, out, numel_of(nd, got));
done:
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Dclose, did);
    return rc;
}

int ofa_h5_read_f32(ofa_h5 *h, const char *name, float *out, int ndim, const int64_t *shape)
{
    return read_numeric(h, name, H5T_NATIVE_FLOAT, out, ndim, shape);
}
int ofa_h5_read_f64(ofa_h5 *h, const char *name, double *out, int ndim, const int64_t *shape)
{
    return read_numeric(h, name, H5T_NATIVE_DOUBLE, out, ndim, shape);
}
int ofa_h5_read_i32(ofa_h5 *h, const char *name, int32_t *out, int ndim, const int64_t *shape)
{
    return read_numeric(h, name, H5T_NATIVE_INT32, out, ndim, shape);
}
int ofa_h5_read_i64(ofa_h5 *h, const char *name, int64_t *out, int ndim, const int64_t *shape)
{
    return read_numeric(h, name, H5T_NATIVE_INT64, out, ndim, shape);
}

int ofa_h5_read_f32_alloc(ofa_h5 *h, const char *name, float **out, int *ndim, int64_t *shape)
{
    *out = NULL;
    hid_t did = -1, space = -1;
    float *buf = NULL;
    int rc = open_dataset(h, name, &did);
    if (rc < 0) goto done;
    space = H5Dget_space(did);
    H5CHK(space, OFA_E_FORMAT, "cannot read the shape of '%s'", name);
    if ((rc = space_shape(h, name, space, ndim, shape)) < 0) goto done;
    int64_t numel = numel_of(*ndim, shape);
    buf = ofa_xmalloc((size_t)numel * sizeof(float));
    if ((rc = read_into(h, name, did, H5T_NATIVE_FLOAT, buf, numel)) < 0) goto done;
    *out = buf;
    buf = NULL;
done:
    free(buf);
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Dclose, did);
    return rc;
}

/* ---- strings -------------------------------------------------------------------------------- */

static hid_t vlen_utf8_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int ofa_h5_write_strings(ofa_h5 *h, const char *name, const char *const *s, int64_t n)
{
    OFA_ASSERT(n >= 0);
    for (int64_t i = 0; i < n; i++) OFA_ASSERT(s[i] != NULL);
    OFA_TRY(check_new_name(h, name));
    hid_t type = -1, space = -1, lcpl = -1, did = -1;
    int rc = 0;
    hsize_t dims[1] = {(hsize_t)n};
    type = vlen_utf8_type();
    H5CHK(type, OFA_E_RUNTIME, "cannot make a string type for '%s'", name);
    space = H5Screate_simple(1, dims, NULL);
    H5CHK(space, OFA_E_RUNTIME, "cannot make a dataspace for '%s'", name);
    lcpl = lcpl_intermediate();
    H5CHK(lcpl, OFA_E_RUNTIME, "cannot make a link property list for '%s'", name);
    did = H5Dcreate2((hid_t)h->fid, h5name(name), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5CHK(did, OFA_E_IO, "cannot create dataset '%s'", name);
    if (n > 0)
        H5CHK(H5Dwrite(did, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, s), OFA_E_IO, "cannot write dataset '%s'", name);
done:
    CLOSE_ID(H5Dclose, did);
    CLOSE_ID(H5Pclose, lcpl);
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Tclose, type);
    return rc;
}

/* The memory type for reading strings stored as `ftype`: variable-length stays variable; fixed
 * length gets one more byte and NUL termination, so every element comes back terminated. */
static hid_t string_memtype(hid_t ftype, size_t *fixed_size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    H5T_cset_t cset = H5Tget_cset(ftype);
    htri_t var = H5Tis_variable_str(ftype);
    size_t sz = H5Tget_size(ftype);
    if (cset < 0 || var < 0 || H5Tset_cset(t, cset) < 0) goto fail;
    if (var) {
        if (H5Tset_size(t, H5T_VARIABLE) < 0) goto fail;
        *fixed_size = 0;
    } else {
        if (sz == 0 || H5Tset_size(t, sz + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) goto fail;
        *fixed_size = sz + 1;
    }
    return t;
fail:
    H5Tclose(t);
    return -1;
}

/* Reads `count` string elements of a dataset (is_attr 0) or attribute (1) into out[] (strdup'd). */
static int read_string_elems(ofa_h5 *h, const char *what, hid_t id, int is_attr, hid_t space, int64_t count,
                             char **out)
{
    hid_t ftype = -1, mtype = -1;
    int rc = 0;
    ftype = is_attr ? H5Aget_type(id) : H5Dget_type(id);
    H5CHK(ftype, OFA_E_FORMAT, "cannot read the type of %s", what);
    if (H5Tget_class(ftype) != H5T_STRING) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: %s does not hold strings", h->path, what);
        goto done;
    }
    size_t fixed = 0;
    mtype = string_memtype(ftype, &fixed);
    H5CHK(mtype, OFA_E_FORMAT, "cannot make a string type for %s", what);
    if (count == 0) goto done;
    if (fixed == 0) {
        char **tmp = ofa_xcalloc((size_t)count, sizeof(char *));
        herr_t r = is_attr ? H5Aread(id, mtype, tmp) : H5Dread(id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
        if (r < 0) {
            free(tmp);
            H5CHK(r, OFA_E_FORMAT, "cannot read %s", what);
        }
        for (int64_t i = 0; i < count; i++) out[i] = ofa_xstrdup(tmp[i] ? tmp[i] : "");
        H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, tmp);
        free(tmp);
    } else {
        char *tmp = ofa_xcalloc((size_t)count, fixed);
        herr_t r = is_attr ? H5Aread(id, mtype, tmp) : H5Dread(id, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp);
        if (r < 0) {
            free(tmp);
            H5CHK(r, OFA_E_FORMAT, "cannot read %s", what);
        }
        for (int64_t i = 0; i < count; i++) {
            char *e = tmp + (size_t)i * fixed;
            e[fixed - 1] = '\0';
            out[i] = ofa_xstrdup(e);
        }
        free(tmp);
    }
done:
    if (rc < 0)
        for (int64_t i = 0; i < count; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    CLOSE_ID(H5Tclose, mtype);
    CLOSE_ID(H5Tclose, ftype);
    return rc;
}

int ofa_h5_read_strings(ofa_h5 *h, const char *name, char ***out, int64_t *n)
{
    *out = NULL;
    *n = 0;
    hid_t did = -1, space = -1;
    int rc = open_dataset(h, name, &did);
    if (rc < 0) goto done;
    space = H5Dget_space(did);
    H5CHK(space, OFA_E_FORMAT, "cannot read the shape of '%s'", name);
    int nd = 0;
    int64_t shape[OFA_H5_MAX_DIMS];
    if ((rc = space_shape(h, name, space, &nd, shape)) < 0) goto done;
    if (nd != 1) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: dataset '%s' has %d dimensions, expected a 1-D list of strings", h->path,
                     name, nd);
        goto done;
    }
    char what[OFA_PATH_MAX + 16];
    snprintf(what, sizeof what, "dataset '%s'", name);
    char **s = ofa_xcalloc((size_t)shape[0] + 1, sizeof(char *));
    if ((rc = read_string_elems(h, what, did, 0, space, shape[0], s)) < 0) {
        free(s);
        goto done;
    }
    *out = s;
    *n = shape[0];
done:
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Dclose, did);
    return rc;
}

void ofa_h5_free_strings(char **s, int64_t n)
{
    if (!s) return;
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* ---- attributes ----------------------------------------------------------------------------- */

static int open_object(ofa_h5 *h, const char *obj, hid_t *oid)
{
    OFA_ASSERT(h->fid >= 0);
    int rc = 0;
    int e = link_exists((hid_t)h->fid, obj);
    if (e == 0) return OFA_ERR(OFA_E_FORMAT, "%s: no object '%s'", h->path, obj);
    H5CHK(e, OFA_E_FORMAT, "cannot look up '%s'", obj);
    *oid = H5Oopen((hid_t)h->fid, h5name(obj), H5P_DEFAULT);
    H5CHK(*oid, OFA_E_FORMAT, "cannot open object '%s'", obj);
done:
    return rc;
}

static int attr_write(ofa_h5 *h, const char *obj, const char *key, hid_t filetype, hid_t memtype, int rank,
                      hsize_t n, const void *buf)
{
    OFA_ASSERT(h->writing);
    hid_t oid = -1, space = -1, aid = -1;
    int rc = open_object(h, obj, &oid);
    if (rc < 0) goto done;
    htri_t ex = H5Aexists(oid, key);
    H5CHK(ex, OFA_E_IO, "cannot look up attribute '%s' on '%s'", key, obj);
    if (ex > 0) H5CHK(H5Adelete(oid, key), OFA_E_IO, "cannot replace attribute '%s' on '%s'", key, obj);
    space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, NULL);
    H5CHK(space, OFA_E_RUNTIME, "cannot make a dataspace for attribute '%s'", key);
    aid = H5Acreate2(oid, key, filetype, space, H5P_DEFAULT, H5P_DEFAULT);
    H5CHK(aid, OFA_E_IO, "cannot create attribute '%s' on '%s'", key, obj);
    if (rank == 0 || n > 0)
        H5CHK(H5Awrite(aid, memtype, buf), OFA_E_IO, "cannot write attribute '%s' on '%s'", key, obj);
done:
    CLOSE_ID(H5Aclose, aid);
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Oclose, oid);
    return rc;
}

int ofa_h5_attr_set_str(ofa_h5 *h, const char *obj, const char *key, const char *value)
{
    OFA_ASSERT(value != NULL);
    hid_t t = vlen_utf8_type();
    if (t < 0) return h5_fail(OFA_E_RUNTIME, h->path, "cannot make a string type for attribute '%s'", key);
    int rc = attr_write(h, obj, key, t, t, 0, 1, &value);
    H5Tclose(t);
    return rc;
}
int ofa_h5_attr_set_i64(ofa_h5 *h, const char *obj, const char *key, int64_t value)
{
    return attr_write(h, obj, key, H5T_STD_I64LE, H5T_NATIVE_INT64, 0, 1, &value);
}
int ofa_h5_attr_set_f64(ofa_h5 *h, const char *obj, const char *key, double value)
{
    return attr_write(h, obj, key, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, 1, &value);
}
int ofa_h5_attr_set_u64v(ofa_h5 *h, const char *obj, const char *key, const uint64_t *v, int n)
{
    OFA_ASSERT(n >= 0);
    return attr_write(h, obj, key, H5T_STD_U64LE, H5T_NATIVE_UINT64, 1, (hsize_t)n, v);
}

int ofa_h5_attr_exists(ofa_h5 *h, const char *obj, const char *key)
{
    OFA_ASSERT(h->fid >= 0);
    int rc = link_exists((hid_t)h->fid, obj);
    if (rc <= 0) {
        if (rc < 0) return h5_fail(OFA_E_FORMAT, h->path, "cannot look up '%s'", obj);
        return 0;
    }
    htri_t e = H5Aexists_by_name((hid_t)h->fid, h5name(obj), key, H5P_DEFAULT);
    H5CHK(e, OFA_E_FORMAT, "cannot look up attribute '%s' on '%s'", key, obj);
    rc = e > 0;
done:
    return rc;
}

/* Opens attribute key on obj and checks it holds `count` elements (count < 0: any). */
static int attr_open(ofa_h5 *h, const char *obj, const char *key, hid_t *oid, hid_t *aid, hid_t *space,
                     int64_t count)
{
    int rc = open_object(h, obj, oid);
    if (rc < 0) goto done;
    htri_t ex = H5Aexists(*oid, key);
    H5CHK(ex, OFA_E_FORMAT, "cannot look up attribute '%s' on '%s'", key, obj);
    if (!ex) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: '%s' has no attribute '%s'", h->path, obj, key);
        goto done;
    }
    *aid = H5Aopen(*oid, key, H5P_DEFAULT);
    H5CHK(*aid, OFA_E_FORMAT, "cannot open attribute '%s' on '%s'", key, obj);
    *space = H5Aget_space(*aid);
    H5CHK(*space, OFA_E_FORMAT, "cannot read the shape of attribute '%s' on '%s'", key, obj);
    hssize_t np = H5Sget_simple_extent_npoints(*space);
    H5CHK(np, OFA_E_FORMAT, "cannot read the shape of attribute '%s' on '%s'", key, obj);
    if (count >= 0 && np != count)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: attribute '%s' on '%s' has %lld values, expected %lld", h->path, key, obj,
                     (long long)np, (long long)count);
done:
    return rc;
}

static int attr_read_num(ofa_h5 *h, const char *obj, const char *key, hid_t memtype, void *out, int64_t count)
{
    hid_t oid = -1, aid = -1, space = -1, ftype = -1;
    int rc = attr_open(h, obj, key, &oid, &aid, &space, count);
    if (rc < 0) goto done;
    ftype = H5Aget_type(aid);
    H5CHK(ftype, OFA_E_FORMAT, "cannot read the type of attribute '%s' on '%s'", key, obj);
    H5T_class_t cls = H5Tget_class(ftype);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: attribute '%s' on '%s' is not numeric", h->path, key, obj);
        goto done;
    }
    if (count > 0) H5CHK(H5Aread(aid, memtype, out), OFA_E_FORMAT, "cannot read attribute '%s' on '%s'", key, obj);
done:
    CLOSE_ID(H5Tclose, ftype);
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Aclose, aid);
    CLOSE_ID(H5Oclose, oid);
    return rc;
}

int ofa_h5_attr_get_str(ofa_h5 *h, const char *obj, const char *key, char **out)
{
    *out = NULL;
    hid_t oid = -1, aid = -1, space = -1;
    int rc = attr_open(h, obj, key, &oid, &aid, &space, 1);
    if (rc < 0) goto done;
    char what[OFA_PATH_MAX + 300];
    snprintf(what, sizeof what, "attribute '%s' on '%s'", key, obj);
    rc = read_string_elems(h, what, aid, 1, space, 1, out);
done:
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Aclose, aid);
    CLOSE_ID(H5Oclose, oid);
    return rc;
}
int ofa_h5_attr_get_i64(ofa_h5 *h, const char *obj, const char *key, int64_t *out)
{
    return attr_read_num(h, obj, key, H5T_NATIVE_INT64, out, 1);
}
int ofa_h5_attr_get_f64(ofa_h5 *h, const char *obj, const char *key, double *out)
{
    return attr_read_num(h, obj, key, H5T_NATIVE_DOUBLE, out, 1);
}
int ofa_h5_attr_get_u64v(ofa_h5 *h, const char *obj, const char *key, uint64_t *v, int n)
{
    OFA_ASSERT(n >= 0);
    return attr_read_num(h, obj, key, H5T_NATIVE_UINT64, v, n);
}

/* ---- visiting ------------------------------------------------------------------------------- */

struct visit_ctx {
    ofa_h5 *h;
    ofa_h5_visit_fn cb;
    void *ctx;
    char prefix[OFA_PATH_MAX * 2]; /* "" or "a/b/" */
    int rc;                        /* the user's non-zero return or our error code */
    int depth;
};

static herr_t visit_link(hid_t gid, const char *name, const H5L_info_t *info, void *op)
{
    struct visit_ctx *v = op;
    ofa_h5 *h = v->h;
    if (info->type != H5L_TYPE_HARD) return 0; /* soft/external links are not ours */
    size_t plen = strlen(v->prefix), nlen = strlen(name);
    if (plen + nlen + 2 > sizeof v->prefix || v->depth > 64) {
        v->rc = OFA_ERR(OFA_E_FORMAT, "%s: object name '%s%s' too long or nested too deep", h->path, v->prefix, name);
        return 1;
    }
    hid_t oid = -1, space = -1;
    int rc = 0;
    oid = H5Oopen(gid, name, H5P_DEFAULT);
    H5CHK(oid, OFA_E_FORMAT, "cannot open object '%s%s'", v->prefix, name);
    H5I_type_t t = H5Iget_type(oid);
    memcpy(v->prefix + plen, name, nlen + 1);
    if (t == H5I_GROUP) {
        v->prefix[plen + nlen] = '/';
        v->prefix[plen + nlen + 1] = '\0';
        v->depth++;
        hsize_t idx = 0;
        herr_t r = H5Literate(oid, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_link, v);
        v->depth--;
        if (v->rc == 0 && r < 0) H5CHK(r, OFA_E_FORMAT, "cannot list group '%.*s'", (int)(plen + nlen), v->prefix);
    } else if (t == H5I_DATASET) {
        space = H5Dget_space(oid);
        H5CHK(space, OFA_E_FORMAT, "cannot read the shape of '%s'", v->prefix);
        int nd = 0;
        int64_t shape[OFA_H5_MAX_DIMS];
        if ((rc = space_shape(h, v->prefix, space, &nd, shape)) < 0) goto done;
        v->rc = v->cb(v->prefix, nd, shape, v->ctx);
    }
done:
    v->prefix[plen] = '\0';
    if (rc < 0) v->rc = rc;
    CLOSE_ID(H5Sclose, space);
    CLOSE_ID(H5Oclose, oid);
    return v->rc != 0 ? 1 : 0;
}

int ofa_h5_visit(ofa_h5 *h, const char *group, ofa_h5_visit_fn cb, void *ctx)
{
    OFA_ASSERT(h->fid >= 0 && cb);
    const char *g = h5name(group);
    struct visit_ctx *v = ofa_xcalloc(1, sizeof *v);
    v->h = h;
    v->cb = cb;
    v->ctx = ctx;
    if (strcmp(g, "/") != 0) {
        size_t n = strlen(g);
        while (n > 0 && g[n - 1] == '/') n--;
        if (n + 2 > sizeof v->prefix) n = sizeof v->prefix - 2;
        memcpy(v->prefix, g, n);
        v->prefix[n] = '/';
        v->prefix[n + 1] = '\0';
    }
    hid_t gid = -1;
    int rc = 0;
    int e = link_exists((hid_t)h->fid, g);
    if (e == 0) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: no group '%s'", h->path, group);
        goto done;
    }
    H5CHK(e, OFA_E_FORMAT, "cannot look up '%s'", group);
    gid = H5Gopen2((hid_t)h->fid, g, H5P_DEFAULT);
    H5CHK(gid, OFA_E_FORMAT, "'%s' is not a group", group);
    hsize_t idx = 0;
    herr_t r = H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_link, v);
    if (v->rc != 0) rc = v->rc;
    else H5CHK(r, OFA_E_FORMAT, "cannot list group '%s'", group);
done:
    CLOSE_ID(H5Gclose, gid);
    free(v);
    return rc;
}

int ofa_h5_attr_get_strbuf(ofa_h5 *h, const char *obj, const char *key, char *dst, size_t n)
{
    char *s = NULL;
    OFA_TRY(ofa_h5_attr_get_str(h, obj, key, &s));
    snprintf(dst, n, "%s", s);
    free(s);
    return 0;
}
