# cython: boundscheck=False, wraparound=False, initializedcheck=False
"""``meta.yaml`` documents: the compiled twin of :mod:`trackstore._yamlio_py` (the spec).

``load`` drives LibYAML's event parser and builds the Python value directly from the events
(no PyYAML, no node graph); ``dump`` feeds LibYAML's emitter events whose scalar style was
already chosen by the same rule as the pure twin, so LibYAML never overrides it. Plain scalars
are resolved here when the answer is cheap to see (strings, ``null``, booleans, short decimal
integers) and by the pure twin's :func:`~trackstore._yamlio_py.resolve_plain` otherwise, so
both twins resolve, and fail, identically.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_SetItem
from cpython.list cimport PyList_Append
from cpython.long cimport PyLong_FromLongLong
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcmp, memcpy

from trackstore.libyaml cimport *

from collections.abc import Mapping

from trackstore._yamlio_py import (
    MAX_DEPTH,
    MSG_ANCHORS,
    MSG_MULTIPLE_DOCUMENTS,
    MSG_NON_SCALAR_KEY,
    MSG_NOT_UTF8,
    MSG_NOT_YAML,
    MSG_TAGS,
    depth_message,
    dump_type_message,
    float_text,
    key_type_message,
    load_type_message,
    plain_is_str,
    resolve_plain,
    surrogate_message,
)
from trackstore.exceptions import MalformedYamlError

__all__ = ["dump", "load"]

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object text, Py_ssize_t *size) except NULL
    object PyNumber_ToBase(object number, int base)


# --- load --------------------------------------------------------------------------------

cdef class _Collection:
    """A mapping or sequence being built (same role as the pure twin's ``_Collection``)."""

    cdef object value
    cdef object key
    cdef bint is_mapping
    cdef bint key_done

    def __cinit__(self, value, bint is_mapping):
        self.value = value
        self.is_mapping = is_mapping
        self.key = None
        self.key_done = False


cdef object _BAD_KEY = object()


cdef str _mark(yaml_mark_t mark):
    return f"line {mark.line + 1}, column {mark.column + 1}"


cdef str _parser_problem(yaml_parser_t *parser):
    cdef str text
    if parser.error == YAML_MEMORY_ERROR:
        return "LibYAML ran out of memory"
    problem = parser.problem.decode("utf-8", "replace") if parser.problem != NULL else "?"
    if parser.error == YAML_READER_ERROR:
        text = f"{problem} (#x{parser.problem_value:X}) at byte {parser.problem_offset}"
    else:
        text = f"{problem} at {_mark(parser.problem_mark)}"
    if parser.context != NULL:
        text = f"{parser.context.decode('utf-8', 'replace')}: {text}"
    return text


cdef bint _is_utf8(const unsigned char *p, Py_ssize_t n) noexcept nogil:
    """Strict UTF-8 as CPython decodes it: no overlong forms, surrogates or code points past
    U+10FFFF. Checked here without building a str; CPython's decoder then explains failures."""
    cdef Py_ssize_t i = 0
    cdef unsigned char c, c1
    while i < n:
        c = p[i]
        if c < 0x80:
            i += 1
        elif c < 0xC2 or c > 0xF4:
            return False
        elif c < 0xE0:
            if i + 1 >= n or (p[i + 1] & 0xC0) != 0x80:
                return False
            i += 2
        elif c < 0xF0:
            if i + 2 >= n:
                return False
            c1 = p[i + 1]
            if (c1 & 0xC0) != 0x80 or (p[i + 2] & 0xC0) != 0x80:
                return False
            if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 >= 0xA0):
                return False
            i += 3
        else:
            if i + 3 >= n:
                return False
            c1 = p[i + 1]
            if (c1 & 0xC0) != 0x80 or (p[i + 2] & 0xC0) != 0x80 or (p[i + 3] & 0xC0) != 0x80:
                return False
            if (c == 0xF0 and c1 < 0x90) or (c == 0xF4 and c1 >= 0x90):
                return False
            i += 4
    return True


cdef inline bint _only(const unsigned char *p, Py_ssize_t n, const char *word) noexcept nogil:
    """The scalar is exactly *word* (a NUL-terminated ASCII literal)."""
    cdef Py_ssize_t i
    for i in range(n):
        if word[i] == 0 or <unsigned char>word[i] != p[i]:
            return False
    return word[n] == 0


cdef object _NO_FAST_ANSWER = object()


