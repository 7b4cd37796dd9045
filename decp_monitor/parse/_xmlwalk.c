/* DECP XML records written as a JSON array, in compiled code: the walk of xml_sql.py.
 *
 * Why C: every Python walk over lxml's elements tops out near 36 000 records/s (26 element
 * visits a record), and XSLT is slower still (BENCHMARKS.md, issue 13, 1 Dec 2026 evening).
 * Here expat (the copy inside CPython's pyexpat, reached through its C API capsule: no library
 * or header to install) calls back into C for each tag and text, and each record is written as
 * the JSON object xml_reader._to_dict() would give json.dumps(), without the GIL.
 *
 * What it reproduces of xml_reader (tests/test_xml_sql.py compares both readers' tables):
 * - records are the elements named marche / contrat-concession at any depth (local names:
 *   namespaces are processed, an unbound prefix is an error);
 * - an element without child elements is its text, stripped as str.strip() does, or null when
 *   blank (its name then goes to the record's empty elements, in document order);
 * - an element with children is an object of its children by name; a name seen twice becomes a
 *   list, in document order, at the place of its first occurrence (Python's dict);
 * - except a record's lists (titulaires, modifications) holding only their items, written as
 *   arrays of the items, which the normaliser reads as it reads the wrapper;
 * - text after an element's first child, attributes, comments and processing instructions are
 *   ignored; CDATA is text.
 * Everything it does not reproduce stops the walk with a problem (kind, line, column, detail), and
 * the caller leaves the file to the streaming reader: an entity reference expat skips, a record
 * inside a record, nesting, names or texts beyond the given bounds (those of attributes, namespace
 * declarations, comments and processing instructions too, which libxml2 bounds), a record's own
 * key, a namespace URI libxml2 might not parse, any error of the parse (encoding, well-formedness).
 *
 * Inside strings, control characters are written as JSON escapes, and U+FFFD as \ufffd: json_sql's
 * byte scan counts a raw one as mojibake, a finding the streaming XML reader does not give. (The scan
 * tells strings from structure: brackets and the letters of NaN inside texts are written as they are.)
 */
#define PY_SSIZE_T_CLEAN
#define _FILE_OFFSET_BITS 64
#include <Python.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The part of expat's API this module uses, declared here rather than taken from <expat.h>:
 * the functions come from pyexpat's capsule, whose layout starts with these fields in every
 * CPython since 3.2 (pyexpat.h: "add new functions at the end"). */
typedef char XML_Char;
typedef char XML_LChar;
typedef struct XML_ParserStruct *XML_Parser;
typedef unsigned long XML_Size;
enum XML_Status { XML_STATUS_ERROR = 0, XML_STATUS_OK = 1, XML_STATUS_SUSPENDED = 2 };
enum XML_Error { XML_ERROR_NONE = 0 };
typedef void (*XML_StartElementHandler)(void *, const XML_Char *, const XML_Char **);
typedef void (*XML_EndElementHandler)(void *, const XML_Char *);
typedef void (*XML_CharacterDataHandler)(void *, const XML_Char *, int);
typedef void (*XML_DefaultHandler)(void *, const XML_Char *, int);
typedef void (*AnyHandler)(void);

struct ExpatCapi {
    char *magic;
    int size;
    int major, minor, micro;
    const XML_LChar *(*ErrorString)(enum XML_Error);
    enum XML_Error (*GetErrorCode)(XML_Parser);
    XML_Size (*GetErrorColumnNumber)(XML_Parser);
    XML_Size (*GetErrorLineNumber)(XML_Parser);
    enum XML_Status (*Parse)(XML_Parser, const char *, int, int);
    XML_Parser (*ParserCreate_MM)(const XML_Char *, const void *, const XML_Char *);
    void (*ParserFree)(XML_Parser);
    void (*SetCharacterDataHandler)(XML_Parser, XML_CharacterDataHandler);
    void (*SetCommentHandler)(XML_Parser, AnyHandler);
    void (*SetDefaultHandlerExpand)(XML_Parser, XML_DefaultHandler);
    void (*SetElementHandler)(XML_Parser, XML_StartElementHandler, XML_EndElementHandler);
    void (*SetNamespaceDeclHandler)(XML_Parser, AnyHandler, AnyHandler);
    void (*SetProcessingInstructionHandler)(XML_Parser, AnyHandler);
    void (*SetUnknownEncodingHandler)(XML_Parser, AnyHandler, void *);
    void (*SetUserData)(XML_Parser, void *);
};

static struct ExpatCapi *expat;

#define NAMESPACE_SEPARATOR '}'
#define READ_CHUNK (1 << 20)
#define FLUSH_BYTES (4 << 20)

typedef struct {
    char *data;
    size_t len, cap;
} Buf;

typedef struct {
    size_t name_off, text_off, text_len;
    int name_len;
    int first_child, last_child, next_sibling;
    int next_same;  /* next child of the same parent with the same name (grouping) */
    int group_tail;  /* on the first child of a name: the last one of that name so far */
    int group_size;  /* on the first child of a name: how many share it; 0 on the others */
} Node;

typedef struct {
    const char *text;
    Py_ssize_t len;
} Name;

