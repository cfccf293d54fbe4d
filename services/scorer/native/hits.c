/* Hits: a call's raw phrase hits, kept in C until a rule selects its own. */
#include "native.h"

/* A call's raw hits as the scan found them, kept in C: grouped by phrase id, each phrase's in text order.
 * Rules take the ones they need with `select`, so no Python object is made for a hit no rule wants. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t count, phrases;
    Py_ssize_t *first; /* per phrase id: where its hits start (phrases + 1 entries) */
    Py_ssize_t *turn, *start, *end;
    uint8_t *flags;
} Hits;

PyObject *hits_type; /* set when the module is executed */

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
PyObject *hits_new(Py_ssize_t phrases, Py_ssize_t count, const int32_t *pid, const Py_ssize_t *turn,
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

/* Indices into a Hits' arrays, growing. */
typedef struct {
    Py_ssize_t *at;
    Py_ssize_t count, capacity;
} Selected;

/* Append the hits of the phrases `pids_arg` that lie in member turns (members[turn] != 0) and carry all the
 * required flags: a phrase's hits in text order, phrase after phrase. 0, or -1 with an exception. */
static int select_into(const Hits *self, PyObject *pids_arg, const Py_buffer *members, long required, Selected *out) {
    const uint8_t *member = members->buf;
    PyObject *pids = PySequence_Fast(pids_arg, "a group must be a sequence of phrase ids");
    if (pids == NULL) return -1;
    for (Py_ssize_t p = 0; p < PySequence_Fast_GET_SIZE(pids); p++) {
        Py_ssize_t pid = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(pids, p));
        if (pid == -1 && PyErr_Occurred()) goto fail;
        if (pid < 0 || pid >= self->phrases) continue; /* a phrase that can never be found */
        for (Py_ssize_t k = self->first[pid]; k < self->first[pid + 1]; k++) {
            Py_ssize_t turn = self->turn[k];
            if (turn >= members->len || !member[turn] || (self->flags[k] & required) != required) continue;
            if (out->count == out->capacity) {
                Py_ssize_t capacity = 2 * out->capacity + 64;
                Py_ssize_t *grown = PyMem_Realloc(out->at, (size_t)capacity * sizeof(Py_ssize_t));
                if (grown == NULL) {
                    PyErr_NoMemory();
                    goto fail;
                }
                out->at = grown;
                out->capacity = capacity;
            }
            out->at[out->count++] = k;
        }
    }
    Py_DECREF(pids);
    return 0;
fail:
    Py_DECREF(pids);
    return -1;
}

static PyObject *hit_tuple(const Hits *self, Py_ssize_t k) {
    return Py_BuildValue("(nnn)", self->turn[k], self->start[k], self->end[k]);
}

/* Per group of phrase ids, the hits of its phrases in member turns that carry the required flags. */
static PyObject *hits_select(Hits *self, PyObject *args) {
    PyObject *groups_arg;
    Py_buffer members;
    long required;
    if (!PyArg_ParseTuple(args, "Oy*l", &groups_arg, &members, &required)) return NULL;
    PyObject *groups = PySequence_Fast(groups_arg, "groups must be a sequence of sequences of phrase ids");
    PyObject *result = NULL;
    Selected selected = {0};
    if (groups == NULL || (result = PyList_New(PySequence_Fast_GET_SIZE(groups))) == NULL) goto done;
    for (Py_ssize_t g = 0; g < PySequence_Fast_GET_SIZE(groups); g++) {
        selected.count = 0;
        if (select_into(self, PySequence_Fast_GET_ITEM(groups, g), &members, required, &selected) < 0) goto fail;
        PyObject *hits = PyList_New(selected.count);
        if (hits == NULL) goto fail;
        PyList_SET_ITEM(result, g, hits);
        for (Py_ssize_t h = 0; h < selected.count; h++) {
            PyObject *hit = hit_tuple(self, selected.at[h]);
            if (hit == NULL) goto fail;
            PyList_SET_ITEM(hits, h, hit);
        }
    }
    goto done;
fail:
    Py_CLEAR(result);
done:
    Py_XDECREF(groups);
    PyMem_Free(selected.at);
    PyBuffer_Release(&members);
    return result;
}

/* What a phrase rule without exclusions wants of its hits, without a Python object per hit: how many of the
 * groups have a hit, how many hits there are leftmost-longest without overlaps (see non_overlapping), and the
 * first `limit` of those. Selected as `select` selects. */
