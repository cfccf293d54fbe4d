/* The scorer's inner loops in C: what runs once per character or per pair of turns of every call.
 *
 * Each function here is a plain function of its arguments; the rule logic that calls them stays in
 * Python (see the .pyi next to this file for the contracts):
 *
 * - Automaton: all phrases of a scorecard in one Aho-Corasick automaton over code points; `scan`
 *   finds every occurrence within a turn in one pass over a call's match view and checks each one
 *   (clause breaks, word boundaries): the call's Hits, from which each rule selects its own.
 * - Dictionary: jieba's frequency table, and its dictionary-only route through a clause (the most
 *   probable path through its dictionary words), so it cuts exactly as jieba does.
 * - non_overlapping: a rule's hits, leftmost-longest.
 * - similar_turns: which turns share enough unit bigrams (Jaccard) with one another.
 * - Normaliser: a call's full and match views (see normalise.py), from per-code-point tables that the
 *   Python side fills as it meets new code points.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --- Dictionary --------------------------------------------------------------------------------- */

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

typedef struct {
    PyObject_HEAD
    uint32_t *singles; /* count of each one-character key below SINGLES, by code point */
    KeyTable words, shapes;
    Py_UCS4 *chars; /* the keys of both tables */
    size_t used_chars, chars_capacity;
    int32_t *inner; /* per shape: how many offsets, then the offsets */
    size_t used_inner, inner_capacity;
} Dictionary;

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
static void dictionary_mark_boundaries(const Dictionary *self, const Py_UCS4 *clause, Py_ssize_t size,
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

static PyType_Spec dictionary_spec = {
    .name = "scorer.rules._native.Dictionary",
    .basicsize = sizeof(Dictionary),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = dictionary_slots,
};

/* --- Hits ------------------------------------------------------------------------------------- */

/* A call's raw hits as the scan found them, kept in C: grouped by phrase id, each phrase's in text order.
 * Rules take the ones they need with `select`, so no Python object is made for a hit no rule wants. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t count, phrases;
    Py_ssize_t *first; /* per phrase id: where its hits start (phrases + 1 entries) */
    Py_ssize_t *turn, *start, *end;
    uint8_t *flags;
} Hits;

static PyObject *hits_type; /* set when the module is executed */

static void hits_dealloc(Hits *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyMem_Free(self->first);
    PyMem_Free(self->turn);
    PyMem_Free(self->start);
    PyMem_Free(self->end);
    PyMem_Free(self->flags);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* Hits of `count` raw hits (pid, turn, start, end, flags in order of end), grouped by phrase id. */
static PyObject *hits_new(Py_ssize_t phrases, Py_ssize_t count, const int32_t *pid, const Py_ssize_t *turn,
                          const Py_ssize_t *start, const Py_ssize_t *end, const uint8_t *flags) {
    Hits *self = PyObject_New(Hits, (PyTypeObject *)hits_type);
    if (self == NULL) return NULL;
    Py_INCREF(hits_type); /* a heap type's instances own a reference to it */
    self->count = count;
    self->phrases = phrases;
    self->first = PyMem_Calloc((size_t)phrases + 2, sizeof(Py_ssize_t));
    self->turn = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    self->start = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    self->end = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    self->flags = PyMem_Calloc((size_t)count + 1, 1);
    if (!self->first || !self->turn || !self->start || !self->end || !self->flags) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < count; k++) self->first[pid[k] + 1]++; /* a stable counting sort by id */
    for (Py_ssize_t p = 0; p < phrases; p++) self->first[p + 1] += self->first[p];
    Py_ssize_t *next = PyMem_Calloc((size_t)phrases + 1, sizeof(Py_ssize_t));
    if (next == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    memcpy(next, self->first, (size_t)phrases * sizeof(Py_ssize_t));
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t at = next[pid[k]]++;
        self->turn[at] = turn[k];
        self->start[at] = start[k];
        self->end[at] = end[k];
        self->flags[at] = flags[k];
    }
    PyMem_Free(next);
    return (PyObject *)self;
}

/* Per group of phrase ids, the hits of its phrases in member turns that carry the required flags. */
static PyObject *hits_select(Hits *self, PyObject *args) {
    PyObject *groups_arg;
    Py_buffer members;
    long required;
    if (!PyArg_ParseTuple(args, "Oy*l", &groups_arg, &members, &required)) return NULL;
    const uint8_t *member = members.buf;
    PyObject *groups = PySequence_Fast(groups_arg, "groups must be a sequence of sequences of phrase ids");
    PyObject *result = NULL;
    if (groups == NULL) goto done;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(groups);
    if ((result = PyList_New(count)) == NULL) goto done;
    for (Py_ssize_t g = 0; g < count; g++) {
        PyObject *selected = PyList_New(0);
        if (selected == NULL) goto fail;
        PyList_SET_ITEM(result, g, selected);
        PyObject *pids = PySequence_Fast(PySequence_Fast_GET_ITEM(groups, g), "a group must be a sequence of ids");
        if (pids == NULL) goto fail;
        for (Py_ssize_t p = 0; p < PySequence_Fast_GET_SIZE(pids); p++) {
            Py_ssize_t pid = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(pids, p));
            if (pid == -1 && PyErr_Occurred()) {
                Py_DECREF(pids);
                goto fail;
            }
            if (pid < 0 || pid >= self->phrases) continue; /* a phrase that can never be found */
            for (Py_ssize_t k = self->first[pid]; k < self->first[pid + 1]; k++) {
                Py_ssize_t turn = self->turn[k];
                if (turn >= members.len || !member[turn] || (self->flags[k] & required) != required) continue;
                PyObject *hit = Py_BuildValue("(nnn)", turn, self->start[k], self->end[k]);
                if (hit == NULL || PyList_Append(selected, hit) < 0) {
                    Py_XDECREF(hit);
                    Py_DECREF(pids);
                    goto fail;
                }
                Py_DECREF(hit);
            }
        }
        Py_DECREF(pids);
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(groups);
    PyBuffer_Release(&members);
    return result;
}

/* All hits as {phrase id: [(turn, start, end, flags), ...]} (for inspection and tests). */
static PyObject *hits_by_phrase(Hits *self, PyObject *unused) {
    PyObject *result = PyDict_New();
    if (result == NULL) return NULL;
    for (Py_ssize_t p = 0; p < self->phrases; p++) {
        if (self->first[p] == self->first[p + 1]) continue;
        PyObject *list = PyList_New(0), *key = PyLong_FromSsize_t(p);
        int failed = list == NULL || key == NULL || PyDict_SetItem(result, key, list) < 0;
        for (Py_ssize_t k = self->first[p]; !failed && k < self->first[p + 1]; k++) {
            PyObject *hit = Py_BuildValue("(nnni)", self->turn[k], self->start[k], self->end[k], (int)self->flags[k]);
            failed = hit == NULL || PyList_Append(list, hit) < 0;
            Py_XDECREF(hit);
        }
        Py_XDECREF(list);
        Py_XDECREF(key);
        if (failed) {
            Py_DECREF(result);
            return NULL;
        }
    }
    return result;
}

