/* Dictionary: a C copy of jieba's frequency table, and jieba's dictionary-only cut of a clause. */
#include "native.h"

/* jieba's frequency table in C: every key (a word, or a prefix of one with count 0) in an open-addressing
 * table keyed by an FNV-1a hash of its code points, which extends by one character at a time, so growing
 * a fragment costs one probe per character and no Python object. Single characters, a probe at every
 * position of every clause, are looked up in an array by code point instead. The table is kept small
 * (16-byte entries, at most 3/4 full) because a call's clauses probe it all over: its cache misses are
 * most of the time jieba's cut takes. A second table holds the word structure of scorecard phrases
 * (their inner word boundaries), which count as boundaries wherever such a phrase is cut out whole. */
typedef struct {
    uint32_t tag;    /* the hash's high half, never 0; 0 marks an empty slot */
    uint32_t value;  /* a word's count; a shape's position in `inner` */
    uint32_t offset; /* of the key's code points in `chars` */
    uint32_t length;
} KeyEntry;

typedef struct {
    KeyEntry *entries;
    size_t mask, used; /* slots - 1; keys held (at most 3/4 of the slots) */
} KeyTable;

#define SINGLES 0x30000   /* code points with a place in `singles`: the BMP and CJK extension B */
#define ABSENT UINT32_MAX /* in `singles`: not a key (so a count must be below it) */

