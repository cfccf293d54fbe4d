/* similar_turns: which turns share enough unit bigrams (Jaccard) with one another. */
#include "native.h"

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
PyObject *similar_turns(PyObject *module, PyObject *args) {
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