static Py_ssize_t hits_length(Hits *self) { return self->count; }

static PyMethodDef hits_methods[] = {
    {"select", (PyCFunction)hits_select, METH_VARARGS,
     "select(groups, members, required) -> [[(turn, start, end), ...] per group]: the hits of each group's phrases "
     "in member turns (members[turn] != 0) that carry all the required flags; a phrase's hits in text order, "
     "phrase after phrase."},
    {"by_phrase", (PyCFunction)hits_by_phrase, METH_NOARGS,
     "by_phrase() -> {phrase id: [(turn, start, end, flags), ...]}: every hit, each phrase's in text order."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot hits_slots[] = {
    {Py_tp_doc, "A call's raw phrase hits, from Automaton.scan."},
    {Py_tp_dealloc, hits_dealloc},
    {Py_tp_methods, hits_methods},
    {Py_sq_length, hits_length},
    {0, NULL},
};

static PyType_Spec hits_spec = {
    .name = "scorer.rules._native.Hits",
    .basicsize = sizeof(Hits),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = hits_slots,
};

/* --- Automaton ---------------------------------------------------------------------------------- */

/* Trie edges live in one open-addressing hash table keyed by (node, code point). */
typedef struct {
    uint64_t *keys; /* (node + 1) << 21 | code point; 0 marks an empty slot */
    int32_t *targets;
    size_t mask;
} EdgeTable;

static inline uint64_t edge_key(int32_t node, Py_UCS4 cp) { return ((uint64_t)(node + 1) << 21) | cp; }

static inline size_t edge_slot(uint64_t key, size_t mask) {
    key ^= key >> 29;
    key *= 0xbf58476d1ce4e5b9ULL;
    key ^= key >> 32;
    return (size_t)key & mask;
}

static int32_t edge_get(const EdgeTable *t, int32_t node, Py_UCS4 cp) {
    uint64_t key = edge_key(node, cp);
    for (size_t i = edge_slot(key, t->mask);; i = (i + 1) & t->mask) {
        if (t->keys[i] == key) return t->targets[i];
        if (t->keys[i] == 0) return -1;
    }
}

static void edge_put(EdgeTable *t, int32_t node, Py_UCS4 cp, int32_t target) {
    uint64_t key = edge_key(node, cp);
    size_t i = edge_slot(key, t->mask);
    while (t->keys[i] != 0) i = (i + 1) & t->mask;
    t->keys[i] = key;
    t->targets[i] = target;
}

typedef struct {
    PyObject_HEAD
    EdgeTable edges;
    int32_t nodes;
    int32_t *fail;      /* longest proper suffix that is a trie node */
    int32_t *pid;       /* the phrase that ends at this node, or -1 */
    int32_t *length;    /* depth of the node: the phrase's length */
    int32_t *next_out;  /* the next node on the fail chain where a phrase ends, or -1 */
    Py_ssize_t phrases;
    int32_t *joints;    /* per phrase: where `joints_at` starts, or -1 if no clause break may fall inside */
    int32_t *joints_at; /* per phrase with joints: how many, then the offsets where a break may fall */
    uint8_t *aligned;   /* per phrase: check its word boundaries */
} Automaton;

static void automaton_free_arrays(Automaton *self) {
    PyMem_Free(self->edges.keys);
    PyMem_Free(self->edges.targets);
    PyMem_Free(self->fail);
    PyMem_Free(self->pid);
    PyMem_Free(self->length);
    PyMem_Free(self->next_out);
    PyMem_Free(self->joints);
    PyMem_Free(self->joints_at);
    PyMem_Free(self->aligned);
    self->aligned = NULL;
    memset(&self->edges, 0, sizeof(self->edges));
    self->fail = self->pid = self->length = self->next_out = self->joints = self->joints_at = NULL;
    self->nodes = 0;
    self->phrases = 0;
}

static void automaton_dealloc(Automaton *self) {
    PyTypeObject *type = Py_TYPE(self);
    automaton_free_arrays(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* Where a clause break may fall inside each phrase (None: nowhere). */
static int automaton_set_joints(Automaton *self, PyObject *joints_arg, Py_ssize_t phrases) {
    self->phrases = phrases;
    self->joints = PyMem_Calloc((size_t)phrases + 1, sizeof(int32_t));
    if (self->joints == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < phrases; i++) self->joints[i] = -1;
    if (joints_arg == Py_None) return 0;
    PyObject *joints = PySequence_Fast(joints_arg, "joints must be a sequence");
    if (joints == NULL) return -1;
    if (PySequence_Fast_GET_SIZE(joints) != phrases) {
        Py_DECREF(joints);
        PyErr_SetString(PyExc_ValueError, "joints must have one entry per phrase");
        return -1;
    }
    size_t used = 0, capacity = 0;
    for (Py_ssize_t i = 0; i < phrases; i++) {
        PyObject *entry = PySequence_Fast_GET_ITEM(joints, i);
        if (entry == Py_None) continue;
        PyObject *offsets = PySequence_Fast(entry, "joints must hold None or sequences of int");
        if (offsets == NULL) goto fail;
        Py_ssize_t count = PySequence_Fast_GET_SIZE(offsets);
        if (used + (size_t)count + 1 > capacity) {
            capacity = 2 * capacity + (size_t)count + 1;
            int32_t *grown = PyMem_Realloc(self->joints_at, capacity * sizeof(int32_t));
            if (grown == NULL) {
                Py_DECREF(offsets);
                PyErr_NoMemory();
                goto fail;
            }
            self->joints_at = grown;
        }
        self->joints[i] = (int32_t)used;
        self->joints_at[used] = (int32_t)count;
        for (Py_ssize_t k = 0; k < count; k++) {
            long offset = PyLong_AsLong(PySequence_Fast_GET_ITEM(offsets, k));
            if (offset == -1 && PyErr_Occurred()) {
                Py_DECREF(offsets);
                goto fail;
            }
            self->joints_at[used + 1 + (size_t)k] = (int32_t)offset;
        }
        used += (size_t)count + 1;
        Py_DECREF(offsets);
    }
    Py_DECREF(joints);
    return 0;
fail:
    Py_DECREF(joints);
    return -1;
}

/* Which phrases to check for word boundaries (None: all). */
static int automaton_set_aligned(Automaton *self, PyObject *aligned_arg, Py_ssize_t phrases) {
    self->aligned = PyMem_Calloc((size_t)phrases + 1, 1);
    if (self->aligned == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (aligned_arg == Py_None) {
        memset(self->aligned, 1, (size_t)phrases);
        return 0;
    }
    PyObject *aligned = PySequence_Fast(aligned_arg, "aligned must be a sequence of bool");
    if (aligned == NULL) return -1;
    if (PySequence_Fast_GET_SIZE(aligned) != phrases) {
        Py_DECREF(aligned);
        PyErr_SetString(PyExc_ValueError, "aligned must have one entry per phrase");
        return -1;
    }
    for (Py_ssize_t i = 0; i < phrases; i++) {
        int truth = PyObject_IsTrue(PySequence_Fast_GET_ITEM(aligned, i));
        if (truth < 0) {
            Py_DECREF(aligned);
            return -1;
        }
        self->aligned[i] = (uint8_t)truth;
    }
    Py_DECREF(aligned);
    return 0;
}

static int automaton_init(Automaton *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"phrases", "joints", "aligned", NULL};
    PyObject *phrases, *joints = Py_None, *aligned = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO", keywords, &phrases, &joints, &aligned)) return -1;
    PyObject *seq = PySequence_Fast(phrases, "phrases must be a sequence of str");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    size_t capacity = 1; /* the root */
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *phrase = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(phrase)) {
            PyErr_SetString(PyExc_TypeError, "phrases must be a sequence of str");
            Py_DECREF(seq);
            return -1;
        }
        capacity += (size_t)PyUnicode_GET_LENGTH(phrase);
    }
    if (capacity > INT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "too many phrase characters");
        Py_DECREF(seq);
        return -1;
    }
    automaton_free_arrays(self);
    size_t slots = 16;
    while (slots < 2 * capacity) slots <<= 1;
    self->edges.mask = slots - 1;
    self->edges.keys = PyMem_Calloc(slots, sizeof(uint64_t));
    self->edges.targets = PyMem_Calloc(slots, sizeof(int32_t));
    self->fail = PyMem_Calloc(capacity, sizeof(int32_t));
    self->pid = PyMem_Calloc(capacity, sizeof(int32_t));
    self->length = PyMem_Calloc(capacity, sizeof(int32_t));
    self->next_out = PyMem_Calloc(capacity, sizeof(int32_t));
    /* children in creation order, to walk the trie breadth first */
    int32_t *parent_of = PyMem_Calloc(capacity, sizeof(int32_t));
    Py_UCS4 *char_of = PyMem_Calloc(capacity, sizeof(Py_UCS4));
    int32_t *order = PyMem_Calloc(capacity, sizeof(int32_t));
    if (!self->edges.keys || !self->edges.targets || !self->fail || !self->pid || !self->length ||
        !self->next_out || !parent_of || !char_of || !order) {
        PyMem_Free(parent_of);
        PyMem_Free(char_of);
        PyMem_Free(order);
        automaton_free_arrays(self);
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    int32_t nodes = 1;
    self->pid[0] = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *phrase = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t size = PyUnicode_GET_LENGTH(phrase);
        if (size == 0) continue; /* an empty phrase matches nothing */
        int kind = PyUnicode_KIND(phrase);
        const void *data = PyUnicode_DATA(phrase);
        int32_t node = 0;
        for (Py_ssize_t k = 0; k < size; k++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, k);
            int32_t child = edge_get(&self->edges, node, cp);
            if (child < 0) {
                child = nodes++;
                self->pid[child] = -1;
                self->length[child] = self->length[node] + 1;
                parent_of[child] = node;
                char_of[child] = cp;
                edge_put(&self->edges, node, cp, child);
            }
            node = child;
        }
        if (self->pid[node] < 0) self->pid[node] = (int32_t)i; /* a repeated phrase keeps its first id */
    }
    Py_DECREF(seq);
    self->nodes = nodes;
    if (automaton_set_joints(self, joints, count) < 0 || automaton_set_aligned(self, aligned, count) < 0) {
        PyMem_Free(parent_of);
        PyMem_Free(char_of);
        PyMem_Free(order);
        automaton_free_arrays(self);
        return -1;
    }
    /* breadth first = by depth: counting sort of the nodes by length */
    int32_t depth_max = 0;
    for (int32_t n = 0; n < nodes; n++)
        if (self->length[n] > depth_max) depth_max = self->length[n];
    int32_t *starts = PyMem_Calloc((size_t)depth_max + 2, sizeof(int32_t));
    if (starts == NULL) {
        PyMem_Free(parent_of);
        PyMem_Free(char_of);
        PyMem_Free(order);
        automaton_free_arrays(self);
        PyErr_NoMemory();
        return -1;
    }
    for (int32_t n = 0; n < nodes; n++) starts[self->length[n] + 1]++;
    for (int32_t d = 1; d <= depth_max + 1; d++) starts[d] += starts[d - 1];
    for (int32_t n = 0; n < nodes; n++) order[starts[self->length[n]]++] = n;
    PyMem_Free(starts);
    self->fail[0] = 0;
    self->next_out[0] = -1;
    for (int32_t k = 1; k < nodes; k++) {
        int32_t node = order[k], parent = parent_of[node];
        Py_UCS4 cp = char_of[node];
        int32_t fail = 0;
        if (parent != 0) {
            int32_t f = self->fail[parent];
            for (;;) {
                int32_t next = edge_get(&self->edges, f, cp);
                if (next >= 0) {
                    fail = next;
                    break;
                }
                if (f == 0) break;
                f = self->fail[f];
            }
        }
        self->fail[node] = fail;
        self->next_out[node] = self->pid[fail] >= 0 ? fail : self->next_out[fail];
    }
    PyMem_Free(parent_of);
    PyMem_Free(char_of);
    PyMem_Free(order);
    return 0;
}

