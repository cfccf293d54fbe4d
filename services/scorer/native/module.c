/* The module scorer.rules._native: its functions and types. */
#include "native.h"

/* A sequence of int as a C array (its length in `count`); NULL, with an exception, on failure. */
Py_ssize_t *read_positions(PyObject *arg, Py_ssize_t *count, const char *what) {
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

static PyMethodDef native_functions[] = {
    {"near", (PyCFunction)(void (*)(void))near, METH_VARARGS | METH_KEYWORDS,
     "near(firsts, seconds, within, ordered, words=None, limit=...) -> [(turn, start, end), ...]: in each turn, "
     "each first hit with the first second hit within `within` characters (or words of `words`), in order."},
    {"non_overlapping", non_overlapping, METH_O,
     "non_overlapping(groups) -> [(turn, start, end), ...]: the hits of all groups, leftmost-longest, without "
     "overlaps."},
    {"similar_turns", (PyCFunction)(void (*)(void))similar_turns, METH_VARARGS | METH_KEYWORDS,
     "similar_turns(text, bounds, members, words, min_length, min_repeats, similarity) -> [turn, ...] | None: of "
     "the member turns with min_length units or more, the first (fewest bigrams first) that at least "
     "min_repeats - 1 others resemble, with them."},
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
