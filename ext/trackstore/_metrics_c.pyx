# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Metric files, compiled twin of :mod:`trackstore._metrics_py`, whose docstring is the spec.

Same functions, same results, same exceptions. Lines are scanned on the raw bytes (digits
eight at a time) and the ``array.array`` columns are filled in place; Python objects are made
only for what is returned.

Numbers must come out bit-identical to ``float()`` and ``repr(float)``. Both are exact
problems, so the shortcuts below are exact too, not approximations: a decimal of at most 19
significant digits times ``10**q`` (``|q| <= 27``) is rounded once from 128-bit integers, and a
double in ``[1e-11, 1e16)`` is written as the shortest decimal that reads back as it (checked by
reading it back), the nearest such, ties to even -- what CPython's dtoa produces. Anything else
goes to CPython's own ``PyOS_string_to_double`` / ``PyOS_double_to_string(..., 'r', ...)``.
Arguments that are not exact ``int``/``float`` go through the pure twin's converters, so the
errors are its errors.
"""

from cpython.array cimport array, clone, resize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.conversion cimport Py_DTSF_ADD_DOT_0, PyOS_double_to_string, PyOS_string_to_double
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy, memset, strlen

from trackstore._metrics_py import (
    REASON_BLANK,
    REASON_DATASET,
    REASON_STEP,
    REASON_TIMESTAMP,
    REASON_VALUE,
    LatestPoint,
    ParsedMetrics,
    dataset_arg,
    float_arg,
    int64_arg,
    key_arg,
    reason_fields,
    row_arg,
)

__all__ = [
    "LatestPoint",
    "ParsedMetrics",
    "count_plain",
    "format_batch",
    "format_line",
    "format_lines",
    "format_rows",
    "from_json_plain",
    "latest",
    "parse",
]

cdef array _INT64S = array("q")
cdef array _DOUBLES = array("d")

cdef enum:
    ST_OK
    ST_BLANK
    ST_FIELDS
    ST_TIMESTAMP
    ST_VALUE
    ST_STEP
    ST_DATASET

ctypedef const unsigned char *cursor

cdef extern from *:
    """
    /* Exact decimal -> double for w * 10**q with w < 2**64 and |q| <= 27, using 128-bit
       integers: 10**q = 5**q * 2**q and 5**27 < 2**64, so the product (q >= 0) is exact and the
       quotient (q < 0) keeps at least 64 bits plus a sticky remainder, enough to round to
       nearest-even exactly once -- the correctly rounded result float() also returns. Results
       stay in the normal range (1e-27 .. 2**155), so ldexp is exact. */
    #include <math.h>
    #include <stdint.h>
    #include <string.h>

    /* Digit runs eight bytes at a time on little-endian machines, a byte at a time elsewhere. */
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
        (defined(__GNUC__) || defined(__clang__))
    #define TRACKSTORE_SWAR 1
    #endif

    /* How many bytes from s (before e) are ASCII digits. */
    static inline Py_ssize_t trackstore_digit_run(const unsigned char *s, const unsigned char *e) {
        const unsigned char *start = s;
    #ifdef TRACKSTORE_SWAR
        while (e - s >= 8) {
            uint64_t x, bad;
            memcpy(&x, s, 8);
            /* A byte is a digit iff its high nibble is 3 and adding 6 keeps it so. Carries
               from a non-digit byte only reach bytes after it, which do not matter. */
            bad = ((x & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL)
                | (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL);
            if (bad) return (s - start) + (__builtin_ctzll(bad) >> 3);
            s += 8;
        }
    #endif
        while (s < e && (unsigned char)(*s - '0') < 10) s++;
        return s - start;
    }

    /* The value of n <= 19 ASCII digits. */
    static inline uint64_t trackstore_digits_value(const unsigned char *s, Py_ssize_t n) {
        uint64_t v = 0;
    #ifdef TRACKSTORE_SWAR
        while (n >= 8) {
            uint64_t x;
            memcpy(&x, s, 8);
            x -= 0x3030303030303030ULL;
            x = (x * 10) + (x >> 8);  /* pairs of digits in every other byte */
            x = (((x & 0x000000FF000000FFULL) * (100 + (1000000ULL << 32)))
                 + (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10000ULL << 32)))) >> 32;
            v = v * 100000000ULL + (uint32_t)x;
            s += 8;
            n -= 8;
        }
    #endif
        while (n-- > 0) v = v * 10 + (uint64_t)(*s++ - '0');
        return v;
    }
    #if defined(__SIZEOF_INT128__)
    static const uint64_t trackstore_pow5[28] = {
        1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL,
        1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL,
        30517578125ULL, 152587890625ULL, 762939453125ULL, 3814697265625ULL,
        19073486328125ULL, 95367431640625ULL, 476837158203125ULL, 2384185791015625ULL,
        11920928955078125ULL, 59604644775390625ULL, 298023223876953125ULL,
        1490116119384765625ULL, 7450580596923828125ULL};

    static int trackstore_round128(unsigned __int128 x, int sticky, int exp2, double *out) {
        uint64_t hi = (uint64_t)(x >> 64);
        int bits = hi ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll((uint64_t)x);
        int shift;
        uint64_t m;
        unsigned __int128 rest, half;
        if (bits <= 53) {
            if (sticky) return 0;
            *out = ldexp((double)(uint64_t)x, exp2);
            return 1;
        }
        shift = bits - 53;
        m = (uint64_t)(x >> shift);
        rest = x & ((((unsigned __int128)1) << shift) - 1);
        half = ((unsigned __int128)1) << (shift - 1);
        if (rest > half || (rest == half && (sticky || (m & 1)))) {
            m += 1;
            if (m == (1ULL << 53)) {
                m >>= 1;
                shift += 1;
            }
        }
        *out = ldexp((double)m, exp2 + shift);
        return 1;
    }

    static int trackstore_decimal_to_double(uint64_t w, int64_t q, double *out) {
        unsigned __int128 n, quotient;
        uint64_t divisor;
        int s;
        if (w == 0 || q > 27 || q < -27) return 0;
        if (q >= 0) return trackstore_round128((unsigned __int128)w * trackstore_pow5[q], 0, (int)q, out);
        divisor = trackstore_pow5[-q];
        s = 63 + __builtin_clzll(w);  /* w << s lies in [2**126, 2**127) */
        n = ((unsigned __int128)w) << s;
        quotient = n / divisor;
        return trackstore_round128(quotient, n != quotient * divisor, (int)(q - s), out);
    }

    /* floor(m * 2**e2 * 10**k) in *whole (it must fit 64 bits) and how the rest compares with
       one half in *half (-1 below, 0 equal, 1 above); exact with 128-bit integers. */
    static int trackstore_scale(uint64_t m, int e2, int k, uint64_t *whole, int *half) {
        unsigned __int128 n, d, q, r;
        int s;
        if (k > 27 || k < -27) return 0;
        if (k >= 0) {
            n = (unsigned __int128)m * trackstore_pow5[k];  /* < 2**116 */
            s = e2 + k;
            if (s >= 0) {
                if (s > 63 || (n >> (64 - s)) != 0) return 0;
                *whole = (uint64_t)(n << s);
                *half = -1;
                return 1;
            }
            if (-s > 120) return 0;
            q = n >> -s;
            r = n & ((((unsigned __int128)1) << -s) - 1);
            d = ((unsigned __int128)1) << -s;
        } else {
            s = e2 + k;  /* m * 2**s / 5**-k */
            if (s > 60 || s < -60) return 0;
            n = s >= 0 ? ((unsigned __int128)m) << s : (unsigned __int128)m;
            d = s >= 0 ? (unsigned __int128)trackstore_pow5[-k]
                       : ((unsigned __int128)trackstore_pow5[-k]) << -s;
            q = n / d;
            r = n - q * d;
        }
        if ((q >> 64) != 0) return 0;
        *whole = (uint64_t)q;
        *half = (r << 1) < d ? -1 : ((r << 1) == d ? 0 : 1);
        return 1;
    }

    /* repr(x) for finite x with 1e-11 <= |x| < 1e16 (the digits Python's dtoa gives: the
       shortest decimal that reads back as x, the nearest to x among those, ties to even),
       written to out; returns its length, or 0 to leave x to PyOS_double_to_string.
       If a decimal of 15 digits or fewer reads back as x, it is x rounded to 15 digits,
       because 15-digit decimals are further apart than a double's rounding interval; else
       the nearest 16-digit decimal, else the nearest 17-digit one, if they read back. */
    static int trackstore_repr_double(double x, char *out) {
        static const uint64_t pow10[18] = {
            1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
            100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
            10000000000000ULL, 100000000000000ULL, 1000000000000000ULL,
            10000000000000000ULL, 100000000000000000ULL};
        uint64_t bits, m, whole, digits_value = 0;
        double ax = fabs(x), back;
        int e2, exp10, tries, p, half, ndigits, decpt, i, found = 0, len = 0;
        char digits[20];
        memcpy(&bits, &x, 8);
        if (!(ax >= 1e-11 && ax < 1e16)) return 0;  /* also NaN */
        m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
        e2 = (int)((bits >> 52) & 0x7FF) - 1075;
        exp10 = (int)floor(log10(ax));
        for (tries = 0;; tries++) {  /* log10 may be off by one next to a power of ten */
            if (tries == 3 || !trackstore_scale(m, e2, 16 - exp10, &whole, &half)) return 0;
            if (whole < pow10[16]) exp10--;
            else if (whole >= pow10[17]) exp10++;
            else break;
        }
        for (p = 15; p <= 17 && !found; p++) {
            int up, attempt;
            if (!trackstore_scale(m, e2, p - 1 - exp10, &whole, &half)) return 0;
            up = half > 0 || (half == 0 && (whole & 1));
            for (attempt = 0; attempt < 2 && !found; attempt++) {
                uint64_t candidate;
                int e = exp10;
                if (attempt == 1) {
                    /* Next to a power of two the interval that reads back as x is twice as
                       wide above x as below it: the nearest decimal can lie below and miss
                       while the next one above still reads back. */
                    if (up || p == 15 || m != (1ULL << 52)) break;
                    up = 1;
                }
                candidate = whole + up;
                if (candidate == pow10[p]) {
                    candidate = pow10[p - 1];
                    e++;
                }
                if (trackstore_decimal_to_double(candidate, e - p + 1, &back) && back == ax) {
                    found = 1;
                    digits_value = candidate;
                    ndigits = p;
                    decpt = e + 1;
                }
            }
        }
        if (!found) return 0;
        while (digits_value % 10 == 0) {
            digits_value /= 10;
            ndigits--;
        }
        for (i = ndigits - 1; i >= 0; i--) {
            digits[i] = (char)('0' + digits_value % 10);
            digits_value /= 10;
        }
        if (x < 0) out[len++] = '-';
        if (decpt <= -4 || decpt > 16) {  /* the layout of float_repr_style "short" */
            int exponent = decpt - 1;
            out[len++] = digits[0];
            if (ndigits > 1) {
                out[len++] = '.';
                memcpy(out + len, digits + 1, ndigits - 1);
                len += ndigits - 1;
            }
            out[len++] = 'e';
            out[len++] = exponent < 0 ? '-' : '+';
            if (exponent < 0) exponent = -exponent;
            if (exponent >= 100) out[len++] = (char)('0' + exponent / 100);
            out[len++] = (char)('0' + exponent / 10 % 10);
            out[len++] = (char)('0' + exponent % 10);
        } else if (decpt <= 0) {
            out[len++] = '0';
            out[len++] = '.';
            for (i = 0; i < -decpt; i++) out[len++] = '0';
            memcpy(out + len, digits, ndigits);
            len += ndigits;
        } else if (decpt >= ndigits) {
            memcpy(out + len, digits, ndigits);
            len += ndigits;
            for (i = ndigits; i < decpt; i++) out[len++] = '0';
            out[len++] = '.';
            out[len++] = '0';
        } else {
            memcpy(out + len, digits, decpt);
            len += decpt;
            out[len++] = '.';
            memcpy(out + len, digits + decpt, ndigits - decpt);
            len += ndigits - decpt;
        }
        return len;
    }
    #else
    static int trackstore_decimal_to_double(uint64_t w, int64_t q, double *out) {
        (void)w; (void)q; (void)out;
        return 0;
    }
    static int trackstore_repr_double(double x, char *out) {
        (void)x; (void)out;
        return 0;
    }
    #endif
    """
    bint decimal_to_double "trackstore_decimal_to_double" (
        uint64_t w, int64_t q, double *out
    ) noexcept nogil
    int repr_double "trackstore_repr_double" (double x, char *out) noexcept nogil
    Py_ssize_t digit_run "trackstore_digit_run" (cursor s, cursor e) noexcept nogil
    uint64_t digits_value "trackstore_digits_value" (cursor s, Py_ssize_t n) noexcept nogil


# 10**k is exact in a double up to k = 22, and so is every integer up to 2**53.
cdef double POW10[23]
cdef uint64_t MAX_EXACT_MANTISSA = 9007199254740992ULL
cdef uint64_t POW10_INT[20]


cdef void init_pow10() noexcept:
    cdef int k
    POW10[0] = 1.0
    POW10_INT[0] = 1
    for k in range(1, 23):
        POW10[k] = POW10[k - 1] * 10.0
    for k in range(1, 20):
        POW10_INT[k] = POW10_INT[k - 1] * 10


init_pow10()

cdef enum:
    # The longest line format_lines writes: int64, repr(float) (at most 24 chars), int64,
    # two spaces and LF, with room to spare.
    MAX_LINE = 20 + 1 + 32 + 1 + 20 + 1


cdef struct Record:
    int64_t timestamp
    double value
    int64_t step
    Py_ssize_t fields
    cursor name
    Py_ssize_t name_len
    cursor digest
    Py_ssize_t digest_len


cdef struct Decimal:
    bint negative
    uint64_t mantissa  # the significant digits, exact while significant <= 19
    int significant
    int64_t scale  # the value is mantissa * 10**scale
    bint huge_exponent


cdef inline bint is_ws(unsigned char c) noexcept nogil:
    # bytes.strip()'s set less LF, which never occurs inside a line.
    return c == 32 or c == 9 or c == 13 or c == 11 or c == 12


cdef inline bint is_digit(unsigned char c) noexcept nogil:
    return <unsigned char>(c - 48) < 10


cdef inline cursor scan_int64(cursor s, cursor e, int64_t *out) noexcept nogil:
    """The end of the ``[+-]?[0-9]+`` prefix of [s, e); NULL if none or outside int64."""
    cdef bint negative = False
    cdef uint64_t acc = 0
    cdef Py_ssize_t n, i
    if s < e and (s[0] == 43 or s[0] == 45):
        negative = s[0] == 45
        s += 1
    n = digit_run(s, e)
    if n == 0:
        return NULL
    if n <= 18:
        acc = digits_value(s, n)
    else:
        for i in range(n):
            # Bounded so acc * 10 + 9 never wraps; leading zeros may make the field long.
            if acc > 922337203685477580ULL:
                return NULL
            acc = acc * 10 + (s[i] - 48)
    if negative:
        if acc > 9223372036854775808ULL:
            return NULL
        out[0] = <int64_t>(<uint64_t>0 - acc)
    elif acc > 9223372036854775807ULL:
        return NULL
    else:
        out[0] = <int64_t>acc
    return s + n


cdef inline cursor scan_decimal(cursor s, cursor e, Decimal *d) noexcept nogil:
    """The end of the decimal-number prefix of [s, e); NULL if none or a bad exponent."""
    cdef cursor whole = s
    cdef cursor fraction = NULL
    cdef Py_ssize_t whole_len, fraction_len = 0, zeros = 0
    cdef int64_t exponent = 0
    cdef bint exponent_negative = False
    d.negative = False
    d.mantissa = 0
    d.huge_exponent = False
    if s < e and (s[0] == 43 or s[0] == 45):
        d.negative = s[0] == 45
        s += 1
    whole = s
    whole_len = digit_run(s, e)
    s += whole_len
    if s < e and s[0] == 46:  # '.'
        s += 1
        fraction = s
        fraction_len = digit_run(s, e)
        s += fraction_len
    if whole_len + fraction_len == 0:
        return NULL
    if s < e and (s[0] | 0x20) == 101:  # 'e' or 'E'
        s += 1
        if s < e and (s[0] == 43 or s[0] == 45):
            exponent_negative = s[0] == 45
            s += 1
        if s == e or not is_digit(s[0]):
            return NULL
        while s < e and is_digit(s[0]):
            if exponent < 100000:
                exponent = exponent * 10 + (s[0] - 48)
            else:
                d.huge_exponent = True
            s += 1
    d.scale = -fraction_len + (-exponent if exponent_negative else exponent)
    # The significant digits start at the first non-zero one; past 19 the mantissa would be
    # inexact, and the slow path decides.
    while zeros < whole_len and whole[zeros] == 48:
        zeros += 1
    if zeros < whole_len:
        d.significant = <int>min(whole_len - zeros + fraction_len, 20)
        if d.significant <= 19:
            d.mantissa = (
                digits_value(whole + zeros, whole_len - zeros) * POW10_INT[fraction_len]
                + digits_value(fraction, fraction_len)
            )
    else:
        zeros = 0
        while zeros < fraction_len and fraction[zeros] == 48:
            zeros += 1
        d.significant = <int>min(fraction_len - zeros, 20)
        if d.significant <= 19:
            d.mantissa = digits_value(fraction + zeros, fraction_len - zeros)
    return s


cdef inline bint decimal_value(Decimal *d, double *out) noexcept nogil:
    """The double of *d when it can be had exactly without CPython's dtoa; else False."""
    cdef double v
    if d.significant > 19 or d.huge_exponent:
        return False
    if d.mantissa == 0:
        v = 0.0
    elif d.mantissa <= MAX_EXACT_MANTISSA and 0 <= d.scale <= 22:
        # Clinger's fast path: exact operands, one correctly rounded operation.
        v = <double>d.mantissa * POW10[d.scale]
    elif d.mantissa <= MAX_EXACT_MANTISSA and -22 <= d.scale < 0:
        v = <double>d.mantissa / POW10[-d.scale]
    elif not decimal_to_double(d.mantissa, d.scale, &v):
        return False
    out[0] = -v if d.negative else v  # also makes "-0" the negative zero, as float() does
    return True