/* The largest k with bounds[k] <= position (bounds ascending, bounds[0] <= position). */
static Py_ssize_t turn_of(const Py_ssize_t *bounds, Py_ssize_t count, Py_ssize_t position) {
    Py_ssize_t low = 0, high = count;
    while (high - low > 1) {
        Py_ssize_t middle = (low + high) / 2;
        if (bounds[middle] <= position)
            low = middle;
        else
            high = middle;
    }
    return low;
}

/* The raw hits of a scan as it goes: in order of end. */
typedef struct {
    int32_t *pid;
    Py_ssize_t *turn, *start, *end;
    uint8_t *flags;
    Py_ssize_t count, capacity;
} Found;

static int found_push(Found *f, int32_t pid, Py_ssize_t turn, Py_ssize_t start, Py_ssize_t end, uint8_t flags) {
    if (f->count == f->capacity) {
        Py_ssize_t capacity = f->capacity ? 2 * f->capacity : 256;
        int32_t *p = PyMem_Realloc(f->pid, (size_t)capacity * sizeof(int32_t));
        if (p != NULL) f->pid = p;
        Py_ssize_t *t = PyMem_Realloc(f->turn, (size_t)capacity * sizeof(Py_ssize_t));
        if (t != NULL) f->turn = t;
        Py_ssize_t *s = PyMem_Realloc(f->start, (size_t)capacity * sizeof(Py_ssize_t));
        if (s != NULL) f->start = s;
        Py_ssize_t *e = PyMem_Realloc(f->end, (size_t)capacity * sizeof(Py_ssize_t));
        if (e != NULL) f->end = e;
        uint8_t *g = PyMem_Realloc(f->flags, (size_t)capacity);
        if (g != NULL) f->flags = g;
        if (!p || !t || !s || !e || !g) {
            PyErr_NoMemory();
            return -1;
        }
        f->capacity = capacity;
    }
    f->pid[f->count] = pid;
    f->turn[f->count] = turn;
    f->start[f->count] = start;
    f->end[f->count] = end;
    f->flags[f->count] = flags;
    f->count++;
    return 0;
}

