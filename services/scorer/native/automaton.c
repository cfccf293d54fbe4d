/* Automaton: all phrases of a scorecard in one Aho-Corasick automaton, and the scan of a call. */
#include "native.h"

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
    uint8_t *alphabet;  /* a bit per code point: does some phrase hold it? */
} Automaton;

#define ALPHABET_BYTES (0x110000 / 8)
static inline int in_alphabet(const Automaton *self, Py_UCS4 cp) { return self->alphabet[cp >> 3] >> (cp & 7) & 1; }

/* The state after reading `cp` in `state`: its edge for cp, else that of its longest proper suffix that
 * has one, else the root. */
static int32_t automaton_step(const Automaton *self, int32_t state, Py_UCS4 cp) {
    if (!in_alphabet(self, cp)) return 0; /* no edge anywhere reads it: most characters of a call */
    for (;;) {
        int32_t next = edge_get(&self->edges, state, cp);
        if (next >= 0) return next;
        if (state == 0) return 0;
        state = self->fail[state];
    }
}

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
    PyMem_Free(self->alphabet);
    self->aligned = self->alphabet = NULL;
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
    self->alphabet = PyMem_Calloc(ALPHABET_BYTES, 1);
    /* children in creation order, to walk the trie breadth first */
    int32_t *parent_of = PyMem_Calloc(capacity, sizeof(int32_t));
    Py_UCS4 *char_of = PyMem_Calloc(capacity, sizeof(Py_UCS4));
    int32_t *order = PyMem_Calloc(capacity, sizeof(int32_t));
    if (!self->edges.keys || !self->edges.targets || !self->fail || !self->pid || !self->length ||
        !self->next_out || !self->alphabet || !parent_of || !char_of || !order) {
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
                self->alphabet[cp >> 3] |= (uint8_t)(1u << (cp & 7));
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
        int32_t fail = parent == 0 ? 0 : automaton_step(self, self->fail[parent], cp);
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

/* One call's match view, as the scan checks hits against it. */
typedef struct {
    const Py_UCS4 *text;
    const Py_ssize_t *bounds; /* turn starts, then the end */
    const Py_ssize_t *breaks; /* clause breaks, sorted */
    Py_ssize_t turns, nbreaks;
    Py_ssize_t *break_after; /* per position p: the index of the first break after p (a lookup per hit, no search) */
    const Dictionary *dictionary; /* CJK: word boundaries from jieba's cut; NULL: at spaces */
    double logtotal;
    uint8_t *marks;   /* per position: 0 not known yet, 1 a word boundary, 2 not one */
    Py_ssize_t *ends; /* scratch for a clause's cut */
    double *work;
} View;

#define HIT_WHOLE 1   /* no clause break inside, or only where the phrase's words meet */
#define HIT_ALIGNED 2 /* starts and ends on word boundaries */

static int is_whole(const Automaton *self, const View *view, int32_t pid, Py_ssize_t start, Py_ssize_t end) {
    Py_ssize_t k = view->break_after[start];
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
        Py_ssize_t k = view->break_after[position];
        if (k > 0 && view->breaks[k - 1] == position) return 1;
        Py_ssize_t clause_start = k > 0 && view->breaks[k - 1] > low ? view->breaks[k - 1] : low;
        Py_ssize_t clause_end = k < view->nbreaks && view->breaks[k] < high ? view->breaks[k] : high;
        dictionary_mark_boundaries(view->dictionary, view->text + clause_start, clause_end - clause_start,
                                   view->logtotal, view->marks + clause_start, view->ends, view->work);
    }
    return view->marks[position] == 1;
}

static PyObject *automaton_scan(Automaton *self, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"text", "bounds", "breaks", "dictionary", "logtotal", NULL};
    PyObject *text_arg, *bounds_arg, *breaks_arg = NULL, *dictionary = Py_None;
    View view = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO|OOd", keywords, &text_arg, &bounds_arg, &breaks_arg,
                                     &dictionary, &view.logtotal))
        return NULL;
    if (dictionary != Py_None && (view.dictionary = dictionary_from(dictionary)) == NULL) return NULL;
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
    view.break_after = PyMem_Calloc((size_t)size + 1, sizeof(Py_ssize_t));
    if (bounds == NULL || breaks == NULL || text == NULL || !view.marks || !view.ends || !view.work ||
        !view.break_after) {
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
    for (Py_ssize_t p = 0, k = 0; p <= size; p++) {
        while (k < view.nbreaks && breaks[k] <= p) k++;
        view.break_after[p] = k;
    }
    view.text = text;
    view.bounds = bounds;
    view.breaks = breaks;
    view.turns = nbounds - 1;
    if (nbounds >= 2 && self->nodes > 1) {
        int32_t state = 0;
        Py_ssize_t turn = 0, turns = nbounds - 1;
        for (Py_ssize_t i = 0; i < size; i++) {
            state = automaton_step(self, state, text[i]);
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
    PyMem_Free(view.break_after);
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

PyType_Spec automaton_spec = {
    .name = "scorer.rules._native.Automaton",
    .basicsize = sizeof(Automaton),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = automaton_slots,
};
