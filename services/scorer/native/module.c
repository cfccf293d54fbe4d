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

/* columns(objects, names) -> (list, ...): for each name, that attribute of every object, in order. One pass
 * over the objects in C: a call's turns are validated objects, each field read from every turn. */
static PyObject *columns(PyObject *module, PyObject *args) {
    PyObject *objects_arg, *names_arg;
    if (!PyArg_ParseTuple(args, "OO!", &objects_arg, &PyTuple_Type, &names_arg)) return NULL;
    PyObject *objects = PySequence_Fast(objects_arg, "objects must be a sequence");
    if (objects == NULL) return NULL;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(objects), fields = PyTuple_GET_SIZE(names_arg);
    PyObject *result = PyTuple_New(fields);
    if (result == NULL) goto fail;
    for (Py_ssize_t f = 0; f < fields; f++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(names_arg, f))) {
            PyErr_SetString(PyExc_TypeError, "names must be a tuple of str");
            goto fail;
        }
        PyObject *column = PyList_New(count);
        if (column == NULL) goto fail;
        PyTuple_SET_ITEM(result, f, column);
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *object = PySequence_Fast_GET_ITEM(objects, i);
        for (Py_ssize_t f = 0; f < fields; f++) {
            PyObject *value = PyObject_GetAttr(object, PyTuple_GET_ITEM(names_arg, f));
            if (value == NULL) goto fail;
            PyList_SET_ITEM(PyTuple_GET_ITEM(result, f), i, value);
        }
    }
    Py_DECREF(objects);
    return result;
fail:
    Py_XDECREF(result);
    Py_DECREF(objects);
    return NULL;
}

static PyMethodDef native_functions[] = {
    {"columns", columns, METH_VARARGS,
     "columns(objects, names) -> (list, ...): for each name, that attribute of every object, in order."},
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
    PyObject *origins = PyType_FromModuleAndSpec(module, &origins_spec, NULL);
    if (origins == NULL || PyModule_AddObjectRef(module, "Origins", origins) < 0) {
        Py_XDECREF(origins);
        return -1;
    }
    Py_XSETREF(origins_type, origins);
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
