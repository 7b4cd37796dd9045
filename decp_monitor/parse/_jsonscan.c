/* One pass over a DECP JSON file's bytes, in compiled code, before DuckDB reads it (json_sql.py).
 *
 * Why C: the pass it replaces ran in Python at ~420 MB/s on one thread (2.3 s for a 972 MB national
 * file, before any record was read), and, not telling strings from structure, it could only
 * estimate nesting at 64 KB boundaries and cut arrays where a bracket count said so. Here each
 * byte is classified once, strings included, without the GIL:
 * - the nesting depth is exact: the walk stops at `max_depth` (DuckDB recurses over nesting);
 * - a letter N or I outside strings is a bare NaN or Infinity (the only letters valid JSON has
 *   outside strings are those of true, false and null): DuckDB reads them differently;
 * - a comma before a closing '}' or ']': DuckDB reads the object or list, yajl refuses the file;
 * - U+FFFD inside strings is counted (the mojibake finding);
 * - keys (strings followed by ':'): whether one starts or ends with a character str.isspace()
 *   accepts or holds an escape (json_sql's SPACED_KEY), whether one is longer than `max_key`
 *   bytes, whether one is "titulaire" (the 2024 wrapper, json_sql's WRAPPED_SIBLING): without
 *   them, json_sql need not search every record's text;
 * - for each records array (given by the offset of its '['), the offset of each of its objects:
 *   json_sql cuts the array between two of them for concurrent reading, always between records.
 */
#define PY_SSIZE_T_CLEAN
#define _FILE_OFFSET_BITS 64
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_ARRAYS 8

typedef struct {
    long long *data;
    size_t len, cap;
} Offsets;

typedef struct {
    /* settings */
    long long array_at[MAX_ARRAYS];
    int n_arrays;
    int max_depth;
    size_t max_key;
    size_t max_offsets;
    /* results */
    Offsets starts[MAX_ARRAYS];
    long long replacement;
    int spaced_keys, long_keys, wrapped_keys;
    int scalars;  /* a records array holds something else than objects: offsets are not positions */
    int too_many;  /* more records than max_offsets: their offsets are not kept (memory stays bounded) */
    const char *problem;
    long long problem_at;
    int memory_error;
} Scan;

static int push(Scan *s, Offsets *o, long long value) {
    if (s->too_many)
        return 0;
    if (o->len >= s->max_offsets) {
        s->too_many = 1;
        for (int a = 0; a < MAX_ARRAYS; a++) {
            free(s->starts[a].data);
            memset(&s->starts[a], 0, sizeof(Offsets));
        }
        return 0;
    }
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        long long *p = realloc(o->data, cap * sizeof(long long));
        if (!p) {
            s->memory_error = 1;
            return -1;
        }
        o->data = p;
        o->cap = cap;
    }
    o->data[o->len++] = value;
    return 0;
}

/* Whether the n bytes at p are one whole character str.isspace() accepts (JSON strings hold no
 * raw control character: only the space, and the Unicode spaces, can really be met). */
static int is_space(const unsigned char *p, size_t n) {
    if (n == 1)
        return p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r' || (p[0] >= 0x1c && p[0] <= 0x1f)
               || p[0] == 0x0b || p[0] == 0x0c;
    if (n == 2)
        return p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0);
    if (n == 3)
        return (p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
               || (p[0] == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9
                                                    || p[2] == 0xAF))
               || (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F) || (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80);
    return 0;
}

static size_t utf8_length(unsigned char lead) {
    return lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
}

/* A string (its bytes between the quotes) that str.strip() would change, or holding an escape. */
static int spaced(const unsigned char *text, size_t n, int has_escape) {
    if (has_escape)
        return 1;
    if (n == 0)
        return 0;
    size_t first = utf8_length(text[0]);
    if (first <= n && is_space(text, first))
        return 1;
    for (size_t k = 1; k <= 3 && k <= n; k++)  /* the last character: its k bytes, k its length */
        if (utf8_length(text[n - k]) == k && is_space(text + n - k, k))
            return 1;
    return 0;
}