cdef object _resolve_fast(const unsigned char *p, Py_ssize_t n):
    """The value of a plain scalar when it is cheap to see, else ``_NO_FAST_ANSWER``.

    Mirrors :func:`trackstore._yamlio_py.resolve_plain`: returns ``None``/``True``/``False``
    for the exact null and bool spellings, an ``int`` for short decimals without ``_``, and
    the string itself when no YAML 1.1 pattern can match it.
    """
    cdef unsigned char c = p[0]
    cdef Py_ssize_t i, start
    cdef long long number
    if c == c'~':
        return None if n == 1 else _text(p, n)
    if c == c'n' or c == c'N':
        if _only(p, n, b"null") or _only(p, n, b"Null") or _only(p, n, b"NULL"):
            return None
        if _only(p, n, b"no") or _only(p, n, b"No") or _only(p, n, b"NO"):
            return False
        return _text(p, n)
    if c == c'y' or c == c'Y':
        if _only(p, n, b"yes") or _only(p, n, b"Yes") or _only(p, n, b"YES"):
            return True
        return _text(p, n)
    if c == c't' or c == c'T':
        if _only(p, n, b"true") or _only(p, n, b"True") or _only(p, n, b"TRUE"):
            return True
        return _text(p, n)
    if c == c'f' or c == c'F':
        if _only(p, n, b"false") or _only(p, n, b"False") or _only(p, n, b"FALSE"):
            return False
        return _text(p, n)
    if c == c'o' or c == c'O':
        if _only(p, n, b"on") or _only(p, n, b"On") or _only(p, n, b"ON"):
            return True
        if _only(p, n, b"off") or _only(p, n, b"Off") or _only(p, n, b"OFF"):
            return False
        return _text(p, n)
    if c'0' <= c <= c'9' or c == c'-' or c == c'+':
        start = 1 if (c == c'-' or c == c'+') else 0
        if c == c'-' and n > 1 and c'1' <= p[1] <= c'9' and n <= 19 or (
            c'1' <= c <= c'9' and n <= 18
        ):
            # [-]?[1-9][0-9]* fits a long long; leading-0 forms are octal, left to Python.
            number = 0
            for i in range(start, n):
                if not (c'0' <= p[i] <= c'9'):
                    break
                number = number * 10 + (p[i] - c'0')
            else:
                return PyLong_FromLongLong(-number if c == c'-' else number)
        if c == c'0' and n == 1:
            return 0
        if start and (n == 1 or not (c'0' <= p[1] <= c'9' or p[1] == c'.')):
            return _text(p, n)
        if p[start] == c'.':
            return _NO_FAST_ANSWER
        if n > start + 1 and p[start] == c'0' and (p[start + 1] == c'x' or p[start + 1] == c'b'):
            return _NO_FAST_ANSWER
        # Past an optional sign and a digit, only these characters occur in ints, floats
        # (other than .inf/.nan, which start with '.') and timestamps.
        for i in range(start, n):
            c = p[i]
            if not (c'0' <= c <= c'9' or c == c'_' or c == c'.' or c == c':' or c == c'-'
                    or c == c'+' or c == c'e' or c == c'E' or c == c'T' or c == c't'
                    or c == c'Z' or c == c' ' or c == c'\t'):
                return _text(p, n)
        return _NO_FAST_ANSWER
    if c == c'.' or c == c'<' or c == c'=':
        return _NO_FAST_ANSWER
    return _text(p, n)


cdef inline str _text(const unsigned char *p, Py_ssize_t n):
    return PyUnicode_DecodeUTF8(<const char *>p, n, NULL)


# --- the flat fast path ------------------------------------------------------------------
#
# Nearly every meta.yaml is a flat block mapping, one "key: value" line per field, as PyYAML
# and trackstore write it. Such a document is read here directly; anything else (nesting,
# comments, quotes with escapes, continuation lines, special characters) returns
# _NO_FAST_ANSWER and goes through LibYAML. The accepted language is small on purpose: for it
# the result is the one LibYAML's path gives (hypothesis checks both against the pure twin).

cdef inline bint _is_key_char(unsigned char c) noexcept nogil:
    return c == c'_' or c'a' <= c <= c'z' or c'0' <= c <= c'9'


