/* Normaliser: a call's full and match views, from the packed per-code-point table. */
#include "native.h"

#define CODE_POINTS 0x110000
#define TURN_SEPARATOR ((Py_UCS4)'\n')

/* A growing run of characters, each with its entry in the code point table (read once, when the character
 * is first written: the table is large and its entries scattered, so reading it again in every step of the
 * normalisation would cost a cache miss each time) and the span [from, to) of another text it stands for. */
typedef struct {
    Py_UCS4 *chars;
    uint32_t *info;
    int64_t *from;
    int64_t *to;
    Py_ssize_t size, capacity;
} Chars;

static int chars_reserve(Chars *c, Py_ssize_t capacity) {
    Py_UCS4 *chars = PyMem_Realloc(c->chars, (size_t)capacity * sizeof(Py_UCS4));
    if (chars != NULL) c->chars = chars;
    uint32_t *info = PyMem_Realloc(c->info, (size_t)capacity * sizeof(uint32_t));
    if (info != NULL) c->info = info;
    int64_t *f = PyMem_Realloc(c->from, (size_t)capacity * sizeof(int64_t));
    if (f != NULL) c->from = f;
    int64_t *t = PyMem_Realloc(c->to, (size_t)capacity * sizeof(int64_t));
    if (t != NULL) c->to = t;
    if (chars == NULL || info == NULL || f == NULL || t == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    c->capacity = capacity;
    return 0;
}

static inline int chars_push(Chars *c, Py_UCS4 ch, uint32_t info, int64_t from, int64_t to) {
    if (c->size == c->capacity && chars_reserve(c, 2 * c->capacity + 256) < 0) return -1;
    c->chars[c->size] = ch;
    c->info[c->size] = info;
    c->from[c->size] = from;
    c->to[c->size] = to;
    c->size++;
    return 0;
}

static void chars_free(Chars *c) {
    PyMem_Free(c->chars);
    PyMem_Free(c->info);
    PyMem_Free(c->from);
    PyMem_Free(c->to);
}

/* What the table says of a code point, packed in 32 bits (see normalise._CodePoints): one read per
 * character, where separate tables would cost one cache line each. */
#define CP_FORM(entry) ((entry) & 0x1FFFFFu)    /* its normal form, when that is one character */
#define CP_STATE(entry) (((entry) >> 21) & 3u)  /* 0 not known yet, 1 one-character normal form, 2 other */
#define CP_ALNUM(entry) (((entry) >> 23) & 1u)  /* kept in a CJK match view */
#define CP_WORD(entry) (((entry) >> 24) & 1u)   /* a regex word character */
#define CP_CLAUSE(entry) (((entry) >> 25) & 1u) /* clause punctuation */
#define CP_NUMERAL(entry) (((entry) >> 26) & 1u)

typedef struct {
    PyObject_HEAD
    Py_buffer table; /* uint32 per code point */
    int held;
    PyObject *expansions;    /* {code point: normal form of another length} */
    PyObject *convert;       /* numeral run -> digits or None */
    PyObject *measures;      /* str: measure characters after a numeral */
    PyObject *measure_words; /* tuple of str: measure words after a numeral */
} Normaliser;

static void normaliser_dealloc(Normaliser *self) {
    PyTypeObject *type = Py_TYPE(self);
    if (self->held) PyBuffer_Release(&self->table);
    Py_XDECREF(self->expansions);
    Py_XDECREF(self->convert);
    Py_XDECREF(self->measures);
    Py_XDECREF(self->measure_words);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int normaliser_init(Normaliser *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"table", "expansions", "convert", "measures", "measure_words", NULL};
    PyObject *table, *expansions, *convert, *measures, *measure_words;
    if (self->held) {
        PyErr_SetString(PyExc_RuntimeError, "Normaliser is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO!OUO!", keywords, &table, &PyDict_Type, &expansions, &convert,
                                     &measures, &PyTuple_Type, &measure_words))
        return -1;
    if (PyObject_GetBuffer(table, &self->table, PyBUF_SIMPLE) < 0) return -1;
    self->held = 1;
    if (self->table.len != CODE_POINTS * 4) {
        PyErr_Format(PyExc_ValueError, "the table must hold %d items of 4 bytes", CODE_POINTS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(measure_words); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(measure_words, i))) {
            PyErr_SetString(PyExc_TypeError, "measure_words must be a tuple of str");
            return -1;
        }
    }
    if (!PyCallable_Check(convert)) {
        PyErr_SetString(PyExc_TypeError, "convert must be callable");
        return -1;
    }
    self->expansions = Py_NewRef(expansions);
    self->convert = Py_NewRef(convert);
    self->measures = Py_NewRef(measures);
    self->measure_words = Py_NewRef(measure_words);
    return 0;
}