cdef inline bint special_matches(cursor s, Py_ssize_t n, const char *word) noexcept nogil:
    cdef Py_ssize_t i
    if n != <Py_ssize_t>strlen(word):
        return False
    for i in range(n):
        if (s[i] | 0x20) != <unsigned char>word[i]:
            return False
    return True


cdef int convert_slow(cursor s, cursor e, double *out) except -1:
    cdef char *stop
    # Text already matched the grammar; the byte after it is a space, whitespace, LF or the
    # bytes object's terminating NUL, none of which continues a number, so the parse stops at e.
    out[0] = PyOS_string_to_double(<const char *>s, &stop, NULL)
    if <cursor>stop != e:
        raise SystemError("PyOS_string_to_double disagrees with the metric value grammar")
    return 1


cdef int parse_value(cursor s, cursor e, double *out) except -1:
    """The value grammar over exactly [s, e): 1 and the double, or 0 when invalid."""
    cdef Decimal d
    cdef cursor body = s + 1 if s < e and (s[0] == 43 or s[0] == 45) else s
    if body < e and ((body[0] | 0x20) == 110 or (body[0] | 0x20) == 105):  # 'n', 'i'
        if (
            special_matches(body, e - body, "nan")
            or special_matches(body, e - body, "inf")
            or special_matches(body, e - body, "infinity")
        ):
            return convert_slow(s, e, out)
        return 0
    if scan_decimal(s, e, &d) != e:
        return 0
    if decimal_value(&d, out):
        return 1
    return convert_slow(s, e, out)