cdef bint _plain_key(const unsigned char *p, Py_ssize_t n) noexcept nogil:
    """A lowercase identifier that YAML 1.1 resolves to itself (not a bool or null)."""
    if n == 0 or n > 128 or not (p[0] == c'_' or c'a' <= p[0] <= c'z'):
        return False
    return not (_only(p, n, b"yes") or _only(p, n, b"no") or _only(p, n, b"true")
                or _only(p, n, b"false") or _only(p, n, b"on") or _only(p, n, b"off")
                or _only(p, n, b"null"))


cdef bint _special_utf8(const unsigned char *p, Py_ssize_t n) noexcept nogil:
    """Code points YAML treats as breaks, BOM or non-printable: C1 controls, NEL, LS, PS,
    U+FEFF, U+FFFE/U+FFFF (input is valid UTF-8 already)."""
    cdef Py_ssize_t i
    for i in range(n - 1):
        if p[i] == 0xC2 and p[i + 1] <= 0x9F:
            return True
        if i + 2 < n and (
            (p[i] == 0xE2 and p[i + 1] == 0x80 and (p[i + 2] == 0xA8 or p[i + 2] == 0xA9))
            or (p[i] == 0xEF and p[i + 1] == 0xBB and p[i + 2] == 0xBF)
            or (p[i] == 0xEF and p[i + 1] == 0xBF and (p[i + 2] == 0xBE or p[i + 2] == 0xBF))
        ):
            return True
    return False


cdef bint _plain_value(const unsigned char *p, Py_ssize_t n) noexcept nogil:
    """Safe as a one-line block plain scalar: no indicator first, no ": " or " #", no tab,
    no control character, no trailing space or colon."""
    cdef unsigned char c = p[0]
    cdef Py_ssize_t i
    if c in b"-?:,[]{}#&*!|>'\"%@` ":
        return False
    if p[n - 1] == c' ' or p[n - 1] == c':':
        return False
    for i in range(n):
        c = p[i]
        if c < 0x20 or c == 0x7F:
            return False
        if c == c':' and p[i + 1] == c' ':
            return False
        if c == c'#' and p[i - 1] == c' ':
            return False
    return True


cdef object _single_quoted(const unsigned char *p, Py_ssize_t n):
    """The text of a one-line ASCII-printable '...' scalar ('' is a quote), or _NO_FAST_ANSWER."""
    cdef Py_ssize_t i = 1
    cdef bytearray out
    if n < 2 or p[n - 1] != c"'":
        return _NO_FAST_ANSWER
    for i in range(1, n - 1):
        if not (0x20 <= p[i] <= 0x7E):
            return _NO_FAST_ANSWER
    if memchr(p + 1, c"'", n - 2) == NULL:
        return _text(p + 1, n - 2)
    out = bytearray()
    i = 1
    while i < n - 1:
        if p[i] == c"'":
            if i + 1 < n - 1 and p[i + 1] == c"'":
                out.append(39)
                i += 2
                continue
            return _NO_FAST_ANSWER  # a lone quote ends the scalar early: let LibYAML judge
        out.append(p[i])
        i += 1
    return out.decode("ascii")


cdef object _load_flat(const unsigned char *p, Py_ssize_t n):
    cdef dict out = {}
    cdef Py_ssize_t i = 0, start, end, key_len, length
    cdef const unsigned char *newline
    cdef object value
    if n == 0 or p[n - 1] != 10:
        return _NO_FAST_ANSWER
    while i < n:
        start = i
        while _is_key_char(p[i]):
            i += 1
        key_len = i - start
        if not _plain_key(p + start, key_len) or p[i] != c':' or p[i + 1] != c' ':
            return _NO_FAST_ANSWER
        i += 2
        newline = <const unsigned char *>memchr(p + i, 10, n - i)
        end = newline - p
        length = end - i
        if length == 0:
            return _NO_FAST_ANSWER
        if p[i] == c"'":
            value = _single_quoted(p + i, length)
        elif length == 2 and p[i] == c'[' and p[i + 1] == c']':
            value = []
        elif length == 2 and p[i] == c'{' and p[i + 1] == c'}':
            value = {}
        elif _plain_value(p + i, length) and not _special_utf8(p + i, length):
            value = _resolve_fast(p + i, length)
            if value is _NO_FAST_ANSWER:
                try:
                    value = resolve_plain(_text(p + i, length))
                except MalformedYamlError:
                    return _NO_FAST_ANSWER  # LibYAML's path decides which error is reported
        else:
            return _NO_FAST_ANSWER
        if value is _NO_FAST_ANSWER:
            return _NO_FAST_ANSWER
        out[_text(p + start, key_len)] = value
        i = end + 1
    return out