/* Does a measure character or word follow position `at` of `text`? */
static int measure_follows(Normaliser *self, const Chars *text, Py_ssize_t at) {
    if (at >= text->size) return 0;
    if (PyUnicode_FindChar(self->measures, text->chars[at], 0, PyUnicode_GET_LENGTH(self->measures), 1) >= 0)
        return 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->measure_words); i++) {
        PyObject *word = PyTuple_GET_ITEM(self->measure_words, i);
        Py_ssize_t size = PyUnicode_GET_LENGTH(word), k = 0;
        if (at + size > text->size) continue;
        while (k < size && PyUnicode_READ_CHAR(word, k) == text->chars[at + k]) k++;
        if (k == size) return 1;
    }
    return 0;
}

/* Append `piece` (a str) to `out`, each of its characters standing for [from, to). */
static int push_str(const uint32_t *table, Chars *out, PyObject *piece, int64_t from, int64_t to) {
    Py_ssize_t size = PyUnicode_GET_LENGTH(piece);
    for (Py_ssize_t k = 0; k < size; k++) {
        Py_UCS4 ch = PyUnicode_READ_CHAR(piece, k);
        if (chars_push(out, ch, table[ch], from, to) < 0) return -1;
    }
    return 0;
}

/* Step 1: each character's normal form; turns joined by the separator; spans in the original. Code points the
 * table does not know yet are collected in `*unknown` (a set, made on the first). */
static int map_turns(Normaliser *self, PyObject *seq, Chars *out, PyObject **unknown) {
    const uint32_t *table = self->table.buf;
    int64_t origin = 0;
    for (Py_ssize_t t = 0; t < PySequence_Fast_GET_SIZE(seq); t++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, t);
        if (t > 0) {
            if (chars_push(out, TURN_SEPARATOR, table[TURN_SEPARATOR], origin, origin + 1) < 0) return -1;
            origin++;
        }
        Py_ssize_t size = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        for (Py_ssize_t k = 0; k < size; k++, origin++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, k);
            uint32_t entry = table[cp];
            if (CP_STATE(entry) == 1) {
                Py_UCS4 form = CP_FORM(entry);
                if (chars_push(out, form, form == cp ? entry : table[form], origin, origin + 1) < 0) return -1;
                continue;
            }
            if (CP_STATE(entry) == 0) {
                if (*unknown == NULL && (*unknown = PySet_New(NULL)) == NULL) return -1;
                PyObject *code = PyLong_FromUnsignedLong(cp);
                int failed = code == NULL || PySet_Add(*unknown, code) < 0;
                Py_XDECREF(code);
                if (failed) return -1;
                continue;
            }
            PyObject *key = PyLong_FromUnsignedLong(cp);
            if (key == NULL) return -1;
            PyObject *piece = PyDict_GetItemWithError(self->expansions, key);
            Py_DECREF(key);
            if (piece == NULL || !PyUnicode_Check(piece)) {
                if (!PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "no normal form for U+%04X", (unsigned)cp);
                return -1;
            }
            if (push_str(table, out, piece, origin, origin + 1) < 0) return -1;
        }
    }
    return 0;
}

