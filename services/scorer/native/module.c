/* The module scorer.rules._native: its functions and types. */
#include "native.h"

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