cdef inline bint parse_record_fast(cursor p, cursor e, Record *r) noexcept nogil:
    """One pass over a line as MLflow writes it; False sends the line to parse_record."""
    cdef Decimal d
    cdef cursor q
    cdef cursor space
    if p == e or is_ws(p[0]) or is_ws((e - 1)[0]):
        return False
    q = scan_int64(p, e, &r.timestamp)
    if q == NULL or q == e or q[0] != 32:
        return False
    q = scan_decimal(q + 1, e, &d)
    if q == NULL or not decimal_value(&d, &r.value):
        return False
    if q == e:
        r.step = 0
        r.fields = 2
        return True
    if q[0] != 32:
        return False
    q = scan_int64(q + 1, e, &r.step)
    if q == NULL:
        return False
    if q == e:
        r.fields = 3
        return True
    if q[0] != 32:
        return False
    r.name = q + 1
    space = <cursor>memchr(r.name, 32, e - r.name)
    if space == NULL or space == r.name or space + 1 == e:
        return False
    r.name_len = space - r.name
    r.digest = space + 1
    r.digest_len = e - r.digest
    if memchr(r.digest, 32, r.digest_len) != NULL:
        return False
    r.fields = 5
    return True


cdef int parse_record(cursor p, cursor e, Record *r) except -1:
    """One complete line [p, e) without its LF: ST_OK and *r filled, or the reason code."""
    cdef cursor space[4]
    cdef cursor q
    cdef cursor value_end
    cdef Py_ssize_t spaces = 0
    if parse_record_fast(p, e, r):
        return ST_OK
    r.fields = 0
    while p < e and is_ws(p[0]):
        p += 1
    while e > p and is_ws((e - 1)[0]):
        e -= 1
    if p == e:
        return ST_BLANK
    q = p
    while q < e:
        if q[0] == 32:
            if spaces < 4:
                space[spaces] = q
            spaces += 1
        q += 1
    r.fields = spaces + 1
    if spaces != 1 and spaces != 2 and spaces != 4:
        return ST_FIELDS
    if scan_int64(p, space[0], &r.timestamp) != space[0]:
        return ST_TIMESTAMP
    value_end = e if spaces == 1 else space[1]
    if not parse_value(space[0] + 1, value_end, &r.value):
        return ST_VALUE
    if spaces == 1:
        r.step = 0
        return ST_OK
    q = e if spaces == 2 else space[2]
    if scan_int64(space[1] + 1, q, &r.step) != q:
        return ST_STEP
    if spaces == 4:
        r.name = space[2] + 1
        r.name_len = space[3] - r.name
        r.digest = space[3] + 1
        r.digest_len = e - r.digest
        if r.name_len == 0 or r.digest_len == 0:
            return ST_DATASET
    return ST_OK