/* Step 2: Chinese numeral runs that are clearly numbers as digits (which runs: see normalise.py). */
static int convert_numerals(Normaliser *self, const Chars *in, Chars *out) {
    const uint32_t *table = self->table.buf;
    Py_ssize_t i = 0;
    while (i < in->size) {
        if (!CP_NUMERAL(in->info[i])) {
            if (chars_push(out, in->chars[i], in->info[i], in->from[i], in->to[i]) < 0) return -1;
            i++;
            continue;
        }
        Py_ssize_t a = i, b = i;
        while (b < in->size && CP_NUMERAL(in->info[b])) b++;
        i = b;
        PyObject *digits = NULL;
        if (b - a > 1 || (a > 0 && in->chars[a - 1] == 0x7B2C /* 第 */) || measure_follows(self, in, b)) {
            PyObject *run = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, in->chars + a, b - a);
            if (run == NULL) return -1;
            digits = PyObject_CallOneArg(self->convert, run);
            Py_DECREF(run);
            if (digits == NULL) return -1;
            if (digits != Py_None && !PyUnicode_Check(digits)) {
                Py_DECREF(digits);
                PyErr_SetString(PyExc_TypeError, "convert must return str or None");
                return -1;
            }
        }
        if (digits != NULL && digits != Py_None) {
            int failed = push_str(table, out, digits, in->from[a], in->to[b - 1]);
            Py_DECREF(digits);
            if (failed) return -1;
            continue;
        }
        Py_XDECREF(digits);
        for (Py_ssize_t k = a; k < b; k++)
            if (chars_push(out, in->chars[k], in->info[k], in->from[k], in->to[k]) < 0) return -1;
    }
    return 0;
}