def load(data):
    """Parse one YAML document from UTF-8 *data* as SafeLoader would (see the pure twin)."""
    if not isinstance(data, bytes):
        raise TypeError(load_type_message(data))
    cdef const unsigned char *buffer = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    if not _is_utf8(buffer, size):
        # CPython's decoder is the pure twin's, so the same inputs fail with the same detail.
        try:
            PyUnicode_DecodeUTF8(<const char *>buffer, size, NULL)
        except UnicodeDecodeError as exc:
            raise MalformedYamlError(MSG_NOT_UTF8, str(exc)) from None
    cdef object flat = _load_flat(buffer, size)
    if flat is not _NO_FAST_ANSWER:
        return flat
    cdef yaml_parser_t parser
    if not yaml_parser_initialize(&parser):
        raise MemoryError("LibYAML could not allocate a parser")
    try:
        yaml_parser_set_input_string(&parser, buffer, <size_t>size)
        return _compose(&parser)
    finally:
        yaml_parser_delete(&parser)


cdef object _compose(yaml_parser_t *parser):
    cdef yaml_event_t event
    cdef yaml_event_type_t kind
    cdef list stack = []
    cdef _Collection top
    cdef object value
    cdef object root = None
    cdef object error = None
    cdef bint anchor
    cdef bint tag
    cdef int documents = 0
    cdef const unsigned char *text
    cdef Py_ssize_t length
    while True:
        if not yaml_parser_parse(parser, &event):
            raise MalformedYamlError(MSG_NOT_YAML, _parser_problem(parser))
        kind = event.type
        try:
            if kind == YAML_SCALAR_EVENT:
                text = event.data.scalar.value
                length = <Py_ssize_t>event.data.scalar.length
                if error is not None:
                    value = None
                elif event.data.scalar.anchor != NULL:
                    error = MalformedYamlError(MSG_ANCHORS, f"anchor at {_mark(event.start_mark)}")
                    value = None
                elif event.data.scalar.tag != NULL:
                    error = MalformedYamlError(MSG_TAGS, f"tag at {_mark(event.start_mark)}")
                    value = None
                elif event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE:
                    if length == 0:
                        value = None
                    else:
                        value = _resolve_fast(text, length)
                        if value is _NO_FAST_ANSWER:
                            try:
                                value = resolve_plain(_text(text, length))
                            except MalformedYamlError as exc:
                                error = exc
                else:
                    value = _text(text, length)
            elif kind == YAML_MAPPING_START_EVENT or kind == YAML_SEQUENCE_START_EVENT:
                if kind == YAML_MAPPING_START_EVENT:
                    anchor = event.data.mapping_start.anchor != NULL
                    tag = event.data.mapping_start.tag != NULL
                else:
                    anchor = event.data.sequence_start.anchor != NULL
                    tag = event.data.sequence_start.tag != NULL
                if error is None:
                    if anchor:
                        error = MalformedYamlError(MSG_ANCHORS, f"anchor at {_mark(event.start_mark)}")
                    elif tag:
                        error = MalformedYamlError(MSG_TAGS, f"tag at {_mark(event.start_mark)}")
                    elif stack:
                        top = <_Collection>stack[len(stack) - 1]
                        if top.is_mapping and not top.key_done:
                            error = MalformedYamlError(
                                MSG_NON_SCALAR_KEY, f"collection key at {_mark(event.start_mark)}"
                            )
                if kind == YAML_MAPPING_START_EVENT:
                    stack.append(_Collection({}, True))
                else:
                    stack.append(_Collection([], False))
                continue
            elif kind == YAML_MAPPING_END_EVENT or kind == YAML_SEQUENCE_END_EVENT:
                value = (<_Collection>stack.pop()).value
                if stack:
                    top = <_Collection>stack[len(stack) - 1]
                    if top.is_mapping and not top.key_done:
                        value = _BAD_KEY
            elif kind == YAML_ALIAS_EVENT:
                if error is None:
                    error = MalformedYamlError(MSG_ANCHORS, f"alias at {_mark(event.start_mark)}")
                value = None
            elif kind == YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 and error is None:
                    error = MalformedYamlError(
                        MSG_MULTIPLE_DOCUMENTS, f"document at {_mark(event.start_mark)}"
                    )
                continue
            elif kind == YAML_STREAM_END_EVENT:
                break
            else:
                continue
        finally:
            yaml_event_delete(&event)
        if not stack:
            if documents == 1:
                root = value
            continue
        top = <_Collection>stack[len(stack) - 1]
        if not top.is_mapping:
            PyList_Append(top.value, value)
        elif not top.key_done:
            top.key = value
            top.key_done = True
        else:
            if top.key is not _BAD_KEY:
                PyDict_SetItem(top.value, top.key, value)
            top.key_done = False
    if error is not None:
        raise error
    return root