cdef object reason(int status, Py_ssize_t fields):
    if status == ST_BLANK:
        return REASON_BLANK
    if status == ST_FIELDS:
        return reason_fields(fields)
    if status == ST_TIMESTAMP:
        return REASON_TIMESTAMP
    if status == ST_VALUE:
        return REASON_VALUE
    if status == ST_STEP:
        return REASON_STEP
    return REASON_DATASET


cdef object decode(cursor s, Py_ssize_t n):
    """The UTF-8 text of [s, s+n), or None when it is not valid UTF-8."""
    try:
        return (<const char *>s)[:n].decode("utf-8")
    except UnicodeDecodeError:
        return None


cdef bint is_utf8(cursor s, Py_ssize_t n) except -1:
    cdef Py_ssize_t i
    for i in range(n):
        if s[i] >= 0x80:
            return decode(s, n) is not None
    return True


cdef bytes check_bytes(object data):
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    return <bytes>data


def parse(data):
    """Every valid point of a metric file, as :class:`ParsedMetrics`."""
    cdef bytes raw = check_bytes(data)
    cdef cursor p = <cursor>PyBytes_AS_STRING(raw)
    cdef cursor end = p + PyBytes_GET_SIZE(raw)
    cdef cursor nl
    cdef Py_ssize_t capacity
    cdef Py_ssize_t rows = 0
    cdef Py_ssize_t lineno = 0
    cdef int status
    cdef Record r
    cdef cursor last_name = NULL
    cdef cursor last_digest = NULL
    cdef Py_ssize_t last_name_len = -1
    cdef Py_ssize_t last_digest_len = -1
    cdef object name = None
    cdef object digest = None
    cdef list datasets = []
    cdef list bad_lines = []

    # Rows are rarely shorter than 16 bytes (MLflow's are over 20); grow if they are, and give
    # back the rest at the end. Untouched capacity costs address space, not memory.
    capacity = PyBytes_GET_SIZE(raw) // 16 + 16
    cdef array timestamps = clone(_INT64S, capacity, False)
    cdef array values = clone(_DOUBLES, capacity, False)
    cdef array steps = clone(_INT64S, capacity, False)
    cdef long long *ts_out = timestamps.data.as_longlongs
    cdef double *value_out = values.data.as_doubles
    cdef long long *step_out = steps.data.as_longlongs

    while True:
        nl = <cursor>memchr(p, 10, end - p)
        if nl == NULL:
            break
        if rows == capacity:
            capacity += capacity // 2
            resize(timestamps, capacity)
            resize(values, capacity)
            resize(steps, capacity)
            ts_out = timestamps.data.as_longlongs
            value_out = values.data.as_doubles
            step_out = steps.data.as_longlongs
        lineno += 1
        status = parse_record(p, nl, &r)
        if status == ST_OK and r.fields == 5:
            # Consecutive lines usually name the same dataset: reuse the str objects.
            if not (r.name_len == last_name_len and memcmp(r.name, last_name, r.name_len) == 0):
                name = decode(r.name, r.name_len)
                last_name, last_name_len = r.name, r.name_len
            if not (
                r.digest_len == last_digest_len
                and memcmp(r.digest, last_digest, r.digest_len) == 0
            ):
                digest = decode(r.digest, r.digest_len)
                last_digest, last_digest_len = r.digest, r.digest_len
            if name is None or digest is None:
                status = ST_DATASET
            else:
                datasets.append((rows, name, digest))
        if status == ST_OK:
            ts_out[rows] = r.timestamp
            value_out[rows] = r.value
            step_out[rows] = r.step
            rows += 1
        else:
            bad_lines.append((lineno, reason(status, r.fields)))
        p = nl + 1

    if rows != capacity:
        resize(timestamps, rows)
        resize(values, rows)
        resize(steps, rows)
    return ParsedMetrics(timestamps, values, steps, datasets, bad_lines, p != end)