typedef struct {
    /* settings */
    Name record_tags[2], record_kinds[2];
    Name *list_names, *item_names;  /* a record's list elements written as JSON arrays, and their items */
    int n_lists;
    Name *fields_2024, *empty_allowed, *own_keys;
    int n_fields_2024, n_empty_allowed, n_own_keys;
    size_t max_text, max_name, max_record;
    int max_depth;
    unsigned long long seed;  /* of hash_name() */
    /* state */
    XML_Parser parser;
    int depth;  /* of the open element, whole document */
    int record_kind;  /* -1 outside a record */
    int stack[1024];  /* open nodes of the record */
    int top;
    size_t text_run;  /* bytes of text since the last tag */
    Buf arena;  /* names and texts of the record's nodes */
    size_t skipped;  /* what the record holds that the walk skips and the streaming reader keeps */
    Node *nodes;
    int n_nodes, cap_nodes;
    int *table;  /* grouping by name: open addressing, reused */
    size_t table_cap;
    int *empties;  /* node index of each blank leaf, document order */
    int n_empties, cap_empties;
    Buf out;
    Buf side;  /* one line per record of schema 2.0 or with blank elements: position, format, names */
    FILE *dst, *side_dst;
    long long records;
    /* the first problem met; the walk stops there */
    const char *problem;
    char detail[256];
    unsigned long line, column;
    int io_error;
} Walk;