static int append_index(PyObject *list, Py_ssize_t value) {
    PyObject *item = PyLong_FromSsize_t(value);
    if (item == NULL) return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* Step 3 (CJK): letters and digits only; clause punctuation between two of them in a turn is a break. */
static int match_view_cjk(const Chars *full, Chars *match, PyObject *breaks) {
    int started = 0, crossed = 0, held = 0;
    for (Py_ssize_t i = 0; i < full->size; i++) {
        Py_UCS4 c = full->chars[i];
        uint32_t info = full->info[i];
        if (c == TURN_SEPARATOR) {
            crossed = 1;
        } else if (CP_ALNUM(info)) {
            if (started && held && !crossed && append_index(breaks, match->size) < 0) return -1;
            if (chars_push(match, c, info, i, i + 1) < 0) return -1;
            started = 1;
            crossed = held = 0;
        } else {
            held |= CP_CLAUSE(info);
        }
    }
    return 0;
}

/* Step 3 (words): every run of separators inside a turn becomes one space, a break if it held clause
 * punctuation; a turn's leading and trailing runs are dropped. Apostrophes inside words are kept. */
static int match_view_words(const uint32_t *table, const Chars *full, Chars *match, PyObject *breaks) {
    const uint32_t *info = full->info;
    Py_ssize_t size = full->size, run_start = -1;
    int crossed = 0, held = 0;
    for (Py_ssize_t i = 0; i <= size; i++) {
        int kept = 0;
        Py_UCS4 c = 0;
        if (i < size) {
            c = full->chars[i];
            int inside = i > 0 && i + 1 < size && CP_WORD(info[i - 1]) && CP_WORD(info[i + 1]);
            kept = (CP_WORD(info[i]) && c != '_') || c == '%' || (c == '\'' && inside);
        }
        if (!kept && i < size) {
            if (run_start < 0) {
                run_start = i;
                crossed = held = 0;
            }
            crossed |= c == TURN_SEPARATOR;
            held |= CP_CLAUSE(info[i]);
            continue;
        }
        if (run_start >= 0) {
            if (run_start > 0 && i < size && !crossed) {
                if (held && append_index(breaks, match->size) < 0) return -1;
                if (chars_push(match, ' ', table[' '], run_start, run_start + 1) < 0) return -1;
            }
            run_start = -1;
        }
        if (i < size && chars_push(match, c, info[i], i, i + 1) < 0) return -1;
    }
    return 0;
}

static PyObject *normaliser_views(Normaliser *self, PyObject *args) {
    PyObject *texts;
    int cjk;
    if (!PyArg_ParseTuple(args, "Op", &texts, &cjk)) return NULL;
    if (!self->held) {
        PyErr_SetString(PyExc_RuntimeError, "Normaliser is not initialised");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence of str");
    if (seq == NULL) return NULL;
    Py_ssize_t turns = PySequence_Fast_GET_SIZE(seq), total = turns;
    for (Py_ssize_t t = 0; t < turns; t++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, t);
        if (!PyUnicode_Check(text)) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "texts must be a sequence of str");
            return NULL;
        }
        total += PyUnicode_GET_LENGTH(text);
    }
    Chars mapped = {0}, full = {0}, match = {0};
    PyObject *breaks = PyList_New(0), *full_starts = PyList_New(0), *match_starts = PyList_New(0), *result = NULL;
    PyObject *utf8_starts = PyList_New(0), *unknown = NULL;
    if (breaks == NULL || full_starts == NULL || match_starts == NULL || utf8_starts == NULL) goto done;
    if (chars_reserve(&mapped, total + 16) < 0 || map_turns(self, seq, &mapped, &unknown) < 0) goto done;
    if (unknown != NULL) { /* code points never seen: the caller learns them and asks again */
        result = unknown;
        goto done;
    }
    if (chars_reserve(&full, mapped.size + 16) < 0 || convert_numerals(self, &mapped, &full) < 0) goto done;
    if (chars_reserve(&match, full.size + 16) < 0) goto done;
    if ((cjk ? match_view_cjk(&full, &match, breaks) : match_view_words(self->table.buf, &full, &match, breaks)) < 0)
        goto done;
    /* where each turn starts in either view (one more entry than turns: the ends) */
    /* ... and, for regexes, where each turn's line starts in the full view's UTF-8 */
    if (append_index(full_starts, 0) < 0 || append_index(utf8_starts, 0) < 0) goto done;
    Py_ssize_t utf8_size = 0;
    for (Py_ssize_t i = 0; i < full.size; i++) {
        Py_UCS4 c = full.chars[i];
        utf8_size += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
        if (c == TURN_SEPARATOR && (append_index(full_starts, i + 1) < 0 || append_index(utf8_starts, utf8_size) < 0))
            goto done;
    }
    if (append_index(full_starts, full.size + 1) < 0) goto done;
    Py_ssize_t m = 0;
    for (Py_ssize_t t = 0; t + 1 < PyList_GET_SIZE(full_starts); t++) {
        Py_ssize_t start = PyLong_AsSsize_t(PyList_GET_ITEM(full_starts, t));
        while (m < match.size && match.from[m] < start) m++;
        if (append_index(match_starts, m) < 0) goto done;
    }
    if (append_index(match_starts, match.size) < 0) goto done;
    PyObject *separator = PyUnicode_FromOrdinal(TURN_SEPARATOR), *original = NULL, *origins = NULL;
    if (separator != NULL && (original = PyUnicode_Join(separator, seq)) != NULL) {
        /* the origins take over the spans' arrays */
        origins = origins_new(original, match.from, match.size, full.from, full.to, full.size);
        match.from = full.from = full.to = NULL;
    }
    Py_XDECREF(separator);
    Py_XDECREF(original);
    if (origins == NULL) goto done;
    result = Py_BuildValue(
        "(NNOOONO)", PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, full.size ? full.chars : (Py_UCS4 *)"", full.size),
        PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, match.size ? match.chars : (Py_UCS4 *)"", match.size),
        full_starts, match_starts, breaks, origins, utf8_starts);
done:
    if (result != unknown) Py_XDECREF(unknown);
    chars_free(&mapped);
    chars_free(&full);
    chars_free(&match);
    Py_XDECREF(breaks);
    Py_XDECREF(full_starts);
    Py_XDECREF(match_starts);
    Py_XDECREF(utf8_starts);
    Py_DECREF(seq);
    return result;
}

static PyMethodDef normaliser_methods[] = {
    {"views", (PyCFunction)normaliser_views, METH_VARARGS,
     "views(texts, cjk) -> (full, match, full_starts, match_starts, breaks, origins, utf8_starts), or the set of "
     "code points the tables do not know yet."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot normaliser_slots[] = {
    {Py_tp_doc, "Normaliser(tables...): a transcript's full and match views from per-code-point tables."},
    {Py_tp_init, normaliser_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, normaliser_dealloc},
    {Py_tp_methods, normaliser_methods},
    {0, NULL},
};

PyType_Spec normaliser_spec = {
    .name = "scorer.rules._native.Normaliser",
    .basicsize = sizeof(Normaliser),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = normaliser_slots,
};