def latest(data):
    """The point MLflow reports for the metric: max by ``(step, timestamp, value)``, or None."""
    cdef bytes raw = check_bytes(data)
    cdef cursor p = <cursor>PyBytes_AS_STRING(raw)
    cdef cursor end = p + PyBytes_GET_SIZE(raw)
    cdef cursor nl
    cdef Record r
    cdef Record best
    cdef bint found = False
    cdef Py_ssize_t skipped = 0
    memset(&best, 0, sizeof(Record))
    while True:
        nl = <cursor>memchr(p, 10, end - p)
        if nl == NULL:
            break
        if parse_record(p, nl, &r) == ST_OK and (
            r.fields != 5 or (is_utf8(r.name, r.name_len) and is_utf8(r.digest, r.digest_len))
        ):
            # Python's tuple ">" on (step, timestamp, value): NaN is never greater, so with
            # equal step and timestamp the point met first stays.
            if not found or r.step > best.step or (
                r.step == best.step
                and (
                    r.timestamp > best.timestamp
                    or (r.timestamp == best.timestamp and r.value > best.value)
                )
            ):
                best = r
                found = True
        else:
            skipped += 1
        p = nl + 1
    if p < end:
        skipped += 1  # the torn last line
    if not found:
        return None
    if best.fields == 5:
        return LatestPoint(
            best.timestamp,
            best.value,
            best.step,
            decode(best.name, best.name_len),
            decode(best.digest, best.digest_len),
            skipped,
        )
    return LatestPoint(best.timestamp, best.value, best.step, None, None, skipped)