static int buf_reserve(Buf *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static void fail(Walk *w, const char *problem, const char *detail) {
    if (w->problem)
        return;
    w->problem = problem;
    snprintf(w->detail, sizeof w->detail, "%s", detail ? detail : "");
    /* expat's own position of the event being handled */
    w->line = w->parser ? expat->GetErrorLineNumber(w->parser) : 0;
    w->column = w->parser ? expat->GetErrorColumnNumber(w->parser) : 0;
}

static int append(Walk *w, Buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n)) {
        fail(w, "memory", "");
        return -1;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

static const char *local_name(const char *name, int *len) {
    const char *local = strrchr(name, NAMESPACE_SEPARATOR);
    local = local ? local + 1 : name;
    *len = (int)strlen(local);
    return local;
}

static int same(const char *a, size_t alen, const Name *b) {
    return (Py_ssize_t)alen == b->len && memcmp(a, b->text, alen) == 0;
}

static int among(const char *a, size_t alen, const Name *names, int n) {
    for (int i = 0; i < n; i++)
        if (same(a, alen, &names[i]))
            return 1;
    return 0;
}

/* What the open record holds: its names and texts, and its nodes (56 bytes each, against 4 bytes
 * of file for <a/>: 16 MB of empty elements held 360 MB when only names and texts counted); and
 * what the streaming reader holds of it that the walk skips (a node and the bytes of each
 * attribute, the text after a child), so that both readers hold a record to the same bound
 * (xml_reader.MAX_RECORD_BYTES: the reader counts the same, names aside). */
static size_t record_bytes(const Walk *w) {
    return w->arena.len + w->skipped + (size_t)w->n_nodes * sizeof(Node);
}

static int new_node(Walk *w, const char *name, int len) {
    if (w->n_nodes == w->cap_nodes) {
        int cap = w->cap_nodes ? w->cap_nodes * 2 : 256;
        Node *p = realloc(w->nodes, (size_t)cap * sizeof(Node));
        if (!p) {
            fail(w, "memory", "");
            return -1;
        }
        w->nodes = p;
        w->cap_nodes = cap;
    }
    Node *n = &w->nodes[w->n_nodes];
    n->name_off = w->arena.len;
    n->name_len = len;
    if (append(w, &w->arena, name, (size_t)len))
        return -1;
    n->text_off = w->arena.len;
    n->text_len = 0;
    n->first_child = n->last_child = n->next_sibling = n->next_same = -1;
    n->group_size = 0;
    return w->n_nodes++;
}

static void on_start(void *data, const XML_Char *name, const XML_Char **attributes) {
    Walk *w = data;
    if (w->problem)
        return;
    w->depth++;
    w->text_run = 0;
    if (w->depth > w->max_depth) {
        fail(w, "depth", "");
        return;
    }
    int len;
    const char *local = local_name(name, &len);
    if ((size_t)len > w->max_name) {
        fail(w, "name", "");
        return;
    }
    /* Ignored, but libxml2 refuses names over 50 000 bytes and values over 10 MB (huge_tree=False):
     * the streaming reader would stop where the walk went on. */
    size_t attribute_bytes = 0;
    for (int i = 0; attributes[i]; i += 2) {
        int attribute_len;
        local_name(attributes[i], &attribute_len);
        if ((size_t)attribute_len > w->max_name) {
            fail(w, "attribute_name", "");
            return;
        }
        size_t value_len = strlen(attributes[i + 1]);
        if (value_len > w->max_text) {
            fail(w, "attribute_value", "");
            return;
        }
        attribute_bytes += sizeof(Node) + (size_t)attribute_len + value_len;
    }
    int kind = -1;
    for (int i = 0; i < 2; i++)
        if (same(local, (size_t)len, &w->record_tags[i]))
            kind = i;
    if (w->record_kind < 0) {
        if (kind < 0)
            return;
        w->record_kind = kind;
        w->arena.len = 0;
        w->skipped = 0;
        w->n_nodes = 0;
        w->n_empties = 0;
        w->top = 0;
    } else if (kind >= 0) {
        fail(w, "nested", local);
        return;
    }
    int index = new_node(w, local, len);
    if (index < 0)
        return;
    if (w->top > 0) {
        Node *parent = &w->nodes[w->stack[w->top - 1]];
        if (parent->first_child < 0)
            parent->first_child = index;
        else
            w->nodes[parent->last_child].next_sibling = index;
        parent->last_child = index;
    }
    w->stack[w->top++] = index;
    w->skipped += attribute_bytes;
    if (record_bytes(w) > w->max_record)
        fail(w, "record", "");
}

static void on_text(void *data, const XML_Char *s, int len) {
    Walk *w = data;
    if (w->problem)
        return;
    w->text_run += (size_t)len;
    if (w->text_run > w->max_text) {
        fail(w, "text", "");
        return;
    }
    if (w->record_kind < 0)
        return;
    Node *n = &w->nodes[w->stack[w->top - 1]];
    if (n->first_child >= 0) {  /* a child's tail: lxml's .text is what comes before the first child */
        w->skipped += (size_t)len;
        if (record_bytes(w) > w->max_record)
            fail(w, "record", "");
        return;
    }
    if (append(w, &w->arena, s, (size_t)len))
        return;
    n->text_len += (size_t)len;
    if (record_bytes(w) > w->max_record)
        fail(w, "record", "");
}

static void on_default(void *data, const XML_Char *s, int len) {
    /* Called for what has no handler of its own: the prologue (ignored), and an entity reference
     * expat leaves unexpanded (lxml would keep it as a node of its own). */
    Walk *w = data;
    if (w->problem || len <= 0)
        return;
    if (s[0] == '&')
        fail(w, "entity", "");
}

/* Comments and processing instructions have handlers of their own, which get them whole (the
 * default handler gets them in pieces of 1024 characters from a file expat must convert, Latin-1):
 * libxml2 refuses one over 10 MB, and a target name over 50 000 bytes (huge_tree=False), where the
 * walk would have gone on. */
static void on_comment(void *data, const XML_Char *text) {
    Walk *w = data;
    if (!w->problem && strlen(text) > w->max_text)
        fail(w, "comment", "");
}

static void on_instruction(void *data, const XML_Char *target, const XML_Char *text) {
    Walk *w = data;
    if (w->problem)
        return;
    if (strlen(target) > w->max_name)
        fail(w, "instruction_name", "");
    else if (strlen(text) > w->max_text)
        fail(w, "instruction", "");
}

static int ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Whether libxml2 surely parses `uri` as a URI (RFC 3986): it refuses a namespace whose URI it
 * cannot parse ("xmlns:p: '…' is not a valid URI"), and the streaming reader then stops after the
 * records before it. A strict subset, absolute only: scheme ":" ["//" [user "@"] host [":" port]]
 * then path, query and fragment characters, %-escapes whole. What is outside is left to the reader. */
static int plain_uri(const char *uri) {
    const char *p = uri;
    if (!ascii_alnum(*p) || (*p >= '0' && *p <= '9'))
        return 0;
    while (ascii_alnum(*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (*p++ != ':')
        return 0;
    if (p[0] == '/' && p[1] == '/') {
        p += 2;
        const char *end = p + strcspn(p, "/?#"), *at = NULL;
        for (const char *q = p; q < end; q++)
            if (*q == '@') {
                if (at)
                    return 0;
                at = q;
            }
        for (const char *q = p; at && q < at; q++)  /* user */
            if (!ascii_alnum(*q) && !strchr("-._~:", *q))
                return 0;
        const char *q = at ? at + 1 : p;
        while (q < end && (ascii_alnum(*q) || *q == '-' || *q == '.' || *q == '_' || *q == '~'))
            q++;
        if (q < end && *q == ':') {  /* a port: 1 to 5 digits */
            const char *digits = ++q;
            while (q < end && *q >= '0' && *q <= '9')
                q++;
            if (q - digits < 1 || q - digits > 5)
                return 0;
        }
        if (q != end)
            return 0;
        p = end;
    }
    int fragment = 0;
    for (; *p; p++) {
        if (*p == '%') {
            if (!hex_digit(p[1]) || !hex_digit(p[2]))
                return 0;
            p += 2;
        } else if (*p == '#') {
            if (fragment++)
                return 0;
        } else if (!ascii_alnum(*p) && !strchr("-._~!$&'()*+,;=:@/?", *p))
            return 0;
    }
    return 1;
}

static void on_namespace(void *data, const XML_Char *prefix, const XML_Char *uri) {
    /* Declarations are not attributes for expat: the same bounds as libxml2's (see on_start). */
    Walk *w = data;
    if (w->problem)
        return;
    if (prefix && strlen(prefix) > w->max_name)
        fail(w, "namespace_prefix", "");
    else if (uri && strlen(uri) > w->max_text)
        fail(w, "namespace_uri", "");
    else if (uri && *uri && !plain_uri(uri))
        fail(w, "syntax", "namespace URI");
}

/* ---- JSON ---- */

static const char HEX[] = "0123456789abcdef";

/* 1 where a byte of a string needs a look: quote, backslash, control, brackets, N, I, 0xEF. */
static unsigned char SPECIAL[256];

static void init_special(void) {
    for (int c = 0; c < 0x20; c++)
        SPECIAL[c] = 1;
    const char *more = "\"\\";
    for (const char *p = more; *p; p++)
        SPECIAL[(unsigned char)*p] = 1;
    SPECIAL[0xEF] = 1;
}

static int put_escape(Walk *w, unsigned int code) {
    char e[6] = {'\\', 'u', HEX[(code >> 12) & 15], HEX[(code >> 8) & 15], HEX[(code >> 4) & 15], HEX[code & 15]};
    return append(w, &w->out, e, 6);
}

/* The characters of a JSON string, without its quotes. */
static int put_chars(Walk *w, const char *s, size_t n) {
    if (buf_reserve(&w->out, n)) {
        fail(w, "memory", "");
        return -1;
    }
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && !SPECIAL[(unsigned char)s[i]])
            i++;
        if (i > start && append(w, &w->out, s + start, i - start))
            return -1;
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        int r = 0;
        if (c == '"')
            r = append(w, &w->out, "\\\"", 2);
        else if (c == '\\')
            r = append(w, &w->out, "\\\\", 2);
        else if (c == '\n')
            r = append(w, &w->out, "\\n", 2);
        else if (c == '\r')
            r = append(w, &w->out, "\\r", 2);
        else if (c == '\t')
            r = append(w, &w->out, "\\t", 2);
        else if (c < 0x20)
            r = put_escape(w, c);
        else if (c == 0xEF && i + 2 < n && (unsigned char)s[i + 1] == 0xBF && (unsigned char)s[i + 2] == 0xBD) {
            r = put_escape(w, 0xFFFD);
            i += 2;
        } else
            r = append(w, &w->out, (const char *)&s[i], 1);
        if (r)
            return -1;
        i++;
    }
    return 0;
}

static int put_string(Walk *w, const char *s, size_t n) {
    return append(w, &w->out, "\"", 1) || put_chars(w, s, n) || append(w, &w->out, "\"", 1) ? -1 : 0;
}

/* Byte length of the whitespace character (str.isspace()) starting at p, 0 if none. XML text
 * cannot hold U+000B, U+000C or U+001C-U+001F: only the others are looked for. */
static size_t space_at(const unsigned char *p, const unsigned char *end) {
    size_t left = (size_t)(end - p);
    if (left >= 1 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\n' || p[0] == '\r'))
        return 1;
    if (left >= 2 && p[0] == 0xC2 && (p[1] == 0x85 || p[1] == 0xA0))
        return 2;
    if (left >= 3) {
        if (p[0] == 0xE1 && p[1] == 0x9A && p[2] == 0x80)
            return 3;  /* U+1680 */
        if (p[0] == 0xE2 && p[1] == 0x80 && ((p[2] >= 0x80 && p[2] <= 0x8A) || p[2] == 0xA8 || p[2] == 0xA9 || p[2] == 0xAF))
            return 3;  /* U+2000-200A, U+2028, U+2029, U+202F */
        if (p[0] == 0xE2 && p[1] == 0x81 && p[2] == 0x9F)
            return 3;  /* U+205F */
        if (p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
            return 3;  /* U+3000 */
    }
    return 0;
}

static void strip(const char **text, size_t *len) {
    const unsigned char *p = (const unsigned char *)*text, *end = p + *len;
    size_t k;
    while (p < end && (k = space_at(p, end)) > 0)
        p += k;
    while (end > p) {
        const unsigned char *q = end - 1;
        while (q > p && (*q & 0xC0) == 0x80)  /* back to the first byte of the last character */
            q--;
        if (space_at(q, end) != (size_t)(end - q))
            break;
        end = q;
    }
    *text = (const char *)p;
    *len = (size_t)(end - p);
}

/* Keyed (w->seed, random at every walk) and mixed to its last bit: with a hash anyone can
 * compute, a file can hold children whose names share their low bits, and the tables' linear
 * probing turns quadratic (30 000 such names under one element: seconds instead of milliseconds;
 * a million: an hour). Python's dicts, which the streaming reader uses, are keyed the same way. */
static size_t hash_name(const Walk *w, const char *s, int n) {
    unsigned long long h = w->seed;
    for (int i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (size_t)h;
}

/* Links each child to the next one of the same name, and counts each name on its first child. */
static int group_children(Walk *w, int parent) {
    size_t children = 0;
    for (int c = w->nodes[parent].first_child; c >= 0; c = w->nodes[c].next_sibling)
        children++;
    size_t cap = 16;
    while (cap < children * 2)
        cap *= 2;
    if (cap > w->table_cap) {
        int *t = realloc(w->table, cap * sizeof(int));
        if (!t) {
            fail(w, "memory", "");
            return -1;
        }
        w->table = t;
        w->table_cap = cap;
    }
    for (size_t i = 0; i < cap; i++)
        w->table[i] = -1;
    /* the table holds the first child of each name */
    for (int c = w->nodes[parent].first_child; c >= 0; c = w->nodes[c].next_sibling) {
        Node *n = &w->nodes[c];
        const char *name = w->arena.data + n->name_off;
        size_t slot = hash_name(w, name, n->name_len) & (cap - 1);
        for (;;) {
            int first = w->table[slot];
            if (first < 0) {
                w->table[slot] = c;
                n->group_size = 1;
                n->group_tail = c;
                n->next_same = -1;
                break;
            }
            Node *f = &w->nodes[first];
            if (f->name_len == n->name_len && memcmp(w->arena.data + f->name_off, name, (size_t)n->name_len) == 0) {
                w->nodes[f->group_tail].next_same = c;
                f->group_tail = c;
                n->next_same = -1;
                n->group_size = 0;
                f->group_size++;
                break;
            }
            slot = (slot + 1) & (cap - 1);
        }
    }
    return 0;
}

static int put_value(Walk *w, int index);

/* Whether the record's child `index` is one of the lists (titulaires, modifications) holding only
 * its items: written [item, …] rather than {"item": …}, the shape DuckDB's typed read of json_sql
 * takes; the normaliser reads both alike (normalise._flatten unwraps a one-key wrapper). */
static int is_plain_list(Walk *w, int index) {
    Node *n = &w->nodes[index];
    if (n->first_child < 0 || n->group_size != 1)
        return 0;
    const char *name = w->arena.data + n->name_off;
    for (int k = 0; k < w->n_lists; k++) {
        if (!same(name, (size_t)n->name_len, &w->list_names[k]))
            continue;
        for (int c = n->first_child; c >= 0; c = w->nodes[c].next_sibling)
            if (!same(w->arena.data + w->nodes[c].name_off, (size_t)w->nodes[c].name_len, &w->item_names[k]))
                return 0;
        return 1;
    }
    return 0;
}

static int put_object(Walk *w, int parent) {
    if (group_children(w, parent) || append(w, &w->out, "{", 1))
        return -1;
    int first = 1;
    for (int c = w->nodes[parent].first_child; c >= 0; c = w->nodes[c].next_sibling) {
        Node *n = &w->nodes[c];
        if (n->group_size == 0)
            continue;
        if (!first && append(w, &w->out, ",", 1))
            return -1;
        first = 0;
        if (put_string(w, w->arena.data + n->name_off, (size_t)n->name_len) || append(w, &w->out, ":", 1))
            return -1;
        if (parent == 0 && is_plain_list(w, c)) {
            if (append(w, &w->out, "[", 1))
                return -1;
            for (int m = n->first_child; m >= 0; m = w->nodes[m].next_sibling)
                if ((m != n->first_child && append(w, &w->out, ",", 1)) || put_value(w, m))
                    return -1;
            if (append(w, &w->out, "]", 1))
                return -1;
            continue;
        }
        if (n->group_size == 1) {
            if (put_value(w, c))
                return -1;
            continue;
        }
        if (append(w, &w->out, "[", 1))
            return -1;
        for (int m = c; m >= 0; m = w->nodes[m].next_same)
            if ((m != c && append(w, &w->out, ",", 1)) || put_value(w, m))
                return -1;
        if (append(w, &w->out, "]", 1))
            return -1;
    }
    return append(w, &w->out, "}", 1);
}

static int put_value(Walk *w, int index) {
    Node *n = &w->nodes[index];
    if (n->first_child >= 0)
        return put_object(w, index);
    const char *text = w->arena.data + n->text_off;
    size_t len = n->text_len;
    strip(&text, &len);
    if (len == 0)
        return append(w, &w->out, "null", 4);
    return put_string(w, text, len);
}

static int blank_leaf(Walk *w, int index) {
    Node *n = &w->nodes[index];
    if (n->first_child >= 0)
        return 0;
    const char *text = w->arena.data + n->text_off;
    size_t len = n->text_len;
    strip(&text, &len);
    return len == 0;
}

static void put_record(Walk *w) {
    Node *root = &w->nodes[0];
    if (w->records > 0 && append(w, &w->out, ",\n", 2))
        return;
    size_t side_before = w->side.len;
    int is_object = root->first_child >= 0;
    int is_2024 = 0;
    if (is_object) {
        for (int c = root->first_child; c >= 0; c = w->nodes[c].next_sibling) {
            Node *n = &w->nodes[c];
            const char *name = w->arena.data + n->name_off;
            if (among(name, (size_t)n->name_len, w->own_keys, w->n_own_keys)) {
                fail(w, "own_key", "");
                return;
            }
            if (among(name, (size_t)n->name_len, w->fields_2024, w->n_fields_2024))
                is_2024 = 1;
        }
        if (put_object(w, 0))
            return;
        w->out.len--;  /* reopen the object for the keys below */
    } else if (append(w, &w->out, "{", 1))
        return;
    if ((is_object && append(w, &w->out, ",", 1)) || append(w, &w->out, "\"_type\":", 8)
        || put_string(w, w->record_kinds[w->record_kind].text, (size_t)w->record_kinds[w->record_kind].len))
        return;
    /* the record's position in this walk, then its format (empty: 2019), then its blank elements */
    char head[48];
    int head_len = snprintf(head, sizeof head, "%lld\t%s\t", w->records, is_2024 ? "xml-2024" : "");
    if (append(w, &w->side, head, (size_t)head_len))
        return;
    /* blank leaves in document order (nodes are numbered so), each name once, the allowed ones out */
    size_t cap = 16;
    while (cap < (size_t)w->n_nodes * 2)
        cap *= 2;
    if (cap > w->table_cap) {
        int *t = realloc(w->table, cap * sizeof(int));
        if (!t) {
            fail(w, "memory", "");
            return;
        }
        w->table = t;
        w->table_cap = cap;
    }
    for (size_t i = 0; i < cap; i++)
        w->table[i] = -1;
    int written = 0;
    for (int i = 0; i < w->n_nodes; i++) {
        if (!blank_leaf(w, i))
            continue;
        Node *n = &w->nodes[i];
        const char *name = w->arena.data + n->name_off;
        if (among(name, (size_t)n->name_len, w->empty_allowed, w->n_empty_allowed))
            continue;
        size_t slot = hash_name(w, name, n->name_len) & (cap - 1);
        int seen = 0;
        for (; w->table[slot] >= 0; slot = (slot + 1) & (cap - 1)) {
            Node *m = &w->nodes[w->table[slot]];
            if (m->name_len == n->name_len && memcmp(w->arena.data + m->name_off, name, (size_t)n->name_len) == 0) {
                seen = 1;
                break;
            }
        }
        if (seen)
            continue;
        w->table[slot] = i;
        if ((written && append(w, &w->side, "|", 1)) || append(w, &w->side, name, (size_t)n->name_len))
            return;
        written = 1;
    }
    if (!written && !is_2024)
        w->side.len = side_before;  /* nothing to say of this record */
    else if (append(w, &w->side, "\n", 1))
        return;
    if (append(w, &w->out, "}", 1))
        return;
    w->records++;
}

static void flush(Walk *w) {
    if (w->out.len && !w->io_error && fwrite(w->out.data, 1, w->out.len, w->dst) != w->out.len)
        w->io_error = 1;
    if (w->side.len && !w->io_error && fwrite(w->side.data, 1, w->side.len, w->side_dst) != w->side.len)
        w->io_error = 1;
    w->out.len = 0;
    w->side.len = 0;
}

static void on_end(void *data, const XML_Char *name) {
    Walk *w = data;
    (void)name;
    if (w->problem)
        return;
    w->depth--;
    w->text_run = 0;
    if (w->record_kind < 0)
        return;
    w->top--;
    if (w->top > 0)
        return;
    put_record(w);
    w->record_kind = -1;
    if (w->out.len >= FLUSH_BYTES || w->side.len >= FLUSH_BYTES)
        flush(w);
}

/* ---- Python ---- */

/* The names of `seq` as UTF-8 buffers owned by its str objects; *kept (a tuple, released by the
 * caller once the walk is over) keeps them alive: the caller's own sequence may be a generator
 * whose strings nothing else holds, or a list another thread changes while the GIL is released. */
static int names_from(PyObject *seq, Name **out, int *count, PyObject **kept) {
    PyObject *tuple = PySequence_Tuple(seq);
    if (!tuple)
        return -1;
    *kept = tuple;
    Py_ssize_t n = PyTuple_GET_SIZE(tuple);
    *out = PyMem_Calloc((size_t)n + 1, sizeof(Name));
    if (!*out) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        (*out)[i].text = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(tuple, i), &(*out)[i].len);
        if (!(*out)[i].text)
            return -1;
    }
    *count = (int)n;
    return 0;
}

/* Feeds expat `n` bytes; 0 when the walk may go on. */
static int feed(Walk *w, const char *data, size_t n, int final) {
    while (n > 0 || final) {
        int part = n > READ_CHUNK ? READ_CHUNK : (int)n;
        int last = final && (size_t)part == n;
        if (expat->Parse(w->parser, data, part, last) == XML_STATUS_ERROR) {
            if (!w->problem) {
                w->problem = "syntax";
                snprintf(w->detail, sizeof w->detail, "%s", expat->ErrorString(expat->GetErrorCode(w->parser)));
                w->line = expat->GetErrorLineNumber(w->parser);
                w->column = expat->GetErrorColumnNumber(w->parser);
            }
            return -1;
        }
        if (w->problem)
            return -1;
        data += part;
        n -= (size_t)part;
        if (last)
            break;
    }
    return 0;
}

/* Line breaks as expat counts them (\n, \r and \r\n: one each) and the characters after the last
 * one (in UTF-8, the bytes that do not continue a character; in Latin-1, every byte), given block
 * after block. */
typedef struct {
    unsigned long lines, column;
    int cr;  /* the last byte seen was \r */
} Count;

static void count(Count *c, const char *s, size_t n, int latin1) {
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '\n' && c->cr) {  /* counted at its \r */
            c->cr = 0;
            continue;
        }
        c->cr = b == '\r';
        if (b == '\n' || b == '\r') {
            c->lines++;
            c->column = 0;
        } else if (latin1 || (b & 0xC0) != 0x80)
            c->column++;
    }
}