/* Bytes that stop the run over a string's text: its end, an escape, the first byte of U+FFFD. */
static unsigned char STRING_STOP[256];

#define RELEASE_EVERY (64LL << 20)

/* Index of the first stop byte at or after i (n if none): sixteen bytes at a time where SSE2 is. */
static size_t skip_text(const unsigned char *p, size_t i, size_t n) {
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), lead = _mm_set1_epi8((char)0xEF);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        int hits = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                                  _mm_cmpeq_epi8(v, lead)));
        if (hits)
            return i + (size_t)__builtin_ctz((unsigned int)hits);
        i += 16;
    }
#endif
    while (i < n && !STRING_STOP[p[i]])
        i++;
    return i;
}

/* Pages behind i (all but the last MiB) given back every RELEASE_EVERY bytes: they are read again
 * from the file if ever looked at, the walk only goes forward. */
static void release_behind(const unsigned char *p, size_t i, size_t *released) {
    if (i - *released > (size_t)RELEASE_EVERY + (1 << 20)) {
        size_t upto = (i - (1 << 20)) & ~(size_t)4095;
        madvise((void *)(p + *released), upto - *released, MADV_DONTNEED);
        *released = upto;
    }
}

static void scan_bytes(Scan *s, const unsigned char *p, size_t n) {
    int depth = 0, array = -1, array_level = 0;
    int pending = -1;  /* a string just closed: 1 when a key there would be spaced, 0 when not */
    size_t key_start = 0, key_len = 0;  /* that string's bytes */
    size_t released = 0;
    size_t i = 0;
    unsigned char last = 0;  /* the last byte outside strings that is not a space */
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"') {
            last = c;
            if (array >= 0 && depth == array_level)
                s->scalars = 1;
            size_t start = ++i;
            int has_escape = 0;
            for (;;) {
                if (i >= n)
                    return;  /* (past it: a backslash ending the file) */
                size_t limit = n - i > (1 << 20) ? i + (1 << 20) : n;  /* a long string: pages given back */
                i = skip_text(p, i, limit);
                if (i >= n)
                    return;  /* an open string at the end: DuckDB refuses the file */
                if (i >= limit) {
                    release_behind(p, i, &released);
                    continue;
                }
                if (p[i] == '"')
                    break;
                if (p[i] == '\\') {
                    has_escape = 1;
                    i += 2;
                    continue;
                }
                if (i + 2 < n && p[i + 1] == 0xBF && p[i + 2] == 0xBD)  /* U+FFFD */
                    s->replacement++;
                i++;
            }
            pending = spaced(p + start, i - start, has_escape);
            key_start = start;
            key_len = i - start;
            i++;
            continue;
        }
        switch (c) {
        case ' ': case '\t': case '\n': case '\r':
            i++;
            continue;
        case ',':
            break;
        case ':':
            if (pending == 1)
                s->spaced_keys = 1;
            if (pending >= 0 && key_len > s->max_key)
                s->long_keys = 1;
            if (pending >= 0 && key_len == 9 && memcmp(p + key_start, "titulaire", 9) == 0)
                s->wrapped_keys = 1;
            break;
        case '{':
        case '[':
            if (c == '[' && array >= 0 && depth == array_level)
                s->scalars = 1;
            if (c == '{' && array >= 0 && depth == array_level && push(s, &s->starts[array], (long long)i))
                return;
            if (c == '[' && array < 0)
                for (int a = 0; a < s->n_arrays; a++)
                    if (s->array_at[a] == (long long)i) {
                        array = a;
                        array_level = depth + 1;
                    }
            if (++depth >= s->max_depth) {
                s->problem = "depth";
                s->problem_at = (long long)i;
                return;
            }
            break;
        case '}':
        case ']':
            if (last == ',') {  /* DuckDB reads it as if the comma were not there, yajl refuses the file */
                s->problem = "comma";
                s->problem_at = (long long)i;
                return;
            }
            depth--;
            if (array >= 0 && depth < array_level)
                array = -1;
            break;
        case 'N':
        case 'I':
            s->problem = "nan";
            s->problem_at = (long long)i;
            return;
        default:  /* a number, true, false or null */
            if (array >= 0 && depth == array_level)
                s->scalars = 1;
            break;
        }
        pending = -1;
        last = c;
        i++;
        release_behind(p, i, &released);
    }
}