struct Dictionary {
    PyObject_HEAD
    uint32_t *singles; /* count of each one-character key below SINGLES, by code point */
    KeyTable words, shapes;
    Py_UCS4 *chars; /* the keys of both tables */
    size_t used_chars, chars_capacity;
    int32_t *inner; /* per shape: how many offsets, then the offsets */
    size_t used_inner, inner_capacity;
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static inline uint64_t fnv_step(uint64_t hash, Py_UCS4 cp) { return (hash ^ cp) * FNV_PRIME; }

static uint64_t fnv_hash(const Py_UCS4 *text, Py_ssize_t length) {
    uint64_t hash = FNV_OFFSET;
    for (Py_ssize_t k = 0; k < length; k++) hash = fnv_step(hash, text[k]);
    return hash;
}

static inline size_t hash_slot(uint64_t hash, size_t mask) { return (size_t)(hash ^ (hash >> 29)) & mask; }
static inline uint32_t hash_tag(uint64_t hash) { return (uint32_t)(hash >> 32) | 1u; }

static int table_alloc(KeyTable *table, size_t keys) {
    size_t slots = 16;
    while (3 * slots < 4 * keys + 4) slots <<= 1;
    table->entries = PyMem_Calloc(slots, sizeof(KeyEntry));
    if (table->entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    table->mask = slots - 1;
    table->used = 0;
    return 0;
}

/* The entry for `text` (whose hash is given), or NULL. */
static KeyEntry *table_find(const KeyTable *table, const Py_UCS4 *pool, uint64_t hash, const Py_UCS4 *text,
                            Py_ssize_t length) {
    uint32_t tag = hash_tag(hash);
    for (size_t i = hash_slot(hash, table->mask);; i = (i + 1) & table->mask) {
        KeyEntry *entry = &table->entries[i];
        if (entry->tag == 0) return NULL;
        if (entry->tag == tag && entry->length == (uint32_t)length) {
            const Py_UCS4 *key = pool + entry->offset;
            Py_ssize_t k = 0;
            while (k < length && key[k] == text[k]) k++;
            if (k == length) return entry;
        }
    }
}

static void table_place(KeyTable *table, uint64_t hash, KeyEntry entry) {
    size_t i = hash_slot(hash, table->mask);
    while (table->entries[i].tag != 0) i = (i + 1) & table->mask;
    entry.tag = hash_tag(hash);
    table->entries[i] = entry;
    table->used++;
}

/* Room for one more key: at most 3/4 of the slots are used. */
static int table_reserve(KeyTable *table, const Py_UCS4 *pool) {
    if (4 * (table->used + 1) <= 3 * (table->mask + 1)) return 0;
    KeyTable grown;
    if (table_alloc(&grown, 2 * table->used + 2) < 0) return -1;
    for (size_t k = 0; k <= table->mask; k++) {
        const KeyEntry *entry = &table->entries[k];
        if (entry->tag != 0) table_place(&grown, fnv_hash(pool + entry->offset, entry->length), *entry);
    }
    PyMem_Free(table->entries);
    *table = grown;
    return 0;
}

/* Copy a key's code points into the pool; its offset there. */
static int64_t pool_add(Dictionary *self, const Py_UCS4 *text, Py_ssize_t length) {
    if (self->used_chars + (size_t)length > UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "dictionary too large");
        return -1;
    }
    if (self->used_chars + (size_t)length > self->chars_capacity) {
        size_t capacity = 2 * self->chars_capacity + (size_t)length;
        Py_UCS4 *pool = PyMem_Realloc(self->chars, capacity * sizeof(Py_UCS4));
        if (pool == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->chars = pool;
        self->chars_capacity = capacity;
    }
    memcpy(self->chars + self->used_chars, text, (size_t)length * sizeof(Py_UCS4));
    self->used_chars += (size_t)length;
    return (int64_t)(self->used_chars - (size_t)length);
}

/* A count or inner position as stored: below ABSENT. */
static int stored_value(long long value, uint32_t *out) {
    if (value < 0 || value >= (long long)ABSENT) {
        PyErr_SetString(PyExc_ValueError, "counts must not be negative nor reach 2**32 - 1");
        return -1;
    }
    *out = (uint32_t)value;
    return 0;
}

/* Set the value of a key in one of the tables (words: or the single-character array), adding the key if
 * it is new. */
static int dictionary_put(Dictionary *self, KeyTable *table, PyObject *key, long long value_arg) {
    uint32_t value;
    if (stored_value(value_arg, &value) < 0) return -1;
    Py_ssize_t length = PyUnicode_GET_LENGTH(key);
    if (table == &self->words && length == 1 && PyUnicode_READ_CHAR(key, 0) < SINGLES) {
        self->singles[PyUnicode_READ_CHAR(key, 0)] = value;
        return 0;
    }
    Py_UCS4 *chars = PyUnicode_AsUCS4Copy(key);
    if (chars == NULL) return -1;
    uint64_t hash = fnv_hash(chars, length);
    KeyEntry *entry = table_find(table, self->chars, hash, chars, length);
    int64_t offset = 0;
    int failed = 0;
    if (entry != NULL)
        entry->value = value;
    else if (table_reserve(table, self->chars) < 0 || (offset = pool_add(self, chars, length)) < 0)
        failed = -1;
    else
        table_place(table, hash, (KeyEntry){0, value, (uint32_t)offset, (uint32_t)length});
    PyMem_Free(chars);
    return failed;
}

static void dictionary_dealloc(Dictionary *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyMem_Free(self->singles);
    PyMem_Free(self->words.entries);
    PyMem_Free(self->shapes.entries);
    PyMem_Free(self->chars);
    PyMem_Free(self->inner);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int dictionary_init(Dictionary *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"freq", NULL};
    PyObject *freq;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!", keywords, &PyDict_Type, &freq)) return -1;
    if (self->words.entries != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Dictionary is already initialised");
        return -1;
    }
    size_t total_chars = 0, longer = 0;
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(freq, &position, &key, &value)) {
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "freq keys must be str");
            return -1;
        }
        total_chars += (size_t)PyUnicode_GET_LENGTH(key);
        longer += PyUnicode_GET_LENGTH(key) > 1;
    }
    self->singles = PyMem_Malloc(SINGLES * sizeof(uint32_t));
    self->chars = PyMem_Calloc(total_chars + 1, sizeof(Py_UCS4));
    if (self->singles == NULL || self->chars == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(self->singles, 0xFF, SINGLES * sizeof(uint32_t)); /* ABSENT everywhere */
    self->chars_capacity = total_chars + 1;
    if (table_alloc(&self->words, longer + 16) < 0 || table_alloc(&self->shapes, 64) < 0) return -1;
    position = 0;
    while (PyDict_Next(freq, &position, &key, &value)) {
        long long count = PyLong_AsLongLong(value);
        if (count == -1 && PyErr_Occurred()) return -1;
        if (dictionary_put(self, &self->words, key, count) < 0) return -1;
    }
    return 0;
}

static int dictionary_ready(Dictionary *self) {
    if (self->words.entries != NULL) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Dictionary is not initialised");
    return -1;
}

Dictionary *dictionary_from(PyObject *object) {
    if (Py_TYPE(object)->tp_dealloc != (destructor)dictionary_dealloc) { /* a Dictionary of any module instance */
        PyErr_SetString(PyExc_TypeError, "dictionary must be a Dictionary or None");
        return NULL;
    }
    return dictionary_ready((Dictionary *)object) < 0 ? NULL : (Dictionary *)object;
}