static void found_free(Found *f) {
    PyMem_Free(f->pid);
    PyMem_Free(f->turn);
    PyMem_Free(f->start);
    PyMem_Free(f->end);
    PyMem_Free(f->flags);
}

/* The first index of sorted `values` holding more than `value`. */
static Py_ssize_t upper_bound(const Py_ssize_t *values, Py_ssize_t count, Py_ssize_t value) {
    Py_ssize_t low = 0, high = count;
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        if (values[middle] <= value)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

/* One call's match view, as the scan checks hits against it. */
typedef struct {
    const Py_UCS4 *text;
    const Py_ssize_t *bounds; /* turn starts, then the end */
    const Py_ssize_t *breaks; /* clause breaks, sorted */
    Py_ssize_t turns, nbreaks;
    const Dictionary *dictionary; /* CJK: word boundaries from jieba's cut; NULL: at spaces */
    double logtotal;
    uint8_t *marks;   /* per position: 0 not known yet, 1 a word boundary, 2 not one */
    Py_ssize_t *ends; /* scratch for a clause's cut */
    double *work;
} View;

#define HIT_WHOLE 1   /* no clause break inside, or only where the phrase's words meet */
#define HIT_ALIGNED 2 /* starts and ends on word boundaries */

static int is_whole(const Automaton *self, const View *view, int32_t pid, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t k = upper_bound(view->breaks, view->nbreaks, start);
    if (end - start < 2 || k >= view->nbreaks || view->breaks[k] >= end) return 1;
    if (self->joints[pid] < 0) return 0;
    const int32_t *joints = self->joints_at + self->joints[pid];
    for (; k < view->nbreaks && view->breaks[k] < end; k++) {
        int32_t offset = (int32_t)(view->breaks[k] - start), j = 1;
        while (j <= joints[0] && joints[j] != offset) j++;
        if (j > joints[0]) return 0;
    }
    return 1;
}

static int is_boundary(View *view, Py_ssize_t turn, Py_ssize_t position) {
    Py_ssize_t low = view->bounds[turn], high = view->bounds[turn + 1];
    if (position <= low || position >= high) return 1;
    if (view->dictionary == NULL) return view->text[position - 1] == ' ' || view->text[position] == ' ';
    if (view->marks[position] == 0) { /* cut the clause around it */
        Py_ssize_t k = upper_bound(view->breaks, view->nbreaks, position);
        if (k > 0 && view->breaks[k - 1] == position) return 1;
        Py_ssize_t clause_start = k > 0 && view->breaks[k - 1] > low ? view->breaks[k - 1] : low;
        Py_ssize_t clause_end = k < view->nbreaks && view->breaks[k] < high ? view->breaks[k] : high;
        dictionary_mark_boundaries(view->dictionary, view->text + clause_start, clause_end - clause_start,
                                   view->logtotal, view->marks + clause_start, view->ends, view->work);
    }
    return view->marks[position] == 1;
}

static Py_ssize_t *read_positions(PyObject *arg, Py_ssize_t *count, const char *what) {
    PyObject *seq = PySequence_Fast(arg, what);
    if (seq == NULL) return NULL;
    *count = PySequence_Fast_GET_SIZE(seq);
    Py_ssize_t *values = PyMem_Calloc((size_t)*count + 1, sizeof(Py_ssize_t));
    if (values == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *count; i++) {
        values[i] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, i));
        if (values[i] == -1 && PyErr_Occurred()) {
            PyMem_Free(values);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    return values;
}

static PyObject *automaton_scan(Automaton *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"text", "bounds", "breaks", "dictionary", "logtotal", NULL};
    PyObject *text_arg, *bounds_arg, *breaks_arg = NULL, *dictionary = Py_None;
    View view = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO|OOd", keywords, &text_arg, &bounds_arg, &breaks_arg,
                                     &dictionary, &view.logtotal))
        return NULL;
    if (dictionary != Py_None) {
        if (Py_TYPE(dictionary)->tp_dealloc != (destructor)dictionary_dealloc) { /* a Dictionary of any instance */
            PyErr_SetString(PyExc_TypeError, "dictionary must be a Dictionary or None");
            return NULL;
        }
        if (dictionary_ready((Dictionary *)dictionary) < 0) return NULL;
        view.dictionary = (Dictionary *)dictionary;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(text_arg), nbounds = 0;
    PyObject *hits = NULL;
    Found found = {0};
    Py_ssize_t *bounds = read_positions(bounds_arg, &nbounds, "bounds must be a sequence of int");
    Py_ssize_t *breaks = breaks_arg == NULL ? PyMem_Calloc(1, sizeof(Py_ssize_t))
                                            : read_positions(breaks_arg, &view.nbreaks, "breaks must be a sequence of int");
    Py_UCS4 *text = PyUnicode_AsUCS4Copy(text_arg);
    view.marks = PyMem_Calloc((size_t)size + 1, 1);
    view.ends = PyMem_Calloc((size_t)size + 1, sizeof(Py_ssize_t));
    view.work = PyMem_Calloc((size_t)size + 1, sizeof(double));
    if (bounds == NULL || breaks == NULL || text == NULL || !view.marks || !view.ends || !view.work) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < nbounds; i++) {
        if (bounds[i] < 0 || bounds[i] > size || (i && bounds[i] < bounds[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "bounds must be ascending offsets of the text");
            goto fail;
        }
    }
    for (Py_ssize_t i = 0; i < view.nbreaks; i++) {
        if (breaks[i] < 0 || breaks[i] > size || (i && breaks[i] < breaks[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "breaks must be ascending offsets of the text");
            goto fail;
        }
    }
    view.text = text;
    view.bounds = bounds;
    view.breaks = breaks;
    view.turns = nbounds - 1;
    if (nbounds >= 2 && self->nodes > 1) {
        int32_t state = 0;
        Py_ssize_t turn = 0, turns = nbounds - 1;
        for (Py_ssize_t i = 0; i < size; i++) {
            Py_UCS4 cp = text[i];
            for (;;) {
                int32_t next = edge_get(&self->edges, state, cp);
                if (next >= 0) {
                    state = next;
                    break;
                }
                if (state == 0) break;
                state = self->fail[state];
            }
            int32_t node = self->pid[state] >= 0 ? state : self->next_out[state];
            for (; node >= 0; node = self->next_out[node]) {
                Py_ssize_t end = i + 1, start = end - self->length[node];
                if (start < bounds[turn] || start >= bounds[turn + 1]) {
                    if (start < bounds[0] || start >= bounds[turns]) continue;
                    turn = turn_of(bounds, turns, start);
                }
                if (end > bounds[turn + 1]) continue; /* across two turns */
                int32_t pid = self->pid[node];
                int flags = is_whole(self, &view, pid, start, end) ? HIT_WHOLE : 0;
                if (self->aligned[pid] && is_boundary(&view, turn, start) && is_boundary(&view, turn, end))
                    flags |= HIT_ALIGNED;
                if (found_push(&found, pid, turn, start, end, (uint8_t)flags) < 0) goto fail;
            }
        }
    }
    hits = hits_new(self->phrases, found.count, found.pid, found.turn, found.start, found.end, found.flags);
fail:
    found_free(&found);
    PyMem_Free(bounds);
    PyMem_Free(breaks);
    PyMem_Free(text);
    PyMem_Free(view.marks);
    PyMem_Free(view.ends);
    PyMem_Free(view.work);
    return hits;
}

static PyMethodDef automaton_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))automaton_scan, METH_VARARGS | METH_KEYWORDS,
     "scan(text, bounds, breaks=(), dictionary=None, logtotal=0.0) -> Hits: every occurrence of every phrase that "
     "lies within one turn [bounds[t], bounds[t + 1]), with its flags: 1 whole (no clause break inside but at its "
     "joints), 2 aligned with word boundaries."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot automaton_slots[] = {
    {Py_tp_doc, "Automaton(phrases): all phrases in one Aho-Corasick automaton; a phrase's id is its index."},
    {Py_tp_init, automaton_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, automaton_dealloc},
    {Py_tp_methods, automaton_methods},
    {0, NULL},
};

