/* similar_turns: which turns share enough unit bigrams (Jaccard) with one another. */
#include "native.h"

/* Open addressing over 64-bit keys; slots hold a key and an int32 value (-1: empty). */
typedef struct {
    uint64_t *keys;
    int32_t *values;
    size_t mask;
} IntTable;

static int int_table_alloc(IntTable *table, size_t keys) {
    size_t slots = 16;
    while (slots < 2 * keys) slots <<= 1;
    table->keys = PyMem_Calloc(slots, sizeof(uint64_t));
    table->values = PyMem_Malloc(slots * sizeof(int32_t));
    table->mask = slots - 1;
    if (table->keys == NULL || table->values == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memset(table->values, 0xFF, slots * sizeof(int32_t));
    return 0;
}

static void int_table_free(IntTable *table) {
    PyMem_Free(table->keys);
    PyMem_Free(table->values);
}

static inline size_t mix_slot(uint64_t key, size_t mask) {
    key ^= key >> 31;
    key *= 0x9e3779b97f4a7c15ULL;
    key ^= key >> 29;
    return (size_t)key & mask;
}

/* A turn's units: its code points (CJK), or ids of its words (separated by single spaces), each distinct
 * word one id. Words are told apart by content: `words` maps a word's hash to the first unit that holds it,
 * whose span `word_at` keeps; collisions of the hash probe on. */
typedef struct {
    const Py_UCS4 *text;
    IntTable words;
    Py_ssize_t *word_start, *word_length; /* by word id */
    int32_t word_count;
} Units;

static int32_t word_id(Units *u, Py_ssize_t start, Py_ssize_t length) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (Py_ssize_t k = 0; k < length; k++) hash = (hash ^ u->text[start + k]) * 0x100000001b3ULL;
    for (size_t i = mix_slot(hash, u->words.mask);; i = (i + 1) & u->words.mask) {
        int32_t id = u->words.values[i];
        if (id < 0) {
            id = u->word_count++;
            u->words.keys[i] = hash;
            u->words.values[i] = id;
            u->word_start[id] = start;
            u->word_length[id] = length;
            return id;
        }
        if (u->words.keys[i] == hash && u->word_length[id] == length &&
            memcmp(u->text + u->word_start[id], u->text + start, (size_t)length * sizeof(Py_UCS4)) == 0)
            return id;
    }
}

/* The units of text[start:end] into `out` (room for end - start); how many. */
static Py_ssize_t read_units(Units *u, int words, Py_ssize_t start, Py_ssize_t end, uint32_t *out) {
    Py_ssize_t count = 0;
    if (!words) {
        for (Py_ssize_t i = start; i < end; i++) out[count++] = u->text[i];
        return count;
    }
    for (Py_ssize_t i = start; i < end;) {
        if (u->text[i] == ' ') {
            i++;
            continue;
        }
        Py_ssize_t j = i;
        while (j < end && u->text[j] != ' ') j++;
        out[count++] = (uint32_t)word_id(u, i, j - i);
        i = j;
    }
    return count;
}

typedef struct {
    Py_ssize_t size, index;
} SizedTurn;

static int compare_sized(const void *a, const void *b) {
    const SizedTurn *x = a, *y = b;
    if (x->size != y->size) return (x->size > y->size) - (x->size < y->size);
    return (x->index > y->index) - (x->index < y->index);
}

/* A growing list of similar pairs of turns. */
typedef struct {
    int32_t *a, *b;
    Py_ssize_t count, capacity;
} Pairs;

