/* The scorer's inner loops in C (the extension module scorer.rules._native): what runs once per
 * character, per hit or per pair of turns of every call. The rule logic that calls them stays in
 * Python; scorer/rules/_native.pyi holds the contracts. One file per part:
 *
 * - dictionary.c  Dictionary: jieba's frequency table, and its dictionary-only route through a clause
 *                 (the most probable path through its dictionary words), so it cuts exactly as jieba does.
 * - automaton.c   Automaton: all phrases of a scorecard in one Aho-Corasick automaton over code points;
 *                 `scan` finds every occurrence within a turn in one pass over a call's match view and
 *                 checks each one (clause breaks, word boundaries).
 * - hits.c        Hits: the scan's result, from which each rule selects its own.
 * - pairs.c       non_overlapping (a rule's hits, leftmost-longest) and near (proximity pairs).
 * - similar.c     similar_turns: which turns share enough unit bigrams (Jaccard) with one another.
 * - normaliser.c  Normaliser: a call's full and match views (see normalise.py), from a per-code-point
 *                 table that the Python side fills as it meets new code points.
 * - origins.c     Origins: the way back from the views to the original text, to quote evidence.
 * - module.c      the module, and `columns` (attributes of many objects, read in one pass).
 */
#ifndef SCORER_NATIVE_H
#define SCORER_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* dictionary.c */
typedef struct Dictionary Dictionary;
extern PyType_Spec dictionary_spec;
Dictionary *dictionary_from(PyObject *object); /* NULL, with an exception, if it is no ready Dictionary */
void dictionary_mark_boundaries(const Dictionary *self, const Py_UCS4 *clause, Py_ssize_t size, double logtotal,
                                uint8_t *marks, Py_ssize_t *ends, double *work);

/* hits.c */
extern PyType_Spec hits_spec;
extern PyObject *hits_type;
PyObject *hits_new(Py_ssize_t phrases, Py_ssize_t count, const int32_t *pid, const Py_ssize_t *turn,
                   const Py_ssize_t *start, const Py_ssize_t *end, const uint8_t *flags);

/* origins.c */
extern PyType_Spec origins_spec;
extern PyObject *origins_type;
/* Takes over the three arrays (freeing them if it fails). */
PyObject *origins_new(PyObject *original, int64_t *match_to_full, Py_ssize_t match_size, int64_t *starts,
                      int64_t *ends, Py_ssize_t full_size);

/* automaton.c, normaliser.c */
extern PyType_Spec automaton_spec;
extern PyType_Spec normaliser_spec;

/* pairs.c, similar.c */
typedef struct {
    Py_ssize_t start, end, order, turn;
    PyObject *hit; /* borrowed, or NULL */
} Placed;
Py_ssize_t keep_non_overlapping(Placed *placed, Py_ssize_t count);
typedef struct {
    Py_ssize_t turn, start, end;
} Span;
Py_ssize_t sort_spans(Span *spans, Py_ssize_t count); /* sorted by turn, start, end; distinct; how many */
/* near's pairing of sorted distinct spans (see there); words: the match view (gaps in words), or None. */
PyObject *pair_spans(const Span *lefts, Py_ssize_t nleft, const Span *rights, Py_ssize_t nright, Py_ssize_t within,
                     int ordered, PyObject *words, Py_ssize_t limit);
PyObject *non_overlapping(PyObject *module, PyObject *groups);
PyObject *near(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *similar_turns(PyObject *module, PyObject *args, PyObject *kwargs);

/* module.c */
Py_ssize_t *read_positions(PyObject *arg, Py_ssize_t *count, const char *what);

#endif