# --- dump --------------------------------------------------------------------------------

cdef struct _Output:
    char *data
    size_t size
    size_t capacity
    bint failed


cdef int _write(void *target, unsigned char *chunk, size_t size) noexcept nogil:
    # LibYAML's output callback; plain C allocation, as it may not raise.
    cdef _Output *out = <_Output *>target
    cdef size_t capacity
    cdef char *grown
    if out.size + size > out.capacity:
        capacity = out.capacity * 2 if out.capacity else 1024
        while capacity < out.size + size:
            capacity *= 2
        grown = <char *>realloc(out.data, capacity)
        if grown == NULL:
            out.failed = True
            return 0
        out.data = grown
        out.capacity = capacity
    memcpy(out.data + out.size, chunk, size)
    out.size += size
    return 1


cdef enum:
    PLAIN = 0
    SINGLE = 1
    DOUBLE = 2


cdef int _scalar_style(const unsigned char *p, Py_ssize_t n, str text) except -1:
    """The pure twin's ``scalar_style`` on UTF-8 bytes (see its docstring for the rule)."""
    cdef Py_ssize_t i
    cdef unsigned char c, c1, c2
    cdef bint plain = True
    if n == 0:
        return SINGLE
    # Line breaks and everything LibYAML does not call printable need double quotes.
    i = 0
    while i < n:
        c = p[i]
        if c < 0x80:
            if c < 0x20 or c == 0x7F:
                return DOUBLE
            i += 1
        elif c < 0xE0:
            if c == 0xC2 and p[i + 1] < 0xA0:
                return DOUBLE
            i += 2
        elif c < 0xF0:
            c1 = p[i + 1]
            c2 = p[i + 2]
            if c == 0xE2 and c1 == 0x80 and (c2 == 0xA8 or c2 == 0xA9):
                return DOUBLE
            if c == 0xEF and ((c1 == 0xBB and c2 == 0xBF) or (c1 == 0xBF and c2 >= 0xBE)):
                return DOUBLE
            i += 3
        else:
            return DOUBLE
    # LibYAML's block-plain rule: no leading/trailing space, no indicator that would be read
    # as syntax.
    c = p[0]
    if c == c' ' or p[n - 1] == c' ':
        plain = False
    elif n >= 3 and (memcmp(p, b"---", 3) == 0 or memcmp(p, b"...", 3) == 0):
        plain = False
    elif (c == c'#' or c == c',' or c == c'[' or c == c']' or c == c'{' or c == c'}'
            or c == c'&' or c == c'*' or c == c'!' or c == c'|' or c == c'>' or c == c'\''
            or c == c'"' or c == c'%' or c == c'@' or c == c'`'):
        plain = False
    elif (c == c'?' or c == c':' or c == c'-') and (n == 1 or p[1] == c' '):
        plain = False
    else:
        for i in range(1, n):
            c = p[i]
            if c == c':' and (i == n - 1 or p[i + 1] == c' '):
                plain = False
                break
            if c == c'#' and p[i - 1] == c' ':
                plain = False
                break
    if plain:
        value = _resolve_fast(p, n)
        if value is _NO_FAST_ANSWER:
            if plain_is_str(text):
                return PLAIN
        elif isinstance(value, str):
            return PLAIN
    return SINGLE