static int pairs_push(Pairs *p, int32_t a, int32_t b) {
    if (p->count == p->capacity) {
        Py_ssize_t capacity = p->capacity ? 2 * p->capacity : 64;
        int32_t *x = PyMem_Realloc(p->a, (size_t)capacity * sizeof(int32_t));
        if (x != NULL) p->a = x;
        int32_t *y = PyMem_Realloc(p->b, (size_t)capacity * sizeof(int32_t));
        if (y != NULL) p->b = y;
        if (x == NULL || y == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        p->capacity = capacity;
    }
    p->a[p->count] = a;
    p->b[p->count++] = b;
    return 0;
}

static int compare_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The member turns with at least `min_length` units; the first of them (fewest distinct bigrams first, then
 * in order) that at least `min_repeats - 1` others resemble (Jaccard similarity of their distinct unit
 * bigrams >= `similarity`), with those turns: their indices, ascending. None when there is none.
 *
 * Shared bigrams are counted through an index from each bigram to the last turn holding it, chained to the
 * turns before: each turn counts one shared bigram with every turn on the chains of its bigrams, so the cost
 * follows the bigrams turns have in common, not the number of pairs of turns. */
PyObject *similar_turns(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"text", "bounds", "members", "words", "min_length", "min_repeats", "similarity", NULL};
    PyObject *text_arg, *bounds_arg, *members_arg;
    int words;
    Py_ssize_t min_length, min_repeats, nbounds = 0, nmembers = 0;
    double similarity;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UOOpnnd", keywords, &text_arg, &bounds_arg, &members_arg, &words,
                                     &min_length, &min_repeats, &similarity))
        return NULL;
    if (!(similarity > 0.0 && similarity <= 1.0)) { /* 0 would make turns with nothing in common alike */
        PyErr_SetString(PyExc_ValueError, "similarity must be in (0, 1]");
        return NULL;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(text_arg), count = 0, entries = 0;
    PyObject *result = NULL;
    Units u = {0};
    IntTable grams = {0};
    Pairs similar = {0};
    uint32_t *units = NULL, *common = NULL;
    uint64_t *bigram = NULL;                                       /* of each (turn, bigram) entry, by turn */
    int32_t *kept = NULL, *chain_turn = NULL, *chain_next = NULL, *touched = NULL, *group = NULL;
    Py_ssize_t *first_entry = NULL, *sizes = NULL, *repeats = NULL;
    SizedTurn *order = NULL;
    Py_ssize_t *bounds = read_positions(bounds_arg, &nbounds, "bounds must be a sequence of int");
    Py_ssize_t *members = bounds ? read_positions(members_arg, &nmembers, "members must be a sequence of int") : NULL;
    if (members == NULL) goto done;
    for (Py_ssize_t i = 0; i < nbounds; i++) {
        if (bounds[i] < 0 || bounds[i] > size || (i && bounds[i] < bounds[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "bounds must be ascending offsets of the text");
            goto done;
        }
    }
    for (Py_ssize_t m = 0; m < nmembers; m++) {
        if (members[m] < 0 || members[m] + 1 >= nbounds) {
            PyErr_SetString(PyExc_ValueError, "members must be turns of bounds");
            goto done;
        }
    }
    if ((u.text = PyUnicode_AsUCS4Copy(text_arg)) == NULL) goto done;
    units = PyMem_Calloc((size_t)size + 1, sizeof(uint32_t));
    bigram = PyMem_Calloc((size_t)size + 1, sizeof(uint64_t));
    kept = PyMem_Calloc((size_t)nmembers + 1, sizeof(int32_t));
    first_entry = PyMem_Calloc((size_t)nmembers + 2, sizeof(Py_ssize_t));
    u.word_start = PyMem_Calloc((size_t)size + 1, sizeof(Py_ssize_t));
    u.word_length = PyMem_Calloc((size_t)size + 1, sizeof(Py_ssize_t));
    if (!units || !bigram || !kept || !first_entry || !u.word_start || !u.word_length) {
        PyErr_NoMemory();
        goto done;
    }
    if (words && int_table_alloc(&u.words, (size_t)size + 1) < 0) goto done;
    for (Py_ssize_t m = 0; m < nmembers; m++) { /* the members long enough, and their bigrams */
        Py_ssize_t n = read_units(&u, words, bounds[members[m]], bounds[members[m] + 1], units);
        if (n < min_length) continue;
        kept[count] = (int32_t)members[m];
        first_entry[count++] = entries;
        for (Py_ssize_t i = 0; i + 1 < n; i++) bigram[entries++] = (uint64_t)units[i] << 32 | units[i + 1];
    }
    first_entry[count] = entries;
    sizes = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    repeats = PyMem_Calloc((size_t)count + 1, sizeof(Py_ssize_t));
    common = PyMem_Calloc((size_t)count + 1, sizeof(uint32_t));
    touched = PyMem_Calloc((size_t)count + 1, sizeof(int32_t));
    group = PyMem_Calloc((size_t)count + 1, sizeof(int32_t));
    chain_turn = PyMem_Calloc((size_t)entries + 1, sizeof(int32_t));
    chain_next = PyMem_Calloc((size_t)entries + 1, sizeof(int32_t));
    order = PyMem_Calloc((size_t)count + 1, sizeof(SizedTurn));
    if (!sizes || !repeats || !common || !touched || !group || !chain_turn || !chain_next || !order) {
        PyErr_NoMemory();
        goto done;
    }
    if (int_table_alloc(&grams, (size_t)entries + 1) < 0) goto done;
    int32_t links = 0;
    for (int32_t k = 0; k < (int32_t)count; k++) {
        Py_ssize_t ntouched = 0;
        for (Py_ssize_t e = first_entry[k]; e < first_entry[k + 1]; e++) {
            size_t i = mix_slot(bigram[e], grams.mask);
            while (grams.values[i] >= 0 && grams.keys[i] != bigram[e]) i = (i + 1) & grams.mask;
            int32_t head = grams.values[i];
            if (head >= 0 && chain_turn[head] == k) continue; /* this turn's bigram again */
            sizes[k]++;
            for (int32_t link = head; link >= 0; link = chain_next[link])
                if (common[chain_turn[link]]++ == 0) touched[ntouched++] = chain_turn[link];
            chain_turn[links] = k;
            chain_next[links] = head;
            grams.keys[i] = bigram[e];
            grams.values[i] = links++;
        }
        /* the earlier turns that share a bigram with this one: are they alike? (with none in common, a pair
         * is alike only at similarity 0 or less, which a scorecard does not allow) */
        for (Py_ssize_t t = 0; t < ntouched; t++) {
            int32_t j = touched[t];
            double shared = (double)common[j];
            common[j] = 0;
            if (shared / ((double)sizes[j] + (double)sizes[k] - shared) < similarity) continue;
            if (pairs_push(&similar, j, k) < 0) goto done;
            repeats[j]++;
            repeats[k]++;
        }
    }
    for (Py_ssize_t k = 0; k < count; k++) order[k] = (SizedTurn){sizes[k], k};
    qsort(order, (size_t)count, sizeof(SizedTurn), compare_sized);
    for (Py_ssize_t r = 0; r < count; r++) {
        int32_t k = (int32_t)order[r].index;
        if (sizes[k] == 0 || repeats[k] + 1 < min_repeats) continue;
        Py_ssize_t n = 0;
        group[n++] = kept[k];
        for (Py_ssize_t p = 0; p < similar.count; p++) {
            if (similar.a[p] == k) group[n++] = kept[similar.b[p]];
            if (similar.b[p] == k) group[n++] = kept[similar.a[p]];
        }
        qsort(group, (size_t)n, sizeof(int32_t), compare_int32);
        if ((result = PyList_New(n)) == NULL) goto done;
        for (Py_ssize_t g = 0; g < n; g++) {
            PyObject *index = PyLong_FromLong(group[g]);
            if (index == NULL) {
                Py_CLEAR(result);
                goto done;
            }
            PyList_SET_ITEM(result, g, index);
        }
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyMem_Free(bounds);
    PyMem_Free(members);
    PyMem_Free((void *)u.text);
    PyMem_Free(u.word_start);
    PyMem_Free(u.word_length);
    int_table_free(&u.words);
    int_table_free(&grams);
    PyMem_Free(similar.a);
    PyMem_Free(similar.b);
    PyMem_Free(units);
    PyMem_Free(common);
    PyMem_Free(bigram);
    PyMem_Free(kept);
    PyMem_Free(chain_turn);
    PyMem_Free(chain_next);
    PyMem_Free(touched);
    PyMem_Free(group);
    PyMem_Free(first_entry);
    PyMem_Free(sizes);
    PyMem_Free(repeats);
    PyMem_Free(order);
    return result;
}