static PyType_Spec automaton_spec = {
    .name = "scorer.rules._native.Automaton",
    .basicsize = sizeof(Automaton),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = automaton_slots,
};

/* --- hit selection ------------------------------------------------------------------------------ */

/* Read a raw hit (turn, start, end, flags) or a hit (turn, start, end). */
static int read_hit(PyObject *hit, Py_ssize_t fields, Py_ssize_t *values) {
    if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) < fields) {
        PyErr_Format(PyExc_TypeError, "a hit must be a tuple of %zd ints", fields);
        return -1;
    }
    for (Py_ssize_t k = 0; k < fields; k++) {
        values[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(hit, k));
        if (values[k] == -1 && PyErr_Occurred()) return -1;
    }
    return 0;
}

typedef struct {
    Py_ssize_t start, end, order;
    PyObject *hit;
} Placed;

static int compare_placed(const void *a, const void *b) {
    const Placed *x = a, *y = b;
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    if (x->end != y->end) return (x->end < y->end) - (x->end > y->end); /* longer first */
    return (x->order > y->order) - (x->order < y->order);
}

/* The hits of all groups, leftmost-longest, without overlaps (感谢 and 感谢您 at one place count once). */
static PyObject *non_overlapping(PyObject *module, PyObject *groups_arg) {
    PyObject *groups = PySequence_Fast(groups_arg, "groups must be a sequence of lists of hits");
    if (groups == NULL) return NULL;
    Py_ssize_t total = 0, count = PySequence_Fast_GET_SIZE(groups);
    for (Py_ssize_t g = 0; g < count; g++) {
        PyObject *group = PySequence_Fast_GET_ITEM(groups, g);
        if (!PyList_Check(group)) {
            Py_DECREF(groups);
            PyErr_SetString(PyExc_TypeError, "groups must be a sequence of lists of hits");
            return NULL;
        }
        total += PyList_GET_SIZE(group);
    }
    Placed *placed = PyMem_Calloc((size_t)total + 1, sizeof(Placed));
    PyObject *kept = NULL;
    if (placed == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n = 0;
    for (Py_ssize_t g = 0; g < count; g++) {
        PyObject *group = PySequence_Fast_GET_ITEM(groups, g);
        for (Py_ssize_t h = 0; h < PyList_GET_SIZE(group); h++, n++) {
            Py_ssize_t v[3];
            if (read_hit(PyList_GET_ITEM(group, h), 3, v) < 0) goto done;
            placed[n] = (Placed){v[1], v[2], n, PyList_GET_ITEM(group, h)};
        }
    }
    qsort(placed, (size_t)total, sizeof(Placed), compare_placed);
    if ((kept = PyList_New(0)) == NULL) goto done;
    Py_ssize_t last_end = PY_SSIZE_T_MIN;
    for (Py_ssize_t k = 0; k < total; k++) {
        if (PyList_GET_SIZE(kept) && placed[k].start < last_end) continue;
        if (PyList_Append(kept, placed[k].hit) < 0) {
            Py_CLEAR(kept);
            goto done;
        }
        last_end = placed[k].end;
    }
done:
    PyMem_Free(placed);
    Py_DECREF(groups);
    return kept;
}

/* --- near ----------------------------------------------------------------------------------- */

typedef struct {
    Py_ssize_t turn, start, end;
} Span;

static int compare_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->turn != y->turn) return (x->turn > y->turn) - (x->turn < y->turn);
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    return (x->end > y->end) - (x->end < y->end);
}

/* Hits as sorted, distinct spans; how many. */
static Py_ssize_t read_spans(PyObject *hits, Span **out) {
    PyObject *seq = PySequence_Fast(hits, "hits must be a sequence of (turn, start, end)");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq), kept = 0;
    Span *spans = PyMem_Calloc((size_t)count + 1, sizeof(Span));
    if (spans == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t v[3];
        if (read_hit(PySequence_Fast_GET_ITEM(seq, k), 3, v) < 0) {
            PyMem_Free(spans);
            Py_DECREF(seq);
            return -1;
        }
        spans[k] = (Span){v[0], v[1], v[2]};
    }
    Py_DECREF(seq);
    qsort(spans, (size_t)count, sizeof(Span), compare_span);
    for (Py_ssize_t k = 0; k < count; k++)
        if (kept == 0 || compare_span(&spans[kept - 1], &spans[k]) != 0) spans[kept++] = spans[k];
    *out = spans;
    return kept;
}

/* Characters between two spans (or words, counting the space-separated runs of `text`); negative when
 * they overlap. */
static Py_ssize_t span_gap(const Py_UCS4 *text, Py_ssize_t left_end, Py_ssize_t right_start) {
    if (right_start <= left_end || text == NULL) return right_start - left_end;
    Py_ssize_t words = 0;
    for (Py_ssize_t i = left_end; i < right_start; i++)
        words += text[i] != ' ' && (i == left_end || text[i - 1] == ' ');
    return words;
}

/* In each turn with both, each first hit paired with the first second hit (in text order) close enough:
 * the span from the earlier start to the later end. Turns in order, until `limit` spans (a turn is
 * finished first). */