cdef inline Py_ssize_t write_int64(char *out, int64_t v) noexcept nogil:
    cdef char digits[20]
    cdef Py_ssize_t n = 0
    cdef Py_ssize_t k = 0
    cdef uint64_t u
    if v < 0:
        out[0] = 45
        k = 1
        u = <uint64_t>0 - <uint64_t>v
    else:
        u = <uint64_t>v
    while True:
        digits[n] = <char>(48 + u % 10)
        n += 1
        u = u // 10
        if u == 0:
            break
    while n:
        n -= 1
        out[k] = digits[n]
        k += 1
    return k


cdef inline Py_ssize_t write_float(char *out, double v) except -1:
    cdef Py_ssize_t n = repr_double(v, out)
    if n:
        return n
    cdef char *text = PyOS_double_to_string(v, c'r', 0, Py_DTSF_ADD_DOT_0, NULL)
    n = <Py_ssize_t>strlen(text)
    memcpy(out, text, n)
    PyMem_Free(text)
    return n


cdef int64_t as_int64(object obj, object label, Py_ssize_t index) except? -1:
    cdef int overflow = 0
    cdef long long number
    if PyLong_CheckExact(obj):
        number = PyLong_AsLongLongAndOverflow(obj, &overflow)
        if not overflow:
            return number
    if index >= 0:
        label = f"{label}[{index}]"
    return int64_arg(obj, label)