static PyObject *scan(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"path", "array_starts", "max_depth", "max_key", "max_offsets", NULL};
    PyObject *path, *arrays;
    int max_depth;
    Py_ssize_t max_key, max_offsets;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&Oinn", keywords, PyUnicode_FSConverter, &path, &arrays,
                                     &max_depth, &max_key, &max_offsets))
        return NULL;
    Scan s;
    memset(&s, 0, sizeof s);
    s.max_depth = max_depth;
    s.max_key = (size_t)max_key;
    s.max_offsets = (size_t)max_offsets;
    PyObject *result = NULL, *fast = PySequence_Fast(arrays, "array_starts must be a sequence of offsets");
    int fd = -1;
    if (!fast)
        goto done;
    s.n_arrays = (int)PySequence_Fast_GET_SIZE(fast);
    if (s.n_arrays > MAX_ARRAYS) {
        PyErr_SetString(PyExc_ValueError, "too many arrays");
        goto done;
    }
    for (int a = 0; a < s.n_arrays; a++) {
        s.array_at[a] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, a));
        if (PyErr_Occurred())
            goto done;
    }
    fd = open(PyBytes_AS_STRING(path), O_RDONLY);
    struct stat info;
    if (fd < 0 || fstat(fd, &info) != 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        goto done;
    }
    if (info.st_size > 0) {
        void *map = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        madvise(map, (size_t)info.st_size, MADV_SEQUENTIAL);
        scan_bytes(&s, map, (size_t)info.st_size);
        munmap(map, (size_t)info.st_size);
        Py_END_ALLOW_THREADS
    }
    if (s.memory_error) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *starts = PyList_New(s.n_arrays);
    if (!starts)
        goto done;
    for (int a = 0; a < s.n_arrays; a++) {
        PyObject *packed = PyBytes_FromStringAndSize((const char *)s.starts[a].data,
                                                     (Py_ssize_t)(s.starts[a].len * sizeof(long long)));
        if (!packed) {
            Py_DECREF(starts);
            goto done;
        }
        PyList_SET_ITEM(starts, a, packed);
    }
    PyObject *flags = Py_BuildValue("{sOsOsOsOsO}", "spaced_keys", s.spaced_keys ? Py_True : Py_False, "long_keys",
                                    s.long_keys ? Py_True : Py_False, "wrapped_keys",
                                    s.wrapped_keys ? Py_True : Py_False, "scalars", s.scalars ? Py_True : Py_False,
                                    "too_many", s.too_many ? Py_True : Py_False);
    if (!flags) {
        Py_DECREF(starts);
        goto done;
    }
    if (s.problem)
        result = Py_BuildValue("(sL)LNN", s.problem, s.problem_at, s.replacement, flags, starts);
    else
        result = Py_BuildValue("OLNN", Py_None, s.replacement, flags, starts);
done:
    Py_XDECREF(fast);
    if (fd >= 0)
        close(fd);
    for (int a = 0; a < MAX_ARRAYS; a++)
        free(s.starts[a].data);
    Py_DECREF(path);
    return result;
}