/* Whether expat reads the file as Latin-1 (its only encoding where a byte over 0x7F is a character
 * of its own): the XML declaration at the start of `head` says ISO-8859-1, and no byte order mark
 * says otherwise. */
static int declared_latin1(const char *head) {
    if (strncmp(head, "<?xml", 5) != 0)
        return 0;
    const char *close = strstr(head, "?>"), *p = strstr(head, "encoding");
    if (!close || !p || p > close)
        return 0;
    p += 8;
    p += strspn(p, " \t\r\n");
    if (*p++ != '=')
        return 0;
    p += strspn(p, " \t\r\n");
    char quote = *p++;
    if (quote != '"' && quote != '\'')
        return 0;
    return strncasecmp(p, "ISO-8859-1", 10) == 0 && p[10] == quote;
}

/* The problem's position in the file, from expat's in what it was given (prefix + source[start:end]
 * + suffix), counted only once there is a problem. The prefix is the file's own head (cut() in
 * xml_sql.py): a position in it is the file's already; past it, its lines do not count, the lines
 * of the file before `start` do, and on the piece's first line (which continues the prefix's last
 * one) the characters between that line's start in the file and `start`. Lines from 1, columns
 * from 1 in characters, as an editor shows them (expat's columns count from 0, and count a byte
 * order mark). 0 on an error of the source. */