cdef double as_double(object obj, object label, Py_ssize_t index) except? -1.0:
    if PyFloat_CheckExact(obj):
        return PyFloat_AS_DOUBLE(obj)
    if index >= 0:
        label = f"{label}[{index}]"
    return float_arg(obj, label)


cdef Py_ssize_t write_line(
    char *out, int64_t timestamp, double value, int64_t step
) except -1:
    cdef Py_ssize_t n = write_int64(out, timestamp)
    out[n] = 32
    n += 1
    n += write_float(out + n, value)
    out[n] = 32
    n += 1
    n += write_int64(out + n, step)
    out[n] = 10
    return n + 1


def format_line(timestamp, value, step, dataset_name=None, dataset_digest=None):
    """One metric line, exactly as MLflow writes it (``value`` as ``repr(float)``)."""
    cdef char line[MAX_LINE]
    cdef int64_t ts = as_int64(timestamp, "timestamp", -1)
    cdef double number = as_double(value, "value", -1)
    cdef int64_t st = as_int64(step, "step", -1)
    cdef Py_ssize_t n = write_line(line, ts, number, st)
    if dataset_name is None and dataset_digest is None:
        return PyBytes_FromStringAndSize(line, n)
    if dataset_name is None or dataset_digest is None:
        raise ValueError("dataset_name and dataset_digest must be given together")
    name = dataset_arg(dataset_name, "dataset_name").encode("utf-8")
    digest = dataset_arg(dataset_digest, "dataset_digest").encode("utf-8")
    return b"%s %s %s\n" % (PyBytes_FromStringAndSize(line, n - 1), name, digest)


cdef tuple as_tuple(object items):
    # A tuple cannot shrink under the loop below (an element's __index__ could empty a list),
    # and its items are read without bounds checks.
    if type(items) is tuple:
        return <tuple>items
    if type(items) is list:
        return tuple(items)
    return tuple(list(items))  # list() first, for the pure twin's error messages


def count_plain(metrics, known_keys):
    """How many leading items are plain (see the pure twin): the fast path of validation."""
    cdef tuple items = as_tuple(metrics)
    cdef Py_ssize_t count = 0
    cdef int overflow = 0
    cdef long long number
    for m in items:
        value = m.value
        ts = m.timestamp
        step = m.step
        key = m.key
        if not (PyFloat_CheckExact(value) and PyLong_CheckExact(ts) and PyLong_CheckExact(step)
                and type(key) is str):
            break
        number = PyLong_AsLongLongAndOverflow(ts, &overflow)
        if overflow or number < 0:
            break
        PyLong_AsLongLongAndOverflow(step, &overflow)
        if overflow:
            break
        if m.dataset_name is not None or m.dataset_digest is not None or key not in known_keys:
            break
        count += 1
    return count


cdef object _Metric = None


def from_json_plain(list items, Py_ssize_t start, list out):
    """Plain decoded JSON metric entries as ``Metric`` objects (see the pure twin).

    Each object is made without running ``Metric.__init__`` (a Python call per point): its
    slots are set directly, the four optional ones to ``None``.
    """
    global _Metric
    if _Metric is None:
        from trackstore.entities import Metric
        _Metric = Metric
    cdef object new = _Metric.__new__
    cdef object cls = _Metric
    cdef Py_ssize_t i = start
    cdef Py_ssize_t n
    cdef int overflow = 0
    cdef dict entry
    cdef object key, value, ts, step, m
    if i < 0:
        i = 0
    while i < len(items):
        obj = items[i]
        if type(obj) is not dict:
            break
        entry = <dict>obj
        n = len(entry)
        if n < 3 or n > 4:
            break
        key = entry.get("key")
        value = entry.get("value")
        ts = entry.get("timestamp")
        step = entry.get("step")
        if step is None:
            if n != 3:
                break
            step = 0
        elif n != 4:
            break
        if not (type(key) is str and len(<str>key) > 0 and PyLong_CheckExact(ts)
                and PyLong_CheckExact(step)):
            break
        if PyFloat_CheckExact(value):
            pass
        elif PyLong_CheckExact(value):
            try:
                value = float(value)
            except OverflowError:  # an integer beyond the doubles
                break
        else:
            break
        PyLong_AsLongLongAndOverflow(ts, &overflow)
        if overflow:
            break
        PyLong_AsLongLongAndOverflow(step, &overflow)
        if overflow:
            break
        m = new(cls)
        m.key = key
        m.value = value
        m.timestamp = ts
        m.step = step
        m.model_id = None
        m.dataset_name = None
        m.dataset_digest = None
        m.run_id = None
        out.append(m)
        i += 1
    return i