static PyObject *near(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"firsts", "seconds", "within", "ordered", "words", "limit", NULL};
    PyObject *firsts_arg, *seconds_arg, *words = Py_None;
    Py_ssize_t within, limit = PY_SSIZE_T_MAX;
    int ordered;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOnp|On", keywords, &firsts_arg, &seconds_arg, &within,
                                     &ordered, &words, &limit))
        return NULL;
    if (words != Py_None && !PyUnicode_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "words must be the match view (str) or None");
        return NULL;
    }
    Span *lefts = NULL, *rights = NULL;
    Py_UCS4 *text = NULL;
    PyObject *found = NULL;
    Py_ssize_t nleft = read_spans(firsts_arg, &lefts), nright = nleft < 0 ? -1 : read_spans(seconds_arg, &rights);
    if (nleft < 0 || nright < 0) goto done;
    if (words != Py_None && (text = PyUnicode_AsUCS4Copy(words)) == NULL) goto done;
    Py_ssize_t length = words == Py_None ? 0 : PyUnicode_GET_LENGTH(words);
    if ((found = PyList_New(0)) == NULL) goto done;
    for (Py_ssize_t k = 0; k < nleft; k++)
        if (text != NULL && (lefts[k].start < 0 || lefts[k].end > length)) goto out_of_range;
    for (Py_ssize_t k = 0; k < nright; k++)
        if (text != NULL && (rights[k].start < 0 || rights[k].end > length)) goto out_of_range;
    Py_ssize_t l = 0, r = 0;
    while (l < nleft && r < nright && PyList_GET_SIZE(found) < limit) {
        Py_ssize_t turn = lefts[l].turn;
        if (rights[r].turn < turn) {
            r++;
            continue;
        }
        if (rights[r].turn > turn) {
            l++;
            continue;
        }
        Py_ssize_t right_end = r;
        while (right_end < nright && rights[right_end].turn == turn) right_end++;
        for (; l < nleft && lefts[l].turn == turn; l++) {
            const Span *a = &lefts[l];
            for (Py_ssize_t k = r; k < right_end; k++) {
                const Span *b = &rights[k];
                if (ordered && b->start < a->end) continue;
                Py_ssize_t gap = b->start >= a->start ? span_gap(text, a->end, b->start) : span_gap(text, b->end, a->start);
                if (gap > within) continue;
                PyObject *span = Py_BuildValue("(nnn)", turn, a->start < b->start ? a->start : b->start,
                                               a->end > b->end ? a->end : b->end);
                if (span == NULL || PyList_Append(found, span) < 0) {
                    Py_XDECREF(span);
                    Py_CLEAR(found);
                    goto done;
                }
                Py_DECREF(span);
                break;
            }
        }
        r = right_end;
    }
    goto done;
out_of_range:
    PyErr_SetString(PyExc_ValueError, "a hit lies outside the words");
    Py_CLEAR(found);
done:
    PyMem_Free(lefts);
    PyMem_Free(rights);
    PyMem_Free(text);
    return found;
}

/* --- similar_turns ------------------------------------------------------------------------------ */

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Unit ids of one turn: the code points of a str, or the items of a sequence of int. */
static Py_ssize_t read_units(PyObject *turn, uint64_t **out) {
    Py_ssize_t size;
    uint64_t *units;
    if (PyUnicode_Check(turn)) {
        size = PyUnicode_GET_LENGTH(turn);
        units = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
        if (units == NULL) return -1;
        int kind = PyUnicode_KIND(turn);
        const void *data = PyUnicode_DATA(turn);
        for (Py_ssize_t i = 0; i < size; i++) units[i] = PyUnicode_READ(kind, data, i);
    } else {
        PyObject *seq = PySequence_Fast(turn, "a turn's units must be a str or a sequence of int");
        if (seq == NULL) return -1;
        size = PySequence_Fast_GET_SIZE(seq);
        units = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
        if (units == NULL) {
            Py_DECREF(seq);
            return -1;
        }
        for (Py_ssize_t i = 0; i < size; i++) {
            unsigned long long value = PyLong_AsUnsignedLongLong(PySequence_Fast_GET_ITEM(seq, i));
            if (value == (unsigned long long)-1 && PyErr_Occurred()) {
                PyMem_Free(units);
                Py_DECREF(seq);
                return -1;
            }
            if (value >= (1ULL << 32)) {
                PyErr_SetString(PyExc_ValueError, "unit ids must be below 2**32");
                PyMem_Free(units);
                Py_DECREF(seq);
                return -1;
            }
            units[i] = value;
        }
        Py_DECREF(seq);
    }
    *out = units;
    return size;
}

/* The distinct bigrams of a turn's units, sorted; returns how many. */
static Py_ssize_t distinct_bigrams(uint64_t *units, Py_ssize_t size) {
    if (size < 2) return 0;
    for (Py_ssize_t i = 0; i + 1 < size; i++) units[i] = units[i] << 32 | units[i + 1];
    if (size <= 48) { /* a turn's few bigrams: insertion sort beats qsort's calls */
        for (Py_ssize_t i = 1; i + 1 < size; i++) {
            uint64_t value = units[i];
            Py_ssize_t j = i;
            for (; j > 0 && units[j - 1] > value; j--) units[j] = units[j - 1];
            units[j] = value;
        }
    } else
        qsort(units, (size_t)size - 1, sizeof(uint64_t), compare_u64);
    Py_ssize_t distinct = 1;
    for (Py_ssize_t i = 1; i + 1 < size; i++)
        if (units[i] != units[distinct - 1]) units[distinct++] = units[i];
    return distinct;
}

static Py_ssize_t shared_count(const uint64_t *a, Py_ssize_t na, const uint64_t *b, Py_ssize_t nb) {
    Py_ssize_t i = 0, j = 0, shared = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            shared++;
            i++;
            j++;
        }
    }
    return shared;
}

typedef struct {
    Py_ssize_t size, index;
} SizedTurn;

static int compare_sized(const void *a, const void *b) {
    const SizedTurn *x = a, *y = b;
    if (x->size != y->size) return (x->size > y->size) - (x->size < y->size);
    return (x->index > y->index) - (x->index < y->index);
}

/* The first turn, smallest first and then in order, that at least `min_repeats - 1` other turns resemble
 * (Jaccard similarity of their distinct unit bigrams >= `similarity`), with those turns: their indices,
 * ascending. None when there is none. */