cdef class _Dumper:
    cdef yaml_emitter_t emitter
    cdef yaml_event_t event
    cdef _Output out

    def __cinit__(self):
        self.out.data = NULL
        self.out.size = self.out.capacity = 0
        self.out.failed = False
        if not yaml_emitter_initialize(&self.emitter):
            raise MemoryError("LibYAML could not allocate an emitter")
        yaml_emitter_set_output(&self.emitter, _write, &self.out)
        yaml_emitter_set_unicode(&self.emitter, 1)
        yaml_emitter_set_width(&self.emitter, -1)
        yaml_emitter_set_indent(&self.emitter, 2)

    def __dealloc__(self):
        yaml_emitter_delete(&self.emitter)
        free(self.out.data)

    cdef int emit(self) except -1:
        if not yaml_emitter_emit(&self.emitter, &self.event):
            if self.out.failed:
                raise MemoryError("out of memory while writing YAML")
            problem = "?"
            if self.emitter.problem != NULL:
                problem = self.emitter.problem.decode("utf-8", "replace")
            raise RuntimeError(f"LibYAML's emitter failed: {problem}")
        return 0

    cdef int scalar(self, const char *p, Py_ssize_t n, int style) except -1:
        cdef yaml_scalar_style_t libyaml_style = YAML_PLAIN_SCALAR_STYLE
        if style == SINGLE:
            libyaml_style = YAML_SINGLE_QUOTED_SCALAR_STYLE
        elif style == DOUBLE:
            libyaml_style = YAML_DOUBLE_QUOTED_SCALAR_STYLE
        if n > 0x7FFFFFFF:
            raise ValueError("cannot write a string longer than 2 GiB")
        if not yaml_scalar_event_initialize(
            &self.event, NULL, NULL, <const yaml_char_t *>p, <int>n, 1, 1, libyaml_style
        ):
            raise MemoryError("LibYAML could not allocate an event")
        return self.emit()

    cdef int text(self, str value) except -1:
        cdef Py_ssize_t n
        cdef const char *p
        try:
            p = PyUnicode_AsUTF8AndSize(value, &n)
        except UnicodeEncodeError:
            raise ValueError(surrogate_message()) from None
        return self.scalar(p, n, _scalar_style(<const unsigned char *>p, n, value))

    cdef int word(self, bytes value) except -1:
        return self.scalar(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value), PLAIN)

    cdef int node(self, object value, int depth) except -1:
        if isinstance(value, str):
            return self.text(value)
        if value is None:
            return self.word(b"null")
        if value is True:
            return self.word(b"true")
        if value is False:
            return self.word(b"false")
        if isinstance(value, int):
            return self.word(PyNumber_ToBase(value, 10).encode("ascii"))
        if isinstance(value, float):
            return self.word(float_text(value).encode("ascii"))
        if isinstance(value, (dict, Mapping)):
            return self.mapping(value, depth)
        if isinstance(value, (list, tuple)):
            return self.sequence(value, depth)
        raise TypeError(dump_type_message(value))

    cdef int mapping(self, object value, int depth) except -1:
        if depth > MAX_DEPTH:
            raise ValueError(depth_message())
        keys = []
        for key in value:
            if not isinstance(key, str):
                raise TypeError(key_type_message(key))
            keys.append(key)
        keys.sort()
        if not yaml_mapping_start_event_initialize(
            &self.event, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE
        ):
            raise MemoryError("LibYAML could not allocate an event")
        self.emit()
        for key in keys:
            self.text(key)
            self.node(value[key], depth + 1)
        yaml_mapping_end_event_initialize(&self.event)
        return self.emit()

    cdef int sequence(self, object value, int depth) except -1:
        if depth > MAX_DEPTH:
            raise ValueError(depth_message())
        if not yaml_sequence_start_event_initialize(
            &self.event, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE
        ):
            raise MemoryError("LibYAML could not allocate an event")
        self.emit()
        for item in value:
            self.node(item, depth + 1)
        yaml_sequence_end_event_initialize(&self.event)
        return self.emit()

    cdef bytes run(self, object data):
        yaml_stream_start_event_initialize(&self.event, YAML_UTF8_ENCODING)
        self.emit()
        yaml_document_start_event_initialize(&self.event, NULL, NULL, NULL, 1)
        self.emit()
        self.mapping(data, 0)
        yaml_document_end_event_initialize(&self.event, 1)
        self.emit()
        yaml_stream_end_event_initialize(&self.event)
        self.emit()
        if not yaml_emitter_flush(&self.emitter):
            raise MemoryError("out of memory while writing YAML")
        return PyBytes_FromStringAndSize(self.out.data, <Py_ssize_t>self.out.size)


def dump(data):
    """Write *data* as a block-style YAML document (see the pure twin for the layout)."""
    if not isinstance(data, (dict, Mapping)):
        raise TypeError(dump_type_message(data, top=True))
    return _Dumper().run(data)