static int place(Walk *w, FILE *src, long long start, const char *prefix, size_t prefix_len, int latin1, int bom,
                 char *chunk) {
    if (!w->problem || w->line == 0)
        return 0;
    Count head = {0, 0, 0};
    count(&head, prefix, prefix_len, latin1);
    unsigned long line = w->line, column = w->column, last = head.lines + 1;  /* the prefix's last line */
    if (line > last || (line == last && column >= head.column)) {
        Count before = {0, 0, 0};
        if (fseeko(src, 0, SEEK_SET))
            return -1;
        for (long long left = start; left > 0;) {  /* a file shorter than `start` ends the count */
            size_t got = fread(chunk, 1, left > READ_CHUNK ? READ_CHUNK : (size_t)left, src);
            if (ferror(src))
                return -1;
            if (got == 0)
                break;
            count(&before, chunk, got, latin1);
            left -= (long long)got;
        }
        w->line = before.lines + 1 + (line - last);
        w->column = line == last ? before.column + (column - head.column) : column;
    }
    if (bom && w->line == 1 && w->column > 0)
        w->column--;
    w->column++;
    return 0;
}

/* The walk over prefix + source[start:end] + suffix (a piece of a file: the file's own head up to
 * its root's start tag, records, the root's end tag), or the whole file. */