static PyObject *similar_turns(PyObject *module, PyObject *args) {
    PyObject *turns_arg;
    Py_ssize_t min_repeats;
    double similarity;
    if (!PyArg_ParseTuple(args, "Ond", &turns_arg, &min_repeats, &similarity)) return NULL;
    PyObject *turns = PySequence_Fast(turns_arg, "turns must be a sequence");
    if (turns == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(turns);
    PyObject *result = NULL;
    uint64_t **bigrams = PyMem_Calloc((size_t)count + 1, sizeof(uint64_t *));
    Py_ssize_t *sizes = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    unsigned char *similar = PyMem_Calloc((size_t)count * (size_t)count + 1, 1);
    SizedTurn *order = PyMem_Calloc((size_t)count + 1, sizeof(SizedTurn));
    if (!bigrams || !sizes || !similar || !order) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        Py_ssize_t units = read_units(PySequence_Fast_GET_ITEM(turns, k), &bigrams[k]);
        if (units < 0) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            goto done;
        }
        sizes[k] = distinct_bigrams(bigrams[k], units);
    }
    for (Py_ssize_t a = 0; a < count; a++) {
        for (Py_ssize_t b = a + 1; b < count; b++) {
            /* shared <= the smaller size, so the similarity is at most smaller / larger: skip hopeless pairs */
            Py_ssize_t smaller = sizes[a] < sizes[b] ? sizes[a] : sizes[b], larger = sizes[a] ^ sizes[b] ^ smaller;
            if ((double)smaller / (double)larger < similarity) continue;
            double shared = (double)shared_count(bigrams[a], sizes[a], bigrams[b], sizes[b]);
            double ratio = shared / ((double)sizes[a] + (double)sizes[b] - shared); /* NaN for 0 / 0: not similar */
            if (ratio >= similarity) similar[a * count + b] = similar[b * count + a] = 1;
        }
    }
    for (Py_ssize_t k = 0; k < count; k++) order[k] = (SizedTurn){sizes[k], k};
    qsort(order, (size_t)count, sizeof(SizedTurn), compare_sized);
    for (Py_ssize_t r = 0; r < count; r++) {
        Py_ssize_t k = order[r].index, repeats = 1;
        if (sizes[k] == 0) continue;
        for (Py_ssize_t j = 0; j < count; j++) repeats += similar[k * count + j];
        if (repeats < min_repeats) continue;
        result = PyList_New(0);
        if (result == NULL) goto done;
        for (Py_ssize_t j = 0; j < count; j++) {
            if (j != k && !similar[k * count + j]) continue;
            PyObject *index = PyLong_FromSsize_t(j);
            if (index == NULL || PyList_Append(result, index) < 0) {
                Py_XDECREF(index);
                Py_CLEAR(result);
                goto done;
            }
            Py_DECREF(index);
        }
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    if (bigrams != NULL)
        for (Py_ssize_t k = 0; k < count; k++) PyMem_Free(bigrams[k]);
    PyMem_Free(bigrams);
    PyMem_Free(sizes);
    PyMem_Free(similar);
    PyMem_Free(order);
    Py_DECREF(turns);
    return result;
}

/* --- Normaliser ----------------------------------------------------------------------------------- */

#define CODE_POINTS 0x110000
#define TURN_SEPARATOR ((Py_UCS4)'\n')

/* A growing run of characters, each with the span [from, to) of another text it stands for. */
typedef struct {
    Py_UCS4 *chars;
    int64_t *from;
    int64_t *to;
    Py_ssize_t size, capacity;
} Chars;

