/* Origins: the way back from a call's views to what was said, to quote evidence. */
#include "native.h"

/* The original text (the turns joined by newlines), and for each view character the span of the original
 * it stands for: a full-view character directly (a digit of 1017 stands for all of 一零一七), a match-view
 * character through the full-view character it comes from. Made by Normaliser.views, which hands over its
 * arrays. */
typedef struct {
    PyObject_HEAD
    PyObject *original;
    int64_t *match_to_full, *starts, *ends;
    Py_ssize_t match_size, full_size;
} Origins;

PyObject *origins_type; /* set when the module is executed */

static void origins_dealloc(Origins *self) {
    PyTypeObject *type = Py_TYPE(self);
    Py_XDECREF(self->original);
    PyMem_Free(self->match_to_full);
    PyMem_Free(self->starts);
    PyMem_Free(self->ends);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

PyObject *origins_new(PyObject *original, int64_t *match_to_full, Py_ssize_t match_size, int64_t *starts,
                      int64_t *ends, Py_ssize_t full_size) {
    Origins *self = PyObject_New(Origins, (PyTypeObject *)origins_type);
    if (self == NULL) {
        PyMem_Free(match_to_full);
        PyMem_Free(starts);
        PyMem_Free(ends);
        return NULL;
    }
    Py_INCREF(origins_type); /* a heap type's instances own a reference to it */
    self->original = Py_NewRef(original);
    self->match_to_full = match_to_full;
    self->starts = starts;
    self->ends = ends;
    self->match_size = match_size;
    self->full_size = full_size;
    return (PyObject *)self;
}

/* The original text behind full-view characters [start, end): "" when empty. */
static PyObject *quote_full(Origins *self, Py_ssize_t start, Py_ssize_t end) {
    if (start < 0 || end > self->full_size) {
        PyErr_SetString(PyExc_IndexError, "a span outside the full view");
        return NULL;
    }
    if (end <= start) return PyUnicode_New(0, 0);
    return PyUnicode_Substring(self->original, self->starts[start], self->ends[end - 1]);
}

/* The original text behind match-view characters [start, end) (a non-empty span). */
static PyObject *quote_match(Origins *self, Py_ssize_t start, Py_ssize_t end) {
    if (start < 0 || end > self->match_size || end <= start) {
        PyErr_SetString(PyExc_IndexError, "not a span of the match view");
        return NULL;
    }
    return quote_full(self, self->match_to_full[start], self->match_to_full[end - 1] + 1);
}

static PyObject *origins_match(Origins *self, PyObject *args) {
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "nn", &start, &end)) return NULL;
    return quote_match(self, start, end);
}

static PyObject *origins_full(Origins *self, PyObject *args) {
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "nn", &start, &end)) return NULL;
    return quote_full(self, start, end);
}

/* The fields of callqa.events.Evidence for each hit (turn, start, end) of the match view: the turn's id and
 * times, and the original text behind the hit. */
static PyObject *origins_evidence(Origins *self, PyObject *args) {
    PyObject *hits_arg, *ids, *begins, *ends;
    if (!PyArg_ParseTuple(args, "OO!O!O!", &hits_arg, &PyList_Type, &ids, &PyList_Type, &begins, &PyList_Type, &ends))
        return NULL;
    PyObject *hits = PySequence_Fast(hits_arg, "hits must be a sequence of (turn, start, end)");
    if (hits == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(hits);
    PyObject *result = PyList_New(count);
    for (Py_ssize_t k = 0; result != NULL && k < count; k++) {
        PyObject *hit = PySequence_Fast_GET_ITEM(hits, k), *text = NULL, *fields = NULL;
        Py_ssize_t turn = -1, start = 0, end = 0;
        if (!PyTuple_Check(hit) || !PyArg_ParseTuple(hit, "nnn", &turn, &start, &end)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a hit must be a tuple (turn, start, end)");
        } else if (turn < 0 || turn >= PyList_GET_SIZE(ids) || turn >= PyList_GET_SIZE(begins) ||
                   turn >= PyList_GET_SIZE(ends)) {
            PyErr_SetString(PyExc_IndexError, "a hit in a turn the call does not have");
        } else if ((text = quote_match(self, start, end)) != NULL) {
            fields = Py_BuildValue("{sOsOsOsN}", "turn_id", PyList_GET_ITEM(ids, turn), "begin_ms",
                                   PyList_GET_ITEM(begins, turn), "end_ms", PyList_GET_ITEM(ends, turn), "text", text);
        }
        if (fields == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, k, fields);
    }
    Py_DECREF(hits);
    return result;
}

static PyObject *origins_get_original(Origins *self, void *closure) { return Py_NewRef(self->original); }

static PyMethodDef origins_methods[] = {
    {"match", (PyCFunction)origins_match, METH_VARARGS,
     "match(start, end) -> str: the original text behind the (non-empty) match-view span [start, end)."},
    {"full", (PyCFunction)origins_full, METH_VARARGS,
     "full(start, end) -> str: the original text behind the full-view span [start, end) (empty if it is)."},
    {"evidence", (PyCFunction)origins_evidence, METH_VARARGS,
     "evidence(hits, ids, begins, ends) -> [dict, ...]: the fields of an Evidence for each match-view hit."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef origins_getset[] = {
    {"original", (getter)origins_get_original, NULL, "the turns joined by newlines", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot origins_slots[] = {
    {Py_tp_doc, "The way back from a call's views to its original text (from Normaliser.views)."},
    {Py_tp_dealloc, origins_dealloc},
    {Py_tp_methods, origins_methods},
    {Py_tp_getset, origins_getset},
    {0, NULL},
};

PyType_Spec origins_spec = {
    .name = "scorer.rules._native.Origins",
    .basicsize = sizeof(Origins),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = origins_slots,
};