static void walk(Walk *w, FILE *src, long long start, long long end, const char *prefix, size_t prefix_len,
                 const char *suffix, size_t suffix_len, char *chunk) {
    append(w, &w->out, "[", 1);
    if (prefix_len && feed(w, prefix, prefix_len, 0))
        return;
    if (start > 0 && fseeko(src, (off_t)start, SEEK_SET)) {
        w->io_error = 2;  /* of the source; 1: of the target */
        return;
    }
    long long left = end < 0 ? -1 : end - start;
    for (;;) {
        size_t want = left < 0 || left > READ_CHUNK ? READ_CHUNK : (size_t)left;
        size_t got = want ? fread(chunk, 1, want, src) : 0;
        if (ferror(src)) {
            w->io_error = 2;
            return;
        }
        if (left > 0)
            left -= (long long)got;
        int done = got < want || left == 0;
        if (feed(w, chunk, got, done && !suffix_len))
            return;
        if (done)
            break;
    }
    if (suffix_len && feed(w, suffix, suffix_len, 1))
        return;
    if (w->record_kind >= 0 && !w->problem)
        w->problem = "syntax";
    if (!w->problem) {
        append(w, &w->out, "]", 1);
        flush(w);
    }
}

static PyObject *convert(PyObject *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"source", "target", "side", "record_tags", "record_kinds", "fields_2024",
                               "empty_allowed", "own_keys", "list_names", "item_names", "max_text", "max_name",
                               "max_record", "max_depth", "start", "end", "prefix", "suffix", NULL};
    PyObject *source, *target, *side, *tags, *kinds, *fields, *allowed, *own, *lists, *items;
    Py_ssize_t max_text, max_name, max_record;
    int max_depth;
    long long start = 0, end = -1;
    Py_buffer prefix = {0}, suffix = {0};
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&O&O&OOOOOOOnnni|LLy*y*", keywords, PyUnicode_FSConverter,
                                     &source, PyUnicode_FSConverter, &target, PyUnicode_FSConverter, &side, &tags,
                                     &kinds, &fields, &allowed, &own, &lists, &items, &max_text, &max_name,
                                     &max_record, &max_depth, &start, &end, &prefix, &suffix))
        return NULL;
    Walk w;
    memset(&w, 0, sizeof w);
    w.record_kind = -1;
    w.max_text = (size_t)max_text;
    w.max_name = (size_t)max_name;
    w.max_record = (size_t)max_record;
    w.max_depth = max_depth < 1000 ? max_depth : 1000;  /* the open-node stack holds 1024 */
    Name *tag_names = NULL, *kind_names = NULL;
    int n_tags = 0, n_kinds = 0, n_items = 0;
    PyObject *result = NULL;
    FILE *src = NULL;
    char *chunk = NULL;
    PyObject *kept[7] = {NULL};
    /* cut() never gives such a piece, but the walk would read one to the file's end */
    if (start < 0 || end < -1 || (end >= 0 && end < start)) {
        PyErr_Format(PyExc_ValueError, "no piece from byte %lld to byte %lld (-1: the file's end)", start, end);
        goto done;
    }
    if (names_from(tags, &tag_names, &n_tags, &kept[0]) || names_from(kinds, &kind_names, &n_kinds, &kept[1])
        || names_from(fields, &w.fields_2024, &w.n_fields_2024, &kept[2])
        || names_from(allowed, &w.empty_allowed, &w.n_empty_allowed, &kept[3])
        || names_from(own, &w.own_keys, &w.n_own_keys, &kept[4])
        || names_from(lists, &w.list_names, &w.n_lists, &kept[5]) || names_from(items, &w.item_names, &n_items, &kept[6]))
        goto done;
    if (n_tags != 2 || n_kinds != 2 || n_items != w.n_lists) {
        PyErr_SetString(PyExc_ValueError, "two record tags and their kinds, and one item name per list, are expected");
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        w.record_tags[i] = tag_names[i];
        w.record_kinds[i] = kind_names[i];
    }
    /* From the system's random source at every walk: a key derived from Python's own (hash()) was
     * as secret as PYTHONHASHSEED is random, and that is often set to 0 for reproducible builds. */
    if (getentropy(&w.seed, sizeof w.seed) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    src = fopen(PyBytes_AS_STRING(source), "rb");
    if (!src) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, source);
        goto done;
    }
    w.dst = fopen(PyBytes_AS_STRING(target), "wb");
    if (!w.dst) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, target);
        goto done;
    }
    w.side_dst = fopen(PyBytes_AS_STRING(side), "wb");
    if (!w.side_dst) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, side);
        goto done;
    }
    chunk = malloc(READ_CHUNK);
    if (!chunk) {
        PyErr_NoMemory();
        goto done;
    }
    /* A UTF-8 byte order mark decides the encoding, whatever the declaration says: libxml2 (the
     * streaming reader) reads such a file as UTF-8, expat alone would follow the declaration. The
     * file's first bytes are those of the prefix when a piece is given one (the file's own head). */
    char head[256] = {0};
    if (prefix.len)
        memcpy(head, prefix.buf, prefix.len < 255 ? (size_t)prefix.len : 255);
    else if (fread(head, 1, 255, src) == 0)
        head[0] = 0;
    rewind(src);
    int bom = memcmp(head, "\xEF\xBB\xBF", 3) == 0, latin1 = !bom && declared_latin1(head);
    const char *encoding = bom ? "UTF-8" : NULL;
    Py_BEGIN_ALLOW_THREADS
    w.parser = expat->ParserCreate_MM(encoding, NULL, "}");
    if (w.parser) {
        expat->SetUserData(w.parser, &w);
        expat->SetElementHandler(w.parser, on_start, on_end);
        expat->SetCharacterDataHandler(w.parser, on_text);
        expat->SetDefaultHandlerExpand(w.parser, on_default);
        expat->SetNamespaceDeclHandler(w.parser, (AnyHandler)on_namespace, NULL);
        expat->SetCommentHandler(w.parser, (AnyHandler)on_comment);
        expat->SetProcessingInstructionHandler(w.parser, (AnyHandler)on_instruction);
        walk(&w, src, start, end, prefix.buf, (size_t)prefix.len, suffix.buf, (size_t)suffix.len, chunk);
        expat->ParserFree(w.parser);
        if (!w.io_error && place(&w, src, start, prefix.buf, (size_t)prefix.len, latin1, bom, chunk))
            w.io_error = 2;
    }
    Py_END_ALLOW_THREADS
    if (!w.parser) {
        PyErr_NoMemory();
        goto done;
    }
    /* closed on every path: a failed write must not leave a descriptor open */
    int errno_kept = errno, close_failed = (fclose(w.dst) != 0) | (fclose(w.side_dst) != 0);
    w.dst = w.side_dst = NULL;
    if (w.io_error || close_failed) {
        if (w.io_error)
            errno = errno_kept;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, w.io_error == 2 ? source : target);
        goto done;
    }
    if (w.problem)
        result = Py_BuildValue("L(skks)", w.records, w.problem, w.line, w.column, w.detail);
    else
        result = Py_BuildValue("LO", w.records, Py_None);
