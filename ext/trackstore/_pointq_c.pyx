# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""Points queued for asynchronous logging, compiled twin of :mod:`trackstore._pointq_py`, whose
docstring is the spec.

Same class, same results. The checks are C type checks and C comparisons; a point costs one
tuple. Where the pure twin takes a lock of its own, this twin relies on the GIL: each method
makes every object it needs first (an allocation may start a garbage collection, which may run
Python code and let another thread in), then reads and changes the queue's state in a
*critical section* of C calls that run no Python code and never let the GIL go: a lookup in
the entries' dict (exact ``str`` keys, whose hash and comparison are C), ``list`` appends and
extends by a ``list`` (which may grow the list's memory, never start a collection), and C
integer arithmetic. No other thread can observe or change the queue in between. A reference
dropped in a critical section is never the last one (the dict still holds what is read from
it), so no object is freed there either.
"""

cimport cython
from cpython.dict cimport PyDict_GetItemWithError, PyDict_Next
from cpython.float cimport PyFloat_CheckExact
from cpython.list cimport PyList_Append, PyList_GET_SIZE, PyList_SetSlice
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact, PyLong_FromLongLong
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdint cimport int64_t
from posix.time cimport CLOCK_REALTIME, clock_gettime, timespec

from trackstore._pointq_py import PointRow

__all__ = ["PointQueue", "PointRow"]


cdef object _now_ms():
    cdef timespec now
    clock_gettime(CLOCK_REALTIME, &now)
    return PyLong_FromLongLong(<int64_t>now.tv_sec * 1000 + now.tv_nsec // 1000000)


cdef object _timestamp(object timestamp):
    """The point's timestamp, or None if it is not plain."""
    cdef int overflow = 0
    cdef long long v
    if timestamp is None:
        return _now_ms()
    if not PyLong_CheckExact(timestamp):
        return None
    v = PyLong_AsLongLongAndOverflow(timestamp, &overflow)
    if overflow or v < 0:
        return None
    return timestamp


cdef object _step(object step):
    """The point's step, or None if it is not plain."""
    cdef int overflow = 0
    if step is None:
        return 0
    if not PyLong_CheckExact(step):
        return None
    PyLong_AsLongLongAndOverflow(step, &overflow)
    if overflow:
        return None
    return step


cdef tuple _moment(object timestamp, object step):
    """A point's (timestamp, step), or None if either is not plain."""
    timestamp = _timestamp(timestamp)
    step = _step(step)
    if timestamp is None or step is None:
        return None
    return (timestamp, step)


@cython.auto_pickle(False)
cdef class PointQueue:
    """The open entries of one logger's runs."""

    cdef set _valid_keys
    cdef dict _handles
    cdef public Py_ssize_t count
    cdef public Py_ssize_t room

    def __init__(self, set valid_keys not None):
        self._valid_keys = valid_keys
        self._handles = {}
        self.count = 0
        self.room = 0

    def put(self, run_id, key, value, timestamp, step):
        cdef PyObject* entry
        if not (PyUnicode_CheckExact(run_id) and PyUnicode_CheckExact(key)
                and PyFloat_CheckExact(value)) or key not in self._valid_keys:
            return None
        moment = _moment(timestamp, step)
        if moment is None:
            return None
        row = (key, value, moment[0], moment[1])
        # -- critical section
        entry = PyDict_GetItemWithError(self._handles, run_id)
        if entry is NULL or self.count >= self.room:
            return None
        PyList_Append(<object>PyTuple_GET_ITEM(<object>entry, 1), row)
        self.count += 1
        # -- end of the critical section
        return <object>PyTuple_GET_ITEM(<object>entry, 0)

    def put_many(self, run_id, values, timestamp, step):
        cdef PyObject* entry
        cdef PyObject* key
        cdef PyObject* value
        cdef Py_ssize_t pos = 0
        cdef list rows, queued
        if not (PyUnicode_CheckExact(run_id) and type(values) is dict) or not values:
            return None
        moment = _moment(timestamp, step)
        if moment is None:
            return None
        timestamp, step = moment
        rows = []
        while PyDict_Next(values, &pos, &key, &value):
            # Owned references first: making the row may let another thread in.
            k = <object>key
            v = <object>value
            if not (PyUnicode_CheckExact(k) and PyFloat_CheckExact(v)) \
                    or k not in self._valid_keys:
                return None
            rows.append((k, v, timestamp, step))
        # -- critical section
        entry = PyDict_GetItemWithError(self._handles, run_id)
        if entry is NULL or self.count + PyList_GET_SIZE(rows) > self.room:
            return None
        queued = <list>PyTuple_GET_ITEM(<object>entry, 1)
        PyList_SetSlice(queued, PyList_GET_SIZE(queued), PyList_GET_SIZE(queued), rows)
        self.count += PyList_GET_SIZE(rows)
        # -- end of the critical section
        return <object>PyTuple_GET_ITEM(<object>entry, 0)

    def open(self, str run_id not None, handle, list rows not None):
        entry = (handle, rows)
        self._handles[run_id] = entry  # the run has no entry: nothing is replaced

    def add(self, str run_id not None, list rows not None):
        cdef list queued
        entry = self._handles[run_id]  # KeyError as in the pure twin
        queued = <list>PyTuple_GET_ITEM(entry, 1)
        PyList_SetSlice(queued, PyList_GET_SIZE(queued), PyList_GET_SIZE(queued), rows)
        self.count += PyList_GET_SIZE(rows)
        return <object>PyTuple_GET_ITEM(entry, 0)

    def close(self, str run_id not None):
        self._handles.pop(run_id, None)

    def reset(self, Py_ssize_t room):
        handles = {}
        self.count = 0
        self.room = room
        self._handles = handles  # the old entries are freed after the switch

    def __contains__(self, run_id):
        return run_id in self._handles
