# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""SQL metric batches, compiled twin of :mod:`trackstore._sqlbatch_py`, whose docstring is the spec.

Same functions, same results, same exceptions. Items that are exact ``int``/``float`` (what the
store and the drivers pass) are read through the C API and checked with C comparisons; the
duplicate points of a batch and the latest row of each key are found with an open-addressing
hash table of C structs; text is written into one C buffer. Anything else goes through the pure
twin's checkers, so the errors are its errors. Python objects are made only for what is
returned.

``repr(float)`` is CPython's own (``PyOS_double_to_string(..., 'r', ...)``), with two exact
shortcuts: an integral value below ``1e16`` is its digits and ``.0``, and a value in
``[1e-4, 1e15)`` with at most 15 significant digits is found with one multiplication and one
division (see :func:`write_short_decimal`).
"""

from cpython.array cimport array, clone, resize
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.conversion cimport Py_DTSF_ADD_DOT_0, PyOS_double_to_string
from cpython.dict cimport PyDict_GetItemWithError
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.long cimport PyLong_AsLongLong, PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.math cimport INFINITY, nearbyint, signbit
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport qsort
from libc.string cimport memcpy, memset, strlen

from trackstore._metrics_py import float_arg, int64_arg
from trackstore._sqlbatch_py import (
    KIND_FINITE,
    KIND_NAN,
    KIND_NEG_INF,
    KIND_POS_INF,
    SPECIAL_VALUES,
    HistoryColumns,
    history_row,
    key_arg,
    kind_arg,
    row_arg,
    series_length,
    stored_row,
)
from trackstore.entities import Metric

__all__ = [
    "KIND_FINITE",
    "KIND_NAN",
    "KIND_NEG_INF",
    "KIND_POS_INF",
    "HistoryColumns",
    "bind_params",
    "copy_binary",
    "copy_text",
    "decode_value",
    "encode_value",
    "history_columns",
    "history_metrics",
    "latest_rows",
    "metric_rows",
    "series_rows",
    "values_sql",
]

cdef enum:
    K_NAN = 0
    K_NEG_INF = 1
    K_FINITE = 2
    K_POS_INF = 3
    # The longest row either text format writes: five int64s (20 characters each), a repr
    # (at most 24), the kind, separators and brackets, with room to spare.
    MAX_ROW = 5 * 20 + 32 + 1 + 16

cdef tuple KIND_OBJECTS = (KIND_NAN, KIND_NEG_INF, KIND_FINITE, KIND_POS_INF)
cdef double SPECIAL[4]
SPECIAL[:] = [SPECIAL_VALUES[0], SPECIAL_VALUES[1], 0.0, SPECIAL_VALUES[3]]
cdef object ZERO = 0.0
cdef array _INT64S = array("q")
cdef array _DOUBLES = array("d")

# 10**k for k <= 18, as doubles (exact: 10**k is up to k = 22) and as integers.
cdef double POW10[19]
POW10[:] = [float(10**k) for k in range(19)]
cdef uint64_t POW10_INT[19]
POW10_INT[:] = [10**k for k in range(19)]


# --- reading items ----------------------------------------------------------------------------


cdef inline bint exact_int64(object obj, int64_t *out) except -1:
    """True and *out* set when *obj* is an exact ``int`` in int64 range."""
    cdef int overflow = 0
    cdef long long number
    if not PyLong_CheckExact(obj):
        return False
    number = PyLong_AsLongLongAndOverflow(obj, &overflow)
    if overflow:
        return False
    out[0] = number
    return True


cdef inline int kind_code(object obj) except -2:
    """The kind *obj* stands for, or -1 when it is not an exact ``int`` in 0..3."""
    cdef int64_t number
    if exact_int64(obj, &number) and K_NAN <= number <= K_POS_INF:
        return <int>number
    return -1


cdef object as_list(object items):
    if type(items) is list or type(items) is tuple:
        return items
    return list(items)


cdef struct Stored:
    int64_t run_key
    int64_t key_id
    int64_t step
    int64_t timestamp
    double value
    int kind
    bint has_dataset
    int64_t dataset_id


cdef bint fill_stored(tuple t, Stored *s) except -1:
    """*s* from the 7-tuple *t* when every item is exact and valid; False otherwise."""
    cdef object value = t[4]
    cdef object dataset_id = t[6]
    if not (
        exact_int64(t[0], &s.run_key)
        and exact_int64(t[1], &s.key_id)
        and exact_int64(t[2], &s.step)
        and exact_int64(t[3], &s.timestamp)
        and PyFloat_CheckExact(value)
    ):
        return False
    s.value = PyFloat_AS_DOUBLE(value)
    s.kind = kind_code(t[5])
    if s.kind < 0 or not -INFINITY < s.value < INFINITY:
        return False
    if s.kind != K_FINITE and s.value != 0.0:
        return False
    s.has_dataset = dataset_id is not None
    return not s.has_dataset or exact_int64(dataset_id, &s.dataset_id)


cdef inline tuple as_row(object row, Py_ssize_t size, Py_ssize_t index):
    """``rows[index]`` as a tuple of *size* items (the pure twin's ``row_arg``)."""
    if PyTuple_CheckExact(row) and PyTuple_GET_SIZE(row) == size:
        return <tuple>row
    return <tuple>row_arg(row, size, index)


cdef tuple read_stored(object row, Py_ssize_t index, Stored *s):
    """*s* from ``rows[index]``, and the row as a tuple of exact items (the pure twin's
    ``stored_row``, which raises for a bad row)."""
    cdef tuple t = as_row(row, 7, index)
    if fill_stored(t, s):
        return t
    t = <tuple>stored_row(t, index)
    if not fill_stored(t, s):
        raise AssertionError(f"stored_row passed rows[{index}] unnormalised")
    return t


cdef int same_run(Stored *s, Py_ssize_t index, int64_t *first_run, str function) except -1:
    """Rows of one run: *first_run* is set by ``rows[0]``, a later row must have it."""
    if index == 0:
        first_run[0] = s.run_key
    elif s.run_key != first_run[0]:
        raise ValueError(
            f"rows[{index}].run_key is {s.run_key}, rows[0].run_key is {first_run[0]}: "
            f"{function} takes the rows of one run"
        )
    return 0


cdef struct Fetched:
    int64_t step
    int64_t timestamp
    double value  # decoded: NaN and the infinities restored from the kind
    int kind


cdef bint fill_fetched(tuple t, Fetched *f) except -1:
    """*f* from the first four items of *t* when they are exact and valid; False otherwise."""
    cdef object value = t[2]
    if not (
        exact_int64(t[0], &f.step)
        and exact_int64(t[1], &f.timestamp)
        and PyFloat_CheckExact(value)
    ):
        return False
    f.kind = kind_code(t[3])
    if f.kind < 0:
        return False
    f.value = PyFloat_AS_DOUBLE(value) if f.kind == K_FINITE else SPECIAL[f.kind]
    return True


cdef tuple read_fetched(object row, Py_ssize_t index, Py_ssize_t size, Fetched *f):
    """*f* from ``rows[index]`` (*size* items), and the row as an exact tuple."""
    cdef tuple t = as_row(row, size, index)
    if fill_fetched(t, f) and (size == 4 or plain_dataset(t[4], t[5])):
        return t
    t = <tuple>history_row(t, index, size)
    if not fill_fetched(t, f):
        raise AssertionError(f"history_row passed rows[{index}] unnormalised")
    return t


cdef inline bint plain_dataset(object name, object digest):
    if name is None:
        return digest is None
    return type(name) is str and type(digest) is str


# --- single values ----------------------------------------------------------------------------


def encode_value(value):
    """``(stored value, kind)`` for a metric value: non-finite values are stored as ``0.0``."""
    cdef double number
    if not PyFloat_CheckExact(value):
        value = float_arg(value, "value")
    number = PyFloat_AS_DOUBLE(value)
    if -INFINITY < number < INFINITY:
        return value, KIND_FINITE
    if number != number:
        return ZERO, KIND_NAN
    return ZERO, KIND_POS_INF if number > 0.0 else KIND_NEG_INF


def decode_value(value, kind):
    """The metric value a stored ``(value, kind)`` stands for."""
    if not PyFloat_CheckExact(value):
        value = float_arg(value, "value")
    cdef int code = kind_code(kind)
    if code < 0:
        code = kind_arg(kind, "kind")
    return value if code == K_FINITE else SPECIAL_VALUES[code]


# --- a hash table of points -------------------------------------------------------------------


cdef struct Entry:
    int64_t key_id
    int64_t step
    int64_t timestamp
    double value  # never NaN (stored values are finite); -0.0 equals 0.0, as in SQL
    int64_t kind
    Py_ssize_t row  # for latest_rows: where the winning row is kept


cdef struct Table:
    Entry *entries
    Py_ssize_t count
    Py_ssize_t capacity
    Py_ssize_t *slots  # 0 for an empty slot, else an entry's index + 1
    Py_ssize_t mask  # the number of slots - 1; at most half the slots are used
    bint whole_point  # entries are distinct points; else distinct key ids


cdef inline uint64_t mix(uint64_t h) noexcept nogil:
    # The finalizer of MurmurHash3: every input bit reaches every output bit.
    h ^= h >> 33
    h *= 0xFF51AFD7ED558CCDULL
    h ^= h >> 33
    h *= 0xC4CEB9FE1A85EC53ULL
    return h ^ (h >> 33)


cdef inline uint64_t entry_hash(Table *t, Entry *e) noexcept nogil:
    cdef uint64_t bits = 0
    cdef uint64_t h = mix(<uint64_t>e.key_id)
    if not t.whole_point:
        return h
    if e.value != 0.0:  # +0.0 and -0.0 hash alike
        memcpy(&bits, &e.value, 8)
    h = mix(h ^ <uint64_t>e.step)
    h = mix(h ^ <uint64_t>e.timestamp)
    return mix(h ^ bits ^ (<uint64_t>e.kind << 56))


cdef inline bint same_entry(Table *t, Entry *a, Entry *b) noexcept nogil:
    if not t.whole_point:
        return a.key_id == b.key_id
    return (a.key_id == b.key_id and a.step == b.step and a.timestamp == b.timestamp
            and a.kind == b.kind and a.value == b.value)


cdef int table_init(Table *t, Py_ssize_t expected, bint whole_point) except -1:
    cdef Py_ssize_t slots = 16
    while slots < 2 * expected:
        slots *= 2
    memset(t, 0, sizeof(Table))
    t.whole_point = whole_point
    t.capacity = expected if expected > 8 else 8
    t.entries = <Entry *>PyMem_Malloc(t.capacity * sizeof(Entry))
    t.slots = <Py_ssize_t *>PyMem_Malloc(slots * sizeof(Py_ssize_t))
    if t.entries == NULL or t.slots == NULL:
        raise MemoryError()
    memset(t.slots, 0, slots * sizeof(Py_ssize_t))
    t.mask = slots - 1
    return 0


cdef void table_free(Table *t) noexcept:
    PyMem_Free(t.entries)
    PyMem_Free(t.slots)
    t.entries = NULL
    t.slots = NULL


cdef int table_grow(Table *t) except -1:
    """Room for one more entry, with at most half the slots used."""
    cdef Py_ssize_t size, i, j
    cdef Entry *entries
    cdef Py_ssize_t *slots
    if t.count == t.capacity:
        entries = <Entry *>PyMem_Realloc(t.entries, 2 * t.capacity * sizeof(Entry))
        if entries == NULL:
            raise MemoryError()
        t.entries = entries
        t.capacity *= 2
    if 2 * (t.count + 1) <= t.mask + 1:
        return 0
    size = 2 * (t.mask + 1)
    slots = <Py_ssize_t *>PyMem_Malloc(size * sizeof(Py_ssize_t))
    if slots == NULL:
        raise MemoryError()
    memset(slots, 0, size * sizeof(Py_ssize_t))
    for i in range(t.count):
        j = <Py_ssize_t>(entry_hash(t, &t.entries[i]) & <uint64_t>(size - 1))
        while slots[j]:
            j = (j + 1) & (size - 1)
        slots[j] = i + 1
    PyMem_Free(t.slots)
    t.slots = slots
    t.mask = size - 1
    return 0


cdef Py_ssize_t table_add(Table *t, Entry *probe) except -2:
    """The index of the entry equal to *probe*; or -1, after adding a copy of *probe*."""
    cdef Py_ssize_t j, found
    table_grow(t)
    j = <Py_ssize_t>(entry_hash(t, probe) & <uint64_t>t.mask)
    while t.slots[j]:
        found = t.slots[j] - 1
        if same_entry(t, &t.entries[found], probe):
            return found
        j = (j + 1) & t.mask
    t.entries[t.count] = probe[0]
    t.count += 1
    t.slots[j] = t.count
    return -1


cdef int compare_key_ids(const void *a, const void *b) noexcept nogil:
    cdef int64_t x = (<const Entry *>a).key_id
    cdef int64_t y = (<const Entry *>b).key_id
    return (x > y) - (x < y)


# --- write side -------------------------------------------------------------------------------


cdef extern from "Python.h":
    """
    #include "structmember.h"

    /* A __slots__ attribute is a member descriptor: a PyMemberDef with the slot's offset. */
    static Py_ssize_t trackstore_slot_offset(PyObject *descriptor) {
        PyMemberDef *member;
        if (!PyObject_TypeCheck(descriptor, &PyMemberDescr_Type)) return -1;
        member = ((PyMemberDescrObject *)descriptor)->d_member;
        return member->type == T_OBJECT_EX ? member->offset : -1;
    }
    """
    Py_ssize_t slot_offset "trackstore_slot_offset" (object descriptor)

# Reading a Metric's six attributes is most of metric_rows' work, and a generic getattr costs
# several times what reading the slot does. For an exact Metric -- whose attributes are plain
# __slots__ and which has no __getattribute__ of its own, checked at import -- the slots are
# read at their offsets; any other object, or an empty slot, goes through getattr.
cdef enum:
    M_KEY, M_VALUE, M_TIMESTAMP, M_STEP, M_DATASET_NAME, M_DATASET_DIGEST
cdef tuple METRIC_FIELDS = ("key", "value", "timestamp", "step", "dataset_name",
                            "dataset_digest")
cdef Py_ssize_t METRIC_SLOTS[6]


cdef bint find_metric_slots() except -1:
    cdef Py_ssize_t field
    if Metric.__getattribute__ is not object.__getattribute__:
        return False
    for field in range(6):
        METRIC_SLOTS[field] = slot_offset(Metric.__dict__.get(METRIC_FIELDS[field]))
        if METRIC_SLOTS[field] < 0:
            return False
    return True


cdef bint METRIC_SLOTS_KNOWN = find_metric_slots()


cdef inline object metric_field(object m, bint exact, int field):
    """``getattr(m, METRIC_FIELDS[field])``, read from the slot when *m* is an exact Metric."""
    cdef PyObject *found
    if exact:
        found = (<PyObject **>(<char *>(<PyObject *>m) + METRIC_SLOTS[field]))[0]
        if found != NULL:
            return <object>found
    return getattr(m, METRIC_FIELDS[field])


cdef object int64_item(object obj, Py_ssize_t index, str field, int64_t *out):
    """*obj* as an exact int in int64 range (``metrics[index].field``), its value in *out*."""
    if not exact_int64(obj, out):
        obj = int64_arg(obj, f"metrics[{index}].{field}")
        out[0] = PyLong_AsLongLong(obj)
    return obj


cdef inline object known_id(dict known, object ids, object key, str mapping):
    """``ids[key]``, checked as an int64 the first time *key* is met and then kept in *known*."""
    cdef PyObject *found = PyDict_GetItemWithError(known, key)
    if found != NULL:
        return <object>found
    number = int64_arg(ids[key], f"{mapping}[{key!r}]")
    known[key] = number
    return number


cdef inline bint classify(double number, Entry *point) noexcept nogil:
    """Set *point*'s ``kind`` and stored ``value`` for *number*; False when it is not finite
    (then the stored value is ``0.0``)."""
    if -INFINITY < number < INFINITY:
        point.kind = K_FINITE
        point.value = number
        return True
    point.kind = K_NAN if number != number else (K_POS_INF if number > 0.0 else K_NEG_INF)
    point.value = 0.0
    return False


def metric_rows(run_key, metrics, key_ids, dataset_ids):
    """One row per distinct point of *metrics*, in order; see the pure twin."""
    cdef object run = int64_arg(run_key, "run_key")
    cdef dict known_keys = {}
    cdef dict known_datasets = {}
    cdef list rows = []
    cdef Py_ssize_t index = 0
    cdef object key, key_id, value, timestamp, step, name, digest
    cdef object dataset_id = None
    cdef object last_name = None
    cdef object last_digest = None
    cdef object last_dataset_id = None
    cdef double number
    cdef bint exact
    cdef Entry point
    cdef Table seen
    table_init(&seen, len(metrics) if type(metrics) is list or type(metrics) is tuple else 0,
               True)
    try:
        for m in metrics:
            exact = METRIC_SLOTS_KNOWN and type(m) is Metric
            key = metric_field(m, exact, M_KEY)
            if type(key) is not str:
                key_arg(key, f"metrics[{index}].key")
            key_id = known_id(known_keys, key_ids, key, "key_ids")
            point.key_id = PyLong_AsLongLong(key_id)
            value = metric_field(m, exact, M_VALUE)
            if not PyFloat_CheckExact(value):
                value = float_arg(value, f"metrics[{index}].value")
            number = PyFloat_AS_DOUBLE(value)
            timestamp = int64_item(metric_field(m, exact, M_TIMESTAMP), index, "timestamp",
                                   &point.timestamp)
            step = int64_item(metric_field(m, exact, M_STEP), index, "step", &point.step)
            name = metric_field(m, exact, M_DATASET_NAME)
            digest = metric_field(m, exact, M_DATASET_DIGEST)
            if name is None and digest is None:
                dataset_id = None
            elif name is None or digest is None:
                raise ValueError(
                    f"metrics[{index}]: dataset_name and dataset_digest must be given together"
                )
            elif name is last_name and digest is last_digest:
                dataset_id = last_dataset_id  # the usual batch names one dataset throughout
            else:
                dataset_id = known_id(known_datasets, dataset_ids, (name, digest),
                                      "dataset_ids")
                last_name, last_digest, last_dataset_id = name, digest, dataset_id
            if not classify(number, &point):
                value = ZERO
            if table_add(&seen, &point) < 0:
                rows.append((run, key_id, step, timestamp, value, KIND_OBJECTS[point.kind],
                             dataset_id))
            index += 1
    finally:
        table_free(&seen)
    return rows


def series_rows(run_key, key_id, timestamps, values, steps, dataset_ids):
    """The rows of one metric's columns and the duplicates dropped; see the pure twin."""
    cdef object run = int64_arg(run_key, "run_key")
    cdef object kid = int64_arg(key_id, "key_id")
    cdef Py_ssize_t count = series_length(timestamps, values, steps, dataset_ids)
    cdef const int64_t[::1] ts_view
    cdef const double[::1] value_view
    cdef const int64_t[::1] step_view
    cdef list ids = dataset_ids
    cdef list rows = []
    cdef Py_ssize_t i
    cdef object value, dataset_id
    cdef Entry point
    cdef Table seen
    if count == 0:
        return rows, 0
    ts_view = timestamps
    value_view = values
    step_view = steps
    point.key_id = 0
    table_init(&seen, count, True)
    try:
        for i in range(count):
            classify(value_view[i], &point)
            point.step = step_view[i]
            point.timestamp = ts_view[i]
            if table_add(&seen, &point) >= 0:
                continue
            dataset_id = None
            if ids is not None and ids[i] is not None:
                dataset_id = int64_arg(ids[i], f"dataset_ids[{i}]")
            value = values[i] if point.kind == K_FINITE else ZERO
            rows.append((run, kid, point.step, point.timestamp, value,
                         KIND_OBJECTS[point.kind], dataset_id))
    finally:
        table_free(&seen)
    return rows, count - len(rows)


cdef inline bint is_later(Stored *s, Entry *e) noexcept nogil:
    """``(step, timestamp, kind, value)`` of *s* is greater than *e*'s."""
    if s.step != e.step:
        return s.step > e.step
    if s.timestamp != e.timestamp:
        return s.timestamp > e.timestamp
    if s.kind != e.kind:
        return s.kind > e.kind
    return s.value > e.value


def latest_rows(rows):
    """The latest row of each ``key_id``, sorted by ``key_id``; see the pure twin."""
    cdef object items = as_list(rows)
    cdef list winners = []
    cdef Stored s
    cdef Entry probe
    cdef Entry *best
    cdef Table keys
    cdef Py_ssize_t index = 0
    cdef Py_ssize_t found, i
    cdef int64_t first_run = 0
    table_init(&keys, 0, False)
    try:
        for row in items:
            read_stored(row, index, &s)
            same_run(&s, index, &first_run, "latest_rows")
            probe.key_id = s.key_id
            probe.step = s.step
            probe.timestamp = s.timestamp
            probe.kind = s.kind
            probe.value = s.value
            probe.row = len(winners)
            found = table_add(&keys, &probe)
            if found < 0:
                winners.append(row)
            else:
                best = &keys.entries[found]
                if is_later(&s, best):
                    best.step = s.step
                    best.timestamp = s.timestamp
                    best.kind = s.kind
                    best.value = s.value
                    winners[best.row] = row
            index += 1
        # The slots are not used again, so the entries can be sorted where they are.
        qsort(keys.entries, keys.count, sizeof(Entry), compare_key_ids)
        return [winners[keys.entries[i].row] for i in range(keys.count)]
    finally:
        table_free(&keys)


cdef struct Buffer:
    char *data
    Py_ssize_t size
    Py_ssize_t capacity


cdef int buffer_reserve(Buffer *b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t capacity = b.capacity
    cdef char *grown
    if b.size + extra <= capacity:
        return 0
    while capacity < b.size + extra:
        capacity = capacity * 2 + 256
    grown = <char *>PyMem_Realloc(b.data, capacity)
    if grown == NULL:
        raise MemoryError()
    b.data = grown
    b.capacity = capacity
    return 0


cdef inline Py_ssize_t write_uint(char *out, uint64_t u, Py_ssize_t width) noexcept nogil:
    """*u* in decimal, left-padded with zeros to *width* digits."""
    cdef char digits[20]
    cdef Py_ssize_t n = 20
    while u or n > 20 - width:
        n -= 1
        digits[n] = <char>(48 + u % 10)
        u //= 10
    memcpy(out, digits + n, 20 - n)
    return 20 - n


cdef inline Py_ssize_t write_int(char *out, int64_t v) noexcept nogil:
    if v < 0:
        out[0] = 45  # "-"
        return 1 + write_uint(out + 1, <uint64_t>0 - <uint64_t>v, 1)
    return write_uint(out, <uint64_t>v, 1)


cdef Py_ssize_t write_short_decimal(char *out, double a) noexcept nogil:
    """repr of ``a`` in ``[1e-4, 1e15)`` when at most 15 significant digits read back as it,
    else 0.

    Such a decimal is ``m / 10**k`` with ``m < 10**15``, and it is the only one of that many
    digits that reads back as ``a`` (15-digit decimals are further apart than doubles), so it is
    repr's digits. It is found with ``k`` as large as allows ``m < 10**15``: ``a * 10**k`` is
    then within 0.25 of ``m`` (one rounding, plus ``a``'s own), so rounding gives ``m``; it
    reads back when the correctly rounded ``m / 10**k`` is ``a``; fewer digits are the same
    decimal without its trailing zeros.
    """
    cdef int k = 18
    cdef double m
    cdef uint64_t digits
    cdef Py_ssize_t n
    while k > 0 and a * POW10[k] >= 1e15:
        k -= 1
    m = nearbyint(a * POW10[k])
    if m >= 1e15 or m / POW10[k] != a:
        return 0
    digits = <uint64_t>m
    while k > 0 and digits % 10 == 0:
        digits //= 10
        k -= 1
    n = write_uint(out, digits // POW10_INT[k], 1)
    out[n] = 46  # "."
    if k == 0:
        out[n + 1] = 48
        return n + 2
    return n + 1 + write_uint(out + n + 1, digits % POW10_INT[k], k)


cdef Py_ssize_t write_repr(char *out, double v) except -1:
    """``repr(v)`` for a finite *v*."""
    cdef Py_ssize_t n = 0
    cdef Py_ssize_t k
    cdef double a = -v if signbit(v) else v
    cdef char *text
    if signbit(v):
        out[0] = 45
        n = 1
    if a < 1e16 and a == <double>(<int64_t>a):  # integral, "<digits>.0"
        n += write_uint(out + n, <uint64_t>a, 1)
        out[n] = 46
        out[n + 1] = 48
        return n + 2
    if 1e-4 <= a < 1e15:
        k = write_short_decimal(out + n, a)
        if k:
            return n + k
    text = PyOS_double_to_string(v, c'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    n = <Py_ssize_t>strlen(text)
    memcpy(out, text, n)
    PyMem_Free(text)
    return n


#: The binary COPY signature, flags (int32 0) and header extension length (int32 0).
cdef const char *COPY_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00"
cdef enum:
    # A binary COPY row at most: the field count, then 7 lengths and 8+4+8+8+8+2+4 bytes.
    BINARY_ROW = 2 + 7 * 4 + 42


cdef enum Format:
    COPY_TEXT
    VALUES_SQL


cdef inline char *put(char *p, const char *text, Py_ssize_t n) noexcept nogil:
    memcpy(p, text, n)
    return p + n


cdef int fill_buffer(object rows, Format how, Buffer *b) except -1:
    cdef object items = as_list(rows)
    cdef Stored s
    cdef Py_ssize_t index = 0
    cdef char *p
    cdef char sep = 9 if how == COPY_TEXT else 44  # tab or comma
    b.capacity = 64 * len(items) + 256
    b.data = <char *>PyMem_Malloc(b.capacity)
    if b.data == NULL:
        raise MemoryError()
    for row in items:
        read_stored(row, index, &s)
        buffer_reserve(b, MAX_ROW)
        p = b.data + b.size
        if how == VALUES_SQL:
            if index:
                p[0] = 44
                p += 1
            p[0] = 40  # "("
            p += 1
        p += write_int(p, s.run_key)
        p[0] = sep
        p += 1 + write_int(p + 1, s.key_id)
        p[0] = sep
        p += 1 + write_int(p + 1, s.step)
        p[0] = sep
        p += 1 + write_int(p + 1, s.timestamp)
        p[0] = sep
        p += 1 + write_repr(p + 1, s.value)
        p[0] = sep
        p[1] = <char>(48 + s.kind)
        p[2] = sep
        p += 3
        if s.has_dataset:
            p += write_int(p, s.dataset_id)
        elif how == COPY_TEXT:
            p = put(p, b"\\N", 2)
        else:
            p = put(p, b"NULL", 4)
        p[0] = 10 if how == COPY_TEXT else 41  # "\n" or ")"
        b.size = p + 1 - b.data
        index += 1
    return 0


cdef object write_rows(object rows, Format how):
    cdef Buffer b
    memset(&b, 0, sizeof(Buffer))
    try:
        fill_buffer(rows, how, &b)
        if how == COPY_TEXT:
            return PyBytes_FromStringAndSize(b.data, b.size)
        return PyUnicode_DecodeASCII(b.data, b.size, NULL)
    finally:
        PyMem_Free(b.data)


def copy_text(rows):
    """The rows in PostgreSQL's COPY text format; see the pure twin."""
    return write_rows(rows, COPY_TEXT)


def values_sql(rows):
    """The rows as the body of a MySQL multi-row ``VALUES`` list; see the pure twin."""
    return write_rows(rows, VALUES_SQL)


cdef inline char *put_be(char *p, uint64_t v, int width) noexcept nogil:
    """The low *width* bytes of *v*, most significant first."""
    cdef int i
    for i in range(width):
        p[i] = <char>(v >> (8 * (width - 1 - i)))
    return p + width


cdef inline char *put_field(char *p, uint64_t v, int width) noexcept nogil:
    """A binary COPY field: its length (int32), then *v* in *width* bytes."""
    return put_be(put_be(p, <uint64_t>width, 4), v, width)


cdef int int32_field(int64_t v, Py_ssize_t index, str field) except -1:
    if not -2147483648 <= v <= 2147483647:
        raise OverflowError(f"rows[{index}].{field} out of int32 range")
    return 0


def copy_binary(rows):
    """The rows in PostgreSQL's binary COPY format; see the pure twin."""
    cdef object items = as_list(rows)
    cdef Stored s
    cdef Py_ssize_t index = 0
    cdef Buffer b
    cdef char *p
    cdef uint64_t bits
    memset(&b, 0, sizeof(Buffer))
    try:
        buffer_reserve(&b, 19 + BINARY_ROW * len(items) + 2)
        memcpy(b.data, COPY_BINARY_HEADER, 19)
        b.size = 19
        for row in items:
            read_stored(row, index, &s)
            int32_field(s.key_id, index, "key_id")
            if s.has_dataset:
                int32_field(s.dataset_id, index, "dataset_id")
            buffer_reserve(&b, BINARY_ROW)
            p = put_be(b.data + b.size, 7, 2)
            p = put_field(p, <uint64_t>s.run_key, 8)
            p = put_field(p, <uint64_t>s.key_id, 4)
            p = put_field(p, <uint64_t>s.step, 8)
            p = put_field(p, <uint64_t>s.timestamp, 8)
            memcpy(&bits, &s.value, 8)
            p = put_field(p, bits, 8)
            p = put_field(p, <uint64_t>s.kind, 2)
            if s.has_dataset:
                p = put_field(p, <uint64_t>s.dataset_id, 4)
            else:
                p = put_be(p, 0xFFFFFFFF, 4)  # NULL: length -1
            b.size = p - b.data
            index += 1
        buffer_reserve(&b, 2)
        put_be(b.data + b.size, 0xFFFF, 2)  # the trailer: a field count of -1
        return PyBytes_FromStringAndSize(b.data, b.size + 2)
    finally:
        PyMem_Free(b.data)


def bind_params(rows):
    """The rows as one multi-row insert's parameters, the run key bound once; see the pure
    twin."""
    cdef object items = as_list(rows)
    cdef list checked = []
    cdef list params
    cdef tuple t
    cdef Stored s
    cdef Py_ssize_t index = 0
    cdef Py_ssize_t width, k, j
    cdef int64_t first_run = 0
    cdef bint with_dataset = False
    for row in items:
        t = read_stored(row, index, &s)
        same_run(&s, index, &first_run, "bind_params")
        with_dataset = with_dataset or s.has_dataset
        checked.append(t)
        index += 1
    if index == 0:
        return [], False
    width = 6 if with_dataset else 5
    params = [None] * (1 + width * index)
    params[0] = (<tuple>checked[0])[0]
    k = 1
    for t in checked:
        for j in range(1, 1 + width):
            params[k] = t[j]
            k += 1
    return params, with_dataset


# --- read side --------------------------------------------------------------------------------


def history_columns(rows):
    """A fetched history ``(step, timestamp, value, kind)`` as columns; see the pure twin."""
    cdef object items = as_list(rows)
    cdef Py_ssize_t capacity = len(items)
    cdef Py_ssize_t count = 0
    cdef Fetched f
    cdef array steps = clone(_INT64S, capacity, False)
    cdef array timestamps = clone(_INT64S, capacity, False)
    cdef array values = clone(_DOUBLES, capacity, False)
    for row in items:
        if count == capacity:  # only if the list grew while it was read
            capacity = capacity * 2 + 16
            resize(steps, capacity)
            resize(timestamps, capacity)
            resize(values, capacity)
        read_fetched(row, count, 4, &f)
        steps.data.as_longlongs[count] = f.step
        timestamps.data.as_longlongs[count] = f.timestamp
        values.data.as_doubles[count] = f.value
        count += 1
    if count != capacity:
        resize(steps, count)
        resize(timestamps, count)
        resize(values, count)
    return HistoryColumns(steps, timestamps, values)


def history_metrics(key, rows):
    """One ``Metric`` per fetched row ``(step, timestamp, value, kind, dataset_name,
    dataset_digest)``; see the pure twin."""
    cdef object name = key if type(key) is str else key_arg(key, "key")
    cdef object items = as_list(rows)
    cdef list points = []
    cdef Py_ssize_t index = 0
    cdef Fetched f
    cdef tuple t
    for row in items:
        t = read_fetched(row, index, 6, &f)
        points.append(Metric(name, t[2] if f.kind == K_FINITE else SPECIAL_VALUES[f.kind],
                             t[1], t[0], None, t[4], t[5]))
        index += 1
    return points