/* A copy of a file with each bare NaN, Infinity and -Infinity outside strings written null, as the
 * streaming reader's sanitising pass reads them (json_reader._SanitisingReader): json_sql then reads
 * a national file with bare NaN at DuckDB's speed instead of sending it to the streaming reader. Returns
 * the number of values rewritten, -1 on an I/O error (errno set). The source is mapped and given
 * back as it is passed, the copy written through a small buffer: memory stays flat. */
#define SANITISE_BUFFER (1 << 20)

/* Bytes that stop the walk outside strings: a string's start, the first byte of a bare token. */
static unsigned char BARE_STOP[256];

/* All n bytes written, whatever write() takes at once (a regular file may take less near its size
 * limit, a pipe less when full), again when a signal interrupts it before it wrote anything
 * (Python's handlers are installed without SA_RESTART: EINTR). */
static int write_all(int fd, const unsigned char *data, size_t n) {
    size_t done = 0;
    while (done < n) {
        ssize_t wrote = write(fd, data + done, n - done);
        if (wrote < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)wrote;
    }
    return 0;
}

static int flush_out(int fd, const unsigned char *buffer, size_t *used) {
    if (write_all(fd, buffer, *used) < 0)
        return -1;
    *used = 0;
    return 0;
}

/* n bytes to the copy: through the buffer, or straight out when they would not fit in it. */
static int emit(int fd, unsigned char *buffer, size_t *used, const unsigned char *data, size_t n) {
    if (n > SANITISE_BUFFER - *used) {
        if (flush_out(fd, buffer, used) < 0)
            return -1;
        if (n >= SANITISE_BUFFER)
            return write_all(fd, data, n);
    }
    memcpy(buffer + *used, data, n);
    *used += n;
    return 0;
}

/* The walk only looks for tokens: the bytes between two (`span` up to i) are copied at once. */
static long long sanitise_bytes(const unsigned char *p, size_t n, int out, unsigned char *buffer) {
    long long replaced = 0;
    size_t used = 0, i = 0, span = 0, released = 0;
    int in_string = 0;
    while (i < n) {
        if (i - span >= SANITISE_BUFFER) {  /* a long span is copied, and the pages behind it given back */
            if (emit(out, buffer, &used, p + span, i - span) < 0)
                return -1;
            span = i;
            release_behind(p, i, &released);
        }
        /* each step goes at most a buffer's length, inside a long string too */
        size_t limit = n - i > SANITISE_BUFFER ? i + SANITISE_BUFFER : n;
        if (!in_string) {
            /* runs outside strings are short (": ", ", "): a byte loop beats sixteen at a time */
            while (i < limit && !BARE_STOP[p[i]])
                i++;
            if (i >= limit)
                continue;
            if (p[i] != '"') {
                size_t token = 0;
                if (p[i] == 'N' && n - i >= 3 && memcmp(p + i, "NaN", 3) == 0)
                    token = 3;
                else if (p[i] == 'I' && n - i >= 8 && memcmp(p + i, "Infinity", 8) == 0)
                    token = 8;
                else if (p[i] == '-' && n - i >= 9 && memcmp(p + i, "-Infinity", 9) == 0)
                    token = 9;
                if (!token) {
                    i++;
                    continue;
                }
                if (emit(out, buffer, &used, p + span, i - span) < 0
                    || emit(out, buffer, &used, (const unsigned char *)"null", 4) < 0)
                    return -1;
                i += token;
                span = i;
                replaced++;
                release_behind(p, i, &released);  /* a file of many NaN has no long span */
                continue;
            }
            in_string = 1;
            i++;
        }
        for (;;) {  /* in a string: to its closing quote, or to `limit` */
            i = skip_text(p, i, limit);
            if (i >= limit)
                break;
            if (p[i] == '"') {
                in_string = 0;
                i++;
                break;
            }
            if (p[i] == '\\')
                i = n - i > 2 ? i + 2 : n;  /* the escaped byte passed (a backslash ending the file escapes nothing) */
            else
                i++;  /* a 0xEF byte (skip_text stops at it) */
        }
    }
    if (emit(out, buffer, &used, p + span, n - span) < 0 || flush_out(out, buffer, &used) < 0)
        return -1;
    return replaced;
}