static PyObject *hits_tally(Hits *self, PyObject *args) {
    PyObject *groups_arg;
    Py_buffer members;
    long required;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "Oy*ln", &groups_arg, &members, &required, &limit)) return NULL;
    PyObject *groups = PySequence_Fast(groups_arg, "groups must be a sequence of sequences of phrase ids");
    PyObject *result = NULL, *first = NULL;
    Placed *placed = NULL;
    Selected selected = {0};
    Py_ssize_t found_groups = 0;
    if (groups == NULL) goto done;
    for (Py_ssize_t g = 0; g < PySequence_Fast_GET_SIZE(groups); g++) {
        Py_ssize_t before = selected.count;
        if (select_into(self, PySequence_Fast_GET_ITEM(groups, g), &members, required, &selected) < 0) goto done;
        found_groups += selected.count > before;
    }
    if ((placed = PyMem_Calloc((size_t)selected.count + 1, sizeof(Placed))) == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t h = 0; h < selected.count; h++) {
        Py_ssize_t k = selected.at[h];
        placed[h] = (Placed){self->start[k], self->end[k], h, self->turn[k], NULL};
    }
    Py_ssize_t kept = keep_non_overlapping(placed, selected.count), shown = kept < limit ? kept : limit;
    if (shown < 0) shown = 0;
    if ((first = PyList_New(shown)) == NULL) goto done;
    for (Py_ssize_t h = 0; h < shown; h++) {
        PyObject *hit = Py_BuildValue("(nnn)", placed[h].turn, placed[h].start, placed[h].end);
        if (hit == NULL) goto done;
        PyList_SET_ITEM(first, h, hit);
    }
    result = Py_BuildValue("(nnO)", found_groups, kept, first);
done:
    Py_XDECREF(first);
    Py_XDECREF(groups);
    PyMem_Free(placed);
    PyMem_Free(selected.at);
    PyBuffer_Release(&members);
    return result;
}

/* The hits of the phrases `pids_arg` in member turns with the required flags, as sorted distinct spans in
 * `*out`; how many, or -1. */
static Py_ssize_t gather_spans(Hits *self, PyObject *pids_arg, const Py_buffer *members, long required, Span **out) {
    Selected selected = {0};
    if (select_into(self, pids_arg, members, required, &selected) < 0) {
        PyMem_Free(selected.at);
        return -1;
    }
    Span *spans = PyMem_Calloc((size_t)selected.count + 1, sizeof(Span));
    if (spans == NULL) {
        PyMem_Free(selected.at);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t h = 0; h < selected.count; h++) {
        Py_ssize_t k = selected.at[h];
        spans[h] = (Span){self->turn[k], self->start[k], self->end[k]};
    }
    Py_ssize_t count = selected.count;
    PyMem_Free(selected.at);
    *out = spans;
    return sort_spans(spans, count);
}

/* near (see there) of the hits of two lists of phrases, selected as `select` selects. */
static PyObject *hits_near(Hits *self, PyObject *args) {
    PyObject *firsts_arg, *seconds_arg, *words;
    Py_buffer members;
    long required;
    Py_ssize_t within, limit;
    int ordered;
    if (!PyArg_ParseTuple(args, "OOy*lnpOn", &firsts_arg, &seconds_arg, &members, &required, &within, &ordered,
                          &words, &limit))
        return NULL;
    Span *lefts = NULL, *rights = NULL;
    PyObject *found = NULL;
    Py_ssize_t nleft = gather_spans(self, firsts_arg, &members, required, &lefts);
    Py_ssize_t nright = nleft < 0 ? -1 : gather_spans(self, seconds_arg, &members, required, &rights);
    if (nleft >= 0 && nright >= 0) found = pair_spans(lefts, nleft, rights, nright, within, ordered, words, limit);
    PyMem_Free(lefts);
    PyMem_Free(rights);
    PyBuffer_Release(&members);
    return found;
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
    {"tally", (PyCFunction)hits_tally, METH_VARARGS,
     "tally(groups, members, required, limit) -> (groups with a hit, hits kept leftmost-longest, the first `limit` "
     "of those as (turn, start, end)): select and non_overlapping in one, without a Python object per hit."},
    {"near", (PyCFunction)hits_near, METH_VARARGS,
     "near(firsts, seconds, members, required, within, ordered, words, limit) -> [(turn, start, end), ...]: "
     "near() of the hits of two lists of phrase ids, each selected as select() selects."},
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

PyType_Spec hits_spec = {
    .name = "scorer.rules._native.Hits",
    .basicsize = sizeof(Hits),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = hits_slots,
};
