/* What phrase and proximity rules do with the hits they selected: leftmost-longest, and pairs. */
#include "native.h"

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

static int compare_placed(const void *a, const void *b) {
    const Placed *x = a, *y = b;
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    if (x->end != y->end) return (x->end < y->end) - (x->end > y->end); /* longer first */
    return (x->order > y->order) - (x->order < y->order);
}

/* Leftmost-longest: sort the hits by start, longer first (equal ones in given order), and keep each that does
 * not overlap the last one kept, moving the kept ones to the front; how many were kept. */
Py_ssize_t keep_non_overlapping(Placed *placed, Py_ssize_t count) {
    if (count == 0) return 0;
    qsort(placed, (size_t)count, sizeof(Placed), compare_placed);
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < count; k++)
        if (kept == 0 || placed[k].start >= placed[kept - 1].end) placed[kept++] = placed[k];
    return kept;
}

/* The hits of all groups, leftmost-longest, without overlaps (感谢 and 感谢您 at one place count once). */
PyObject *non_overlapping(PyObject *module, PyObject *groups_arg) {
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
            placed[n] = (Placed){v[1], v[2], n, v[0], PyList_GET_ITEM(group, h)};
        }
    }
    Py_ssize_t keep = keep_non_overlapping(placed, total);
    if ((kept = PyList_New(keep)) == NULL) goto done;
    for (Py_ssize_t k = 0; k < keep; k++) PyList_SET_ITEM(kept, k, Py_NewRef(placed[k].hit));
done:
    PyMem_Free(placed);
    Py_DECREF(groups);
    return kept;
}

/* --- near ----------------------------------------------------------------------------------- */

static int compare_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->turn != y->turn) return (x->turn > y->turn) - (x->turn < y->turn);
    if (x->start != y->start) return (x->start > y->start) - (x->start < y->start);
    return (x->end > y->end) - (x->end < y->end);
}

Py_ssize_t sort_spans(Span *spans, Py_ssize_t count) {
    if (count == 0) return 0;
    qsort(spans, (size_t)count, sizeof(Span), compare_span);
    Py_ssize_t kept = 0;
    for (Py_ssize_t k = 0; k < count; k++)
        if (kept == 0 || compare_span(&spans[kept - 1], &spans[k]) != 0) spans[kept++] = spans[k];
    return kept;
}

/* Hits as sorted, distinct spans; how many. */
static Py_ssize_t read_spans(PyObject *hits, Span **out) {
    PyObject *seq = PySequence_Fast(hits, "hits must be a sequence of (turn, start, end)");
    if (seq == NULL) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
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
    *out = spans;
    return sort_spans(spans, count);
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

PyObject *pair_spans(const Span *lefts, Py_ssize_t nleft, const Span *rights, Py_ssize_t nright, Py_ssize_t within,
                     int ordered, PyObject *words, Py_ssize_t limit) {
    if (words != Py_None && !PyUnicode_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "words must be the match view (str) or None");
        return NULL;
    }
    Py_UCS4 *text = NULL;
    PyObject *found = NULL;
    if (words != Py_None && (text = PyUnicode_AsUCS4Copy(words)) == NULL) return NULL;
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
    PyMem_Free(text);
    return found;
}

/* In each turn with both, each first hit paired with the first second hit (in text order) close enough:
 * the span from the earlier start to the later end. Turns in order, until `limit` spans (a turn is
 * finished first). */
PyObject *near(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"firsts", "seconds", "within", "ordered", "words", "limit", NULL};
    PyObject *firsts_arg, *seconds_arg, *words = Py_None;
    Py_ssize_t within, limit = PY_SSIZE_T_MAX;
    int ordered;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOnp|On", keywords, &firsts_arg, &seconds_arg, &within,
                                     &ordered, &words, &limit))
        return NULL;
    Span *lefts = NULL, *rights = NULL;
    PyObject *found = NULL;
    Py_ssize_t nleft = read_spans(firsts_arg, &lefts), nright = nleft < 0 ? -1 : read_spans(seconds_arg, &rights);
    if (nleft >= 0 && nright >= 0) found = pair_spans(lefts, nleft, rights, nright, within, ordered, words, limit);
    PyMem_Free(lefts);
    PyMem_Free(rights);
    return found;
}