enum { NEITHER, SOURCE, TARGET };

/* The whole copy, without the GIL (opening a pipe or a file on a slow mount may wait: other threads
 * run meanwhile): 0, or an errno and in `which` the file it is about. */
static int sanitise_file(const char *source, const char *target, long long *replaced, int *which) {
    int in = -1, out = -1, failure;
    unsigned char *buffer = NULL;
    struct stat info, written;
    *which = SOURCE;
    in = open(source, O_RDONLY);
    if (in < 0 || fstat(in, &info) != 0)
        goto failed;
    /* not truncated on opening: the target may be the source itself (its name, or another link),
     * which truncating would empty under its mapping (reading it then kills the process: SIGBUS) */
    *which = TARGET;
    out = open(target, O_WRONLY | O_CREAT, 0600);
    if (out < 0 || fstat(out, &written) != 0)
        goto failed;
    if (written.st_dev == info.st_dev && written.st_ino == info.st_ino) {
        errno = EINVAL;
        goto failed;
    }
    if (S_ISREG(written.st_mode) && ftruncate(out, 0) != 0)  /* not a pipe or a device */
        goto failed;
    buffer = malloc(SANITISE_BUFFER);
    if (!buffer) {
        *which = NEITHER;
        errno = ENOMEM;
        goto failed;
    }
    if (info.st_size > 0) {
        void *map = mmap(NULL, (size_t)info.st_size, PROT_READ, MAP_PRIVATE, in, 0);
        if (map == MAP_FAILED) {
            *which = SOURCE;
            goto failed;
        }
        madvise(map, (size_t)info.st_size, MADV_SEQUENTIAL);
        *replaced = sanitise_bytes(map, (size_t)info.st_size, out, buffer);
        failure = errno;
        munmap(map, (size_t)info.st_size);
        if (*replaced < 0) {
            errno = failure;
            goto failed;
        }
    }
    free(buffer);
    close(in);
    failure = close(out) != 0 ? errno : 0;  /* a full disk may only say so here */
    return failure;
failed:
    failure = errno;
    free(buffer);
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return failure;
}

static PyObject *sanitise(PyObject *self, PyObject *args) {
    PyObject *source, *target, *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "O&O&", PyUnicode_FSConverter, &source, PyUnicode_FSConverter, &target))
        return NULL;
    long long replaced = 0;
    int which = NEITHER, failure;
    Py_BEGIN_ALLOW_THREADS
    failure = sanitise_file(PyBytes_AS_STRING(source), PyBytes_AS_STRING(target), &replaced, &which);
    Py_END_ALLOW_THREADS
    if (failure == 0) {
        result = PyLong_FromLongLong(replaced);
    } else if (which == NEITHER) {
        PyErr_NoMemory();
    } else {
        errno = failure;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, which == SOURCE ? source : target);
    }
    Py_DECREF(source);
    Py_DECREF(target);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_VARARGS | METH_KEYWORDS,
     "scan(path, array_starts, max_depth, max_key, max_offsets) -> (None | (problem, offset), U+FFFD count, "
     "{spaced_keys, long_keys, wrapped_keys, scalars, too_many}, "
     "[offsets of each array's objects, packed int64])"},
    {"sanitise", (PyCFunction)sanitise, METH_VARARGS,
     "sanitise(source, target) -> values rewritten: a copy with bare NaN/Infinity/-Infinity outside strings "
     "written null"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonscan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__jsonscan(void) {
    STRING_STOP['"'] = STRING_STOP['\\'] = STRING_STOP[0xEF] = 1;
    BARE_STOP['"'] = BARE_STOP['N'] = BARE_STOP['I'] = BARE_STOP['-'] = 1;
    return PyModule_Create(&module);
}