done:
    if (src)
        fclose(src);
    if (w.dst)
        fclose(w.dst);
    if (w.side_dst)
        fclose(w.side_dst);
    free(chunk);
    free(w.arena.data);
    free(w.nodes);
    free(w.table);
    free(w.out.data);
    free(w.side.data);
    PyMem_Free(tag_names);
    PyMem_Free(kind_names);
    PyMem_Free(w.fields_2024);
    PyMem_Free(w.empty_allowed);
    PyMem_Free(w.own_keys);
    PyMem_Free(w.list_names);
    PyMem_Free(w.item_names);
    if (prefix.obj)
        PyBuffer_Release(&prefix);
    if (suffix.obj)
        PyBuffer_Release(&suffix);
    for (int i = 0; i < 7; i++)
        Py_XDECREF(kept[i]);
    Py_DECREF(source);
    Py_DECREF(target);
    Py_DECREF(side);
    return result;
}

static PyMethodDef methods[] = {
    {"convert", (PyCFunction)(void (*)(void))convert, METH_VARARGS | METH_KEYWORDS,
     "convert(source, target, side, record_tags, record_kinds, fields_2024, empty_allowed, own_keys, list_names, "
     "item_names, max_text, max_name, max_record, max_depth, start=0, end=-1, prefix=b'', suffix=b'')"
     " -> (records, None | (problem, line, column, detail)): line and column in the file, from 1 (prefix: the file's"
     " own head)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_xmlwalk", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__xmlwalk(void) {
    expat = PyCapsule_Import("pyexpat.expat_CAPI", 0);
    if (!expat)
        return NULL;
    if (strncmp(expat->magic, "pyexpat.expat_CAPI 1.", 21) != 0 || expat->size < (int)sizeof(struct ExpatCapi)) {
        PyErr_SetString(PyExc_ImportError, "pyexpat's C API is not the one this module was written for");
        return NULL;
    }
    init_special();
    PyObject *m = PyModule_Create(&module);
    /* what a record's element costs the walk: the streaming reader counts it per element and
     * attribute against the same bound (xml_reader.MAX_RECORD_BYTES) */
    if (m && PyModule_AddIntConstant(m, "NODE_BYTES", (long)sizeof(Node)) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