/* Add a key or change its count (as jieba's add_word changes FREQ). */
static PyObject *dictionary_set(Dictionary *self, PyObject *args) {
    PyObject *key;
    long long count;
    if (!PyArg_ParseTuple(args, "UL", &key, &count) || dictionary_ready(self) < 0) return NULL;
    if (dictionary_put(self, &self->words, key, count) < 0) return NULL;
    Py_RETURN_NONE;
}

/* Record where the words of a phrase meet (offsets inside it), for when it is cut out whole. */
static PyObject *dictionary_set_shape(Dictionary *self, PyObject *args) {
    PyObject *key, *offsets_arg;
    if (!PyArg_ParseTuple(args, "UO", &key, &offsets_arg) || dictionary_ready(self) < 0) return NULL;
    PyObject *offsets = PySequence_Fast(offsets_arg, "inner offsets must be a sequence of int");
    if (offsets == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(offsets);
    if (self->used_inner + (size_t)count + 1 > self->inner_capacity) {
        size_t capacity = 2 * self->inner_capacity + (size_t)count + 1;
        int32_t *inner = PyMem_Realloc(self->inner, capacity * sizeof(int32_t));
        if (inner == NULL) {
            Py_DECREF(offsets);
            return PyErr_NoMemory();
        }
        self->inner = inner;
        self->inner_capacity = capacity;
    }
    int32_t *run = self->inner + self->used_inner;
    run[0] = (int32_t)count;
    for (Py_ssize_t i = 0; i < count; i++) {
        long offset = PyLong_AsLong(PySequence_Fast_GET_ITEM(offsets, i));
        if (offset == -1 && PyErr_Occurred()) {
            Py_DECREF(offsets);
            return NULL;
        }
        if (offset <= 0 || offset >= PyUnicode_GET_LENGTH(key)) {
            Py_DECREF(offsets);
            PyErr_SetString(PyExc_ValueError, "inner offsets must lie inside the phrase");
            return NULL;
        }
        run[i + 1] = (int32_t)offset;
    }
    Py_DECREF(offsets);
    if (dictionary_put(self, &self->shapes, key, (long long)self->used_inner) < 0) return NULL;
    self->used_inner += (size_t)count + 1;
    Py_RETURN_NONE;
}

/* jieba's `get_DAG` + `calc` with HMM off, in one right-to-left pass: the words starting at a position
 * are found by growing a fragment while it is a key. Ties go to the longer word, as in jieba. Then, like
 * jieba's cut, a run of single ASCII letters/digits stays one token (1017, app). Fills `ends` with each
 * token's end, in order; returns how many tokens. `work` holds size + 1 doubles. */
static Py_ssize_t dictionary_cut(const Dictionary *self, const Py_UCS4 *text, Py_ssize_t size, double logtotal,
                                 Py_ssize_t *ends, double *work) {
    double *score = work;
    Py_ssize_t *word_end = ends; /* the route, before it becomes the tokens */
    /* The table is large and a clause's probes land all over it: ask for the slots of its one- to three-
     * character fragments first, so that their cache misses overlap instead of coming one by one. */
    for (Py_ssize_t start = 0; start < size; start++) {
        if (text[start] < SINGLES) __builtin_prefetch(&self->singles[text[start]]);
        uint64_t hash = fnv_step(FNV_OFFSET, text[start]);
        for (Py_ssize_t end = start + 2; end <= size && end <= start + 3; end++) {
            hash = fnv_step(hash, text[end - 1]);
            __builtin_prefetch(&self->words.entries[hash_slot(hash, self->words.mask)]);
        }
    }
    score[size] = 0.0;
    for (Py_ssize_t start = size - 1; start >= 0; start--) {
        int found = 0;
        double best = 0.0;
        uint64_t hash = FNV_OFFSET;
        word_end[start] = start + 1;
        for (Py_ssize_t end = start + 1; end <= size; end++) {
            hash = fnv_step(hash, text[end - 1]);
            uint32_t count;
            if (end - start == 1 && text[start] < SINGLES) {
                count = self->singles[text[start]];
                if (count == ABSENT) break;
            } else {
                const KeyEntry *entry = table_find(&self->words, self->chars, hash, text + start, end - start);
                if (entry == NULL) break;
                count = entry->value;
            }
            if (count) {
                double candidate = log((double)count) - logtotal + score[end];
                if (!found || candidate >= best) {
                    best = candidate;
                    word_end[start] = end;
                    found = 1;
                }
            }
        }
        score[start] = found ? best : -logtotal + score[start + 1];
    }
    Py_ssize_t tokens = 0, start = 0;
    int glue = 0;
    while (start < size) {
        Py_ssize_t end = word_end[start];
        int ascii_char = end - start == 1 && text[start] < 128 && Py_UNICODE_ISALNUM(text[start]);
        if (ascii_char && glue)
            ends[tokens - 1] = end; /* tokens - 1 <= start: the route there is already read */
        else
            ends[tokens++] = end;
        glue = ascii_char;
        start = end;
    }
    return tokens;
}

/* Mark the word boundaries of a clause: 1 at each (0, token ends, the inner boundaries of a token
 * that is a phrase with a known shape), 2 elsewhere. `ends` holds size + 1 entries, `work` size + 1. */
void dictionary_mark_boundaries(const Dictionary *self, const Py_UCS4 *clause, Py_ssize_t size,
                                       double logtotal, uint8_t *marks, Py_ssize_t *ends, double *work) {
    for (Py_ssize_t i = 1; i < size; i++) marks[i] = 2;
    marks[0] = marks[size] = 1;
    Py_ssize_t tokens = dictionary_cut(self, clause, size, logtotal, ends, work), start = 0;
    for (Py_ssize_t t = 0; t < tokens; t++) {
        Py_ssize_t end = ends[t];
        marks[end] = 1;
        if (end - start > 1) {
            const KeyEntry *shape =
                table_find(&self->shapes, self->chars, fnv_hash(clause + start, end - start), clause + start, end - start);
            if (shape != NULL) {
                const int32_t *run = self->inner + shape->value;
                for (int32_t k = 1; k <= run[0]; k++) marks[start + run[k]] = 1;
            }
        }
        start = end;
    }
}

static PyObject *dictionary_segment(Dictionary *self, PyObject *args) {
    PyObject *text_arg;
    double logtotal;
    if (!PyArg_ParseTuple(args, "Ud", &text_arg, &logtotal) || dictionary_ready(self) < 0) return NULL;
    Py_UCS4 *text = PyUnicode_AsUCS4Copy(text_arg);
    if (text == NULL) return NULL;
    Py_ssize_t size = PyUnicode_GET_LENGTH(text_arg);
    double *work = PyMem_Calloc((size_t)size + 1, sizeof(double));
    Py_ssize_t *ends = PyMem_Calloc((size_t)size + 1, sizeof(Py_ssize_t));
    PyObject *tokens = NULL;
    if (work == NULL || ends == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t count = dictionary_cut(self, text, size, logtotal, ends, work);
    if ((tokens = PyList_New(count)) == NULL) goto done;
    for (Py_ssize_t t = 0, start = 0; t < count; start = ends[t], t++) {
        PyObject *token = Py_BuildValue("(nn)", start, ends[t]);
        if (token == NULL) {
            Py_CLEAR(tokens);
            goto done;
        }
        PyList_SET_ITEM(tokens, t, token);
    }
done:
    PyMem_Free(text);
    PyMem_Free(work);
    PyMem_Free(ends);
    return tokens;
}

static PyMethodDef dictionary_methods[] = {
    {"set", (PyCFunction)dictionary_set, METH_VARARGS, "set(key, count): add a key or change its count."},
    {"set_shape", (PyCFunction)dictionary_set_shape, METH_VARARGS,
     "set_shape(phrase, inner): where the words of a phrase meet, boundaries wherever it is cut out whole."},
    {"segment", (PyCFunction)dictionary_segment, METH_VARARGS,
     "segment(text, logtotal) -> [(start, end), ...]: jieba's dictionary-only cut of text."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot dictionary_slots[] = {
    {Py_tp_doc, "Dictionary(freq): a copy of jieba's frequency table (word or prefix -> count)."},
    {Py_tp_init, dictionary_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, dictionary_dealloc},
    {Py_tp_methods, dictionary_methods},
    {0, NULL},
};

PyType_Spec dictionary_spec = {
    .name = "scorer.rules._native.Dictionary",
    .basicsize = sizeof(Dictionary),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = dictionary_slots,
};