static int chars_push(Chars *c, Py_UCS4 ch, int64_t from, int64_t to) {
    if (c->size == c->capacity) {
        Py_ssize_t capacity = c->capacity ? 2 * c->capacity : 256;
        Py_UCS4 *chars = PyMem_Realloc(c->chars, (size_t)capacity * sizeof(Py_UCS4));
        if (chars != NULL) c->chars = chars;
        int64_t *f = PyMem_Realloc(c->from, (size_t)capacity * sizeof(int64_t));
        if (f != NULL) c->from = f;
        int64_t *t = PyMem_Realloc(c->to, (size_t)capacity * sizeof(int64_t));
        if (t != NULL) c->to = t;
        if (chars == NULL || f == NULL || t == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        c->capacity = capacity;
    }
    c->chars[c->size] = ch;
    c->from[c->size] = from;
    c->to[c->size] = to;
    c->size++;
    return 0;
}

static void chars_free(Chars *c) {
    PyMem_Free(c->chars);
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
static int push_str(Chars *out, PyObject *piece, int64_t from, int64_t to) {
    Py_ssize_t size = PyUnicode_GET_LENGTH(piece);
    for (Py_ssize_t k = 0; k < size; k++)
        if (chars_push(out, PyUnicode_READ_CHAR(piece, k), from, to) < 0) return -1;
    return 0;
}

/* Step 1: each character's normal form; turns joined by the separator; spans in the original. */
static int map_turns(Normaliser *self, PyObject *seq, Chars *out) {
    const uint32_t *table = self->table.buf;
    int64_t origin = 0;
    for (Py_ssize_t t = 0; t < PySequence_Fast_GET_SIZE(seq); t++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, t);
        if (t > 0) {
            if (chars_push(out, TURN_SEPARATOR, origin, origin + 1) < 0) return -1;
            origin++;
        }
        Py_ssize_t size = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        for (Py_ssize_t k = 0; k < size; k++, origin++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, k);
            uint32_t entry = table[cp];
            if (CP_STATE(entry) == 1) {
                if (chars_push(out, CP_FORM(entry), origin, origin + 1) < 0) return -1;
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
            if (push_str(out, piece, origin, origin + 1) < 0) return -1;
        }
    }
    return 0;
}

/* Step 2: Chinese numeral runs that are clearly numbers as digits (which runs: see normalise.py). */
static int convert_numerals(Normaliser *self, const Chars *in, Chars *out) {
    const uint32_t *table = self->table.buf;
    Py_ssize_t i = 0;
    while (i < in->size) {
        if (!CP_NUMERAL(table[in->chars[i]])) {
            if (chars_push(out, in->chars[i], in->from[i], in->to[i]) < 0) return -1;
            i++;
            continue;
        }
        Py_ssize_t a = i, b = i;
        while (b < in->size && CP_NUMERAL(table[in->chars[b]])) b++;
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
            int failed = push_str(out, digits, in->from[a], in->to[b - 1]);
            Py_DECREF(digits);
            if (failed) return -1;
            continue;
        }
        Py_XDECREF(digits);
        for (Py_ssize_t k = a; k < b; k++)
            if (chars_push(out, in->chars[k], in->from[k], in->to[k]) < 0) return -1;
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
static int match_view_cjk(Normaliser *self, const Chars *full, Chars *match, PyObject *breaks) {
    const uint32_t *table = self->table.buf;
    int started = 0, crossed = 0, held = 0;
    for (Py_ssize_t i = 0; i < full->size; i++) {
        Py_UCS4 c = full->chars[i];
        if (c == TURN_SEPARATOR) {
            crossed = 1;
        } else if (CP_ALNUM(table[c])) {
            if (started && held && !crossed && append_index(breaks, match->size) < 0) return -1;
            if (chars_push(match, c, i, i + 1) < 0) return -1;
            started = 1;
            crossed = held = 0;
        } else {
            held |= CP_CLAUSE(table[c]);
        }
    }
    return 0;
}

/* Step 3 (words): every run of separators inside a turn becomes one space, a break if it held clause
 * punctuation; a turn's leading and trailing runs are dropped. Apostrophes inside words are kept. */
static int match_view_words(Normaliser *self, const Chars *full, Chars *match, PyObject *breaks) {
    const uint32_t *table = self->table.buf;
    Py_ssize_t size = full->size, run_start = -1;
    int crossed = 0, held = 0;
    for (Py_ssize_t i = 0; i <= size; i++) {
        int kept = 0;
        Py_UCS4 c = 0;
        if (i < size) {
            c = full->chars[i];
            int inside = i > 0 && i + 1 < size && CP_WORD(table[full->chars[i - 1]]) && CP_WORD(table[full->chars[i + 1]]);
            kept = (CP_WORD(table[c]) && c != '_') || c == '%' || (c == '\'' && inside);
        }
        if (!kept && i < size) {
            if (run_start < 0) {
                run_start = i;
                crossed = held = 0;
            }
            crossed |= c == TURN_SEPARATOR;
            held |= CP_CLAUSE(table[c]);
            continue;
        }
        if (run_start >= 0) {
            if (run_start > 0 && i < size && !crossed) {
                if (held && append_index(breaks, match->size) < 0) return -1;
                if (chars_push(match, ' ', run_start, run_start + 1) < 0) return -1;
            }
            run_start = -1;
        }
        if (i < size && chars_push(match, c, i, i + 1) < 0) return -1;
    }
    return 0;
}

static PyObject *int64_bytes(const int64_t *values, Py_ssize_t size) {
    return PyBytes_FromStringAndSize(size ? (const char *)values : "", size * (Py_ssize_t)sizeof(int64_t));
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
    Py_ssize_t turns = PySequence_Fast_GET_SIZE(seq);
    /* code points never seen: the caller learns them and asks again */
    const uint32_t *table = self->table.buf;
    PyObject *unknown = NULL;
    for (Py_ssize_t t = 0; t < turns; t++) {
        PyObject *text = PySequence_Fast_GET_ITEM(seq, t);
        if (!PyUnicode_Check(text)) {
            PyErr_SetString(PyExc_TypeError, "texts must be a sequence of str");
            goto fail_early;
        }
        Py_ssize_t size = PyUnicode_GET_LENGTH(text);
        int kind = PyUnicode_KIND(text);
        const void *data = PyUnicode_DATA(text);
        for (Py_ssize_t k = 0; k < size; k++) {
            Py_UCS4 cp = PyUnicode_READ(kind, data, k);
            if (CP_STATE(table[cp])) continue;
            if (unknown == NULL && (unknown = PySet_New(NULL)) == NULL) goto fail_early;
            PyObject *code = PyLong_FromUnsignedLong(cp);
            if (code == NULL || PySet_Add(unknown, code) < 0) {
                Py_XDECREF(code);
                goto fail_early;
            }
            Py_DECREF(code);
        }
    }
    if (unknown != NULL) {
        Py_DECREF(seq);
        return unknown;
    }
    Chars mapped = {0}, full = {0}, match = {0};
    PyObject *breaks = PyList_New(0), *full_starts = PyList_New(0), *match_starts = PyList_New(0), *result = NULL;
    PyObject *utf8_starts = PyList_New(0);
    if (breaks == NULL || full_starts == NULL || match_starts == NULL || utf8_starts == NULL) goto done;
    if (map_turns(self, seq, &mapped) < 0 || convert_numerals(self, &mapped, &full) < 0) goto done;
    if ((cjk ? match_view_cjk : match_view_words)(self, &full, &match, breaks) < 0) goto done;
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
    result = Py_BuildValue(
        "(NNOOONNNO)", PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, full.size ? full.chars : (Py_UCS4 *)"", full.size),
        PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, match.size ? match.chars : (Py_UCS4 *)"", match.size),
        full_starts, match_starts, breaks, int64_bytes(match.from, match.size), int64_bytes(full.from, full.size),
        int64_bytes(full.to, full.size), utf8_starts);
done:
    chars_free(&mapped);
    chars_free(&full);
    chars_free(&match);
    Py_XDECREF(breaks);
    Py_XDECREF(full_starts);
    Py_XDECREF(match_starts);
    Py_XDECREF(utf8_starts);
    Py_DECREF(seq);
    return result;
fail_early:
    Py_XDECREF(unknown);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef normaliser_methods[] = {
    {"views", (PyCFunction)normaliser_views, METH_VARARGS,
     "views(texts, cjk) -> (full, match, full_starts, match_starts, breaks, match_to_full, origin_starts, "
     "origin_ends, utf8_starts), or the set of code points the tables do not know yet."},
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

static PyType_Spec normaliser_spec = {
    .name = "scorer.rules._native.Normaliser",
    .basicsize = sizeof(Normaliser),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = normaliser_slots,
};

/* --- module ------------------------------------------------------------------------------------- */

static PyMethodDef native_functions[] = {
    {"near", (PyCFunction)(void (*)(void))near, METH_VARARGS | METH_KEYWORDS,
     "near(firsts, seconds, within, ordered, words=None, limit=...) -> [(turn, start, end), ...]: in each turn, "
     "each first hit with the first second hit within `within` characters (or words of `words`), in order."},
    {"non_overlapping", non_overlapping, METH_O,
     "non_overlapping(groups) -> [(turn, start, end), ...]: the hits of all groups, leftmost-longest, without "
     "overlaps."},
    {"similar_turns", similar_turns, METH_VARARGS,
     "similar_turns(turns, min_repeats, similarity) -> [index, ...] | None: the first turn (fewest bigrams first) "
     "that at least min_repeats - 1 others resemble, with them."},
    {NULL, NULL, 0, NULL},
};

static int add_type(PyObject *module, const char *name, PyType_Spec *spec) {
    PyObject *type = PyType_FromModuleAndSpec(module, spec, NULL);
    if (type == NULL) return -1;
    int failed = PyModule_AddObjectRef(module, name, type);
    Py_DECREF(type);
    return failed;
}

static int native_exec(PyObject *module) {
    PyObject *hits = PyType_FromModuleAndSpec(module, &hits_spec, NULL);
    if (hits == NULL || PyModule_AddObjectRef(module, "Hits", hits) < 0) {
        Py_XDECREF(hits);
        return -1;
    }
    Py_XSETREF(hits_type, hits); /* kept for the life of the process */
    if (add_type(module, "Automaton", &automaton_spec) < 0) return -1;
    if (add_type(module, "Dictionary", &dictionary_spec) < 0) return -1;
    return add_type(module, "Normaliser", &normaliser_spec);
}

static PyModuleDef_Slot native_slots[] = {
    {Py_mod_exec, native_exec},
    {0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "scorer.rules._native",
    .m_doc = "The scorer's inner loops in C.",
    .m_size = 0,
    .m_methods = native_functions,
    .m_slots = native_slots,
};

PyMODINIT_FUNC PyInit__native(void) { return PyModuleDef_Init(&native_module); }