cdef inline int bytearray_append(bytearray target, const char *data, Py_ssize_t n) except -1:
    cdef Py_ssize_t old = PyByteArray_GET_SIZE(target)
    PyByteArray_Resize(target, old + n)
    memcpy(PyByteArray_AS_STRING(target) + old, data, n)
    return 0


cdef bytearray group_of(dict groups, object key):
    """The buffer of *key*'s lines, made on its first line (so groups keep first-seen order)."""
    found = groups.get(key)
    if found is None:
        group = bytearray()
        groups[key] = group
        return group
    return <bytearray>found


def format_batch(metrics):
    """The lines of many points grouped by metric key, each group in the given order.

    Each item has ``key``, ``timestamp``, ``value``, ``step``, ``dataset_name`` and
    ``dataset_digest`` attributes; each line is what :func:`format_line` makes of it.
    """
    cdef tuple items = as_tuple(metrics)
    cdef dict groups = {}
    cdef char line[MAX_LINE]
    cdef Py_ssize_t n
    cdef int64_t ts
    cdef double number
    cdef int64_t st
    cdef bytearray group
    cdef bytes extra
    for m in items:
        key = m.key
        if not isinstance(key, str):
            key_arg(key)  # raises the pure twin's TypeError
        ts = as_int64(m.timestamp, "timestamp", -1)
        number = as_double(m.value, "value", -1)
        st = as_int64(m.step, "step", -1)
        name = m.dataset_name
        digest = m.dataset_digest
        group = group_of(groups, key)
        n = write_line(line, ts, number, st)
        if name is None and digest is None:
            bytearray_append(group, line, n)
        else:
            extra = format_line(ts, number, st, name, digest)
            bytearray_append(group, PyBytes_AS_STRING(extra), PyBytes_GET_SIZE(extra))
    return {k: bytes(v) for k, v in groups.items()}


def format_rows(rows):
    """The lines of queued points grouped by metric key, each group in the given order.

    Each row is a tuple ``(key, value, timestamp, step)``; each line is what
    :func:`format_line` makes of the last three.
    """
    cdef tuple items = as_tuple(rows)
    cdef dict groups = {}
    cdef char line[MAX_LINE]
    cdef Py_ssize_t n
    cdef int64_t ts
    cdef double number
    cdef int64_t st
    cdef tuple row
    for item in items:
        if type(item) is not tuple or len(<tuple>item) != 4:
            row_arg(item)  # raises the pure twin's TypeError
        row = <tuple>item
        key = row[0]
        if not isinstance(key, str):
            key_arg(key)
        ts = as_int64(row[2], "timestamp", -1)
        number = as_double(row[1], "value", -1)
        st = as_int64(row[3], "step", -1)
        n = write_line(line, ts, number, st)
        bytearray_append(group_of(groups, key), line, n)
    return {k: bytes(v) for k, v in groups.items()}


def format_lines(timestamps, values, steps):
    """The 3-field lines of many points, in order, as one ``bytes``."""
    cdef tuple ts_seq = as_tuple(timestamps)
    cdef tuple value_seq = as_tuple(values)
    cdef tuple step_seq = as_tuple(steps)
    cdef Py_ssize_t count = len(ts_seq)
    if len(value_seq) != count or len(step_seq) != count:
        raise ValueError(
            "timestamps, values and steps must have the same length, got "
            f"{count}, {len(value_seq)} and {len(step_seq)}"
        )
    if count == 0:
        return b""
    cdef char *buffer = <char *>PyMem_Malloc(count * MAX_LINE)
    if buffer == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    cdef Py_ssize_t n = 0
    cdef int64_t ts
    cdef double number
    cdef int64_t st
    try:
        for i in range(count):
            ts = as_int64(ts_seq[i], "timestamps", i)
            number = as_double(value_seq[i], "values", i)
            st = as_int64(step_seq[i], "steps", i)
            n += write_line(buffer + n, ts, number, st)
        return PyBytes_FromStringAndSize(buffer, n)
    finally:
        PyMem_Free(buffer)
