/* wordcount.kernels._native: the Python binding of the native kernel (count.h).
 *
 * count(data, start=0, end=None) counts data[start:end] like len(str(...).split()). A str is read
 * in its own storage; anything else through the buffer protocol (bytes, bytearray, memoryview,
 * mmap, shared memory), held with PyObject_GetBuffer so that the memory stays valid and in place
 * while the GIL is released for the count. The module keeps no mutable state, so it declares
 * itself safe for free-threaded CPython. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "count.h"

typedef struct {
    PyObject *invalid_utf8; /* wordcount.errors.InvalidUTF8Error */
} module_state;

static wc_isa best_isa = WC_SCALAR; /* written once at import, before any count */

static int parse_index(PyObject *obj, Py_ssize_t *out)
{
    if (obj == NULL || obj == Py_None)
        return 0;
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "start and end must be int or None, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    *out = PyNumber_AsSsize_t(obj, NULL); /* clamped, like slice.indices */
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *count_str(PyObject *data, Py_ssize_t start, Py_ssize_t n, wc_isa isa)
{
    int kind = PyUnicode_KIND(data);
    const char *base = (const char *)PyUnicode_DATA(data) + (size_t)start * (size_t)kind;
    int64_t words;
    /* A str is immutable: the reference held by the caller (and this one) keeps its storage. */
    Py_INCREF(data);
    Py_BEGIN_ALLOW_THREADS
    words = wc_count_ucs(base, kind, (size_t)n, isa);
    Py_END_ALLOW_THREADS
    Py_DECREF(data);
    return PyLong_FromLongLong(words);
}

static PyObject *count_buffer(PyObject *module, Py_buffer *view, Py_ssize_t start, Py_ssize_t n,
                              wc_isa isa)
{
    wc_result r;
    Py_BEGIN_ALLOW_THREADS
    wc_count_utf8((const uint8_t *)view->buf + start, (size_t)n, isa, &r);
    Py_END_ALLOW_THREADS
    if (r.err_offset < 0)
        return PyLong_FromLongLong(r.words);
    module_state *st = (module_state *)PyModule_GetState(module);
    PyObject *exc = PyObject_CallFunction(st->invalid_utf8, "Ls", (long long)r.err_offset,
                                          r.reason);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *count_with(PyObject *module, PyObject *data, PyObject *start_obj,
                            PyObject *end_obj, wc_isa isa)
{
    Py_ssize_t start = 0, end = PY_SSIZE_T_MAX;
    if (parse_index(start_obj, &start) < 0 || parse_index(end_obj, &end) < 0)
        return NULL;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n = PySlice_AdjustIndices(PyUnicode_GET_LENGTH(data), &start, &end, 1);
        return count_str(data, start, n, isa);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError,
                            "a bytes-like text must be one-dimensional, contiguous bytes");
        }
        return NULL;
    }
    Py_ssize_t n = PySlice_AdjustIndices(view.len, &start, &end, 1);
    PyObject *result = count_buffer(module, &view, start, n, isa);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *native_count(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "start", "end", NULL};
    PyObject *data, *start = NULL, *end = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO:count_native", kwlist, &data, &start,
                                     &end))
        return NULL;
    return count_with(module, data, start, end, best_isa);
}

static PyObject *native_count_isa(PyObject *module, PyObject *args)
{
    PyObject *data, *start, *end;
    const char *name;
    if (!PyArg_ParseTuple(args, "sOOO:count_isa", &name, &data, &start, &end))
        return NULL;
    for (int isa = WC_SCALAR; isa < WC_ISA_COUNT; isa++) {
        if (strcmp(name, wc_isa_name((wc_isa)isa)) == 0 && wc_isa_supported((wc_isa)isa))
            return count_with(module, data, start, end, (wc_isa)isa);
    }
    PyErr_Format(PyExc_ValueError, "instruction set %s is not available here", name);
    return NULL;
}

static PyObject *native_read_rounds(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "threads", "rounds", NULL};
    PyObject *data;
    int threads = 1, rounds = 7;
    (void)module;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|ii:read_rounds", kwlist, &data, &threads,
                                     &rounds))
        return NULL;
    if (threads < 1 || threads > WC_MAX_READ_THREADS || rounds < 1 || rounds > 100000) {
        PyErr_Format(PyExc_ValueError, "threads must be 1-%d and rounds 1-100000",
                     WC_MAX_READ_THREADS);
        return NULL;
    }
    Py_buffer view;
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "read_rounds reads a bytes-like object, not str");
        return NULL;
    }
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    double *seconds = (double *)PyMem_Malloc(sizeof(double) * (size_t)rounds);
    if (seconds == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    uint64_t sink = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS
    status = wc_read_rounds((const uint8_t *)view.buf, (size_t)view.len, threads, rounds,
                            best_isa, seconds, &sink);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyObject *result = NULL;
    if (status < 0) {
        PyErr_Format(PyExc_OSError, "could not start %d reading threads", threads);
    } else if ((result = PyTuple_New(rounds)) != NULL) {
        for (int k = 0; k < rounds; k++) {
            PyObject *t = PyFloat_FromDouble(seconds[k]);
            if (t == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyTuple_SET_ITEM(result, k, t);
        }
    }
    PyMem_Free(seconds);
    (void)sink;
    return result;
}

PyDoc_STRVAR(read_rounds_doc,
"read_rounds(data, threads=1, rounds=7)\n--\n\n"
"The limit of a count: read every byte of data (bytes-like) once per round with the widest\n"
"vector loads, nothing written, in `threads` threads each reading an equal slice at once,\n"
"without the GIL. Returns each round's seconds, from the first thread's start to the last\n"
"one's end.");

PyDoc_STRVAR(count_doc,
"count_native(data, start=0, end=None)\n--\n\n"
"Count words exactly as len(str(data[start:end]).split()) would, without the GIL.\n\n"
"data is str (offsets in code points, read in its own storage) or a contiguous bytes-like\n"
"object of UTF-8 (offsets in bytes); invalid UTF-8 raises InvalidUTF8Error naming the first\n"
"bad byte's offset from start and bytes.decode's reason.");

PyDoc_STRVAR(count_isa_doc,
"count_isa(isa, data, start, end)\n--\n\n"
"count_native with one instruction set of ISAS (tests cover every path this CPU can run).");

static PyMethodDef native_methods[] = {
    {"count", (PyCFunction)(void (*)(void))native_count, METH_VARARGS | METH_KEYWORDS, count_doc},
    {"count_isa", native_count_isa, METH_VARARGS, count_isa_doc},
    {"read_rounds", (PyCFunction)(void (*)(void))native_read_rounds,
     METH_VARARGS | METH_KEYWORDS, read_rounds_doc},
    {NULL, NULL, 0, NULL},
};

static int native_exec(PyObject *module)
{
    module_state *st = (module_state *)PyModule_GetState(module);
    PyObject *errors = PyImport_ImportModule("wordcount.errors");
    if (errors == NULL)
        return -1;
    st->invalid_utf8 = PyObject_GetAttrString(errors, "InvalidUTF8Error");
    Py_DECREF(errors);
    if (st->invalid_utf8 == NULL)
        return -1;
    best_isa = wc_best_isa();
    const char *forced = getenv("WORDCOUNT_NATIVE_ISA");
    if (forced != NULL && *forced) {
        int found = 0;
        for (int isa = WC_SCALAR; isa < WC_ISA_COUNT; isa++) {
            if (strcmp(forced, wc_isa_name((wc_isa)isa)) == 0 && wc_isa_supported((wc_isa)isa)) {
                best_isa = (wc_isa)isa;
                found = 1;
            }
        }
        if (!found && PyErr_WarnFormat(PyExc_RuntimeWarning, 1,
                                       "WORDCOUNT_NATIVE_ISA=%s is not an instruction set this "
                                       "CPU runs; counting with %s",
                                       forced, wc_isa_name(best_isa)) < 0)
            return -1;
    }
    PyObject *isas = PyTuple_New(0);
    for (int isa = WC_SCALAR; isas != NULL && isa < WC_ISA_COUNT; isa++) {
        if (!wc_isa_supported((wc_isa)isa))
            continue;
        PyObject *name = PyUnicode_FromString(wc_isa_name((wc_isa)isa));
        if (name == NULL || _PyTuple_Resize(&isas, PyTuple_GET_SIZE(isas) + 1) < 0) {
            Py_XDECREF(name);
            Py_CLEAR(isas);
            break;
        }
        PyTuple_SET_ITEM(isas, PyTuple_GET_SIZE(isas) - 1, name);
    }
    if (isas == NULL || PyModule_AddObject(module, "ISAS", isas) < 0) {
        Py_XDECREF(isas);
        return -1;
    }
    return PyModule_AddStringConstant(module, "ISA", wc_isa_name(best_isa));
}

static int native_traverse(PyObject *module, visitproc visit, void *arg)
{
    Py_VISIT(((module_state *)PyModule_GetState(module))->invalid_utf8);
    return 0;
}

static int native_clear(PyObject *module)
{
    Py_CLEAR(((module_state *)PyModule_GetState(module))->invalid_utf8);
    return 0;
}

static PyModuleDef_Slot native_slots[] = {
    {Py_mod_exec, native_exec},
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "wordcount.kernels._native",
    .m_doc = "The native word-counting kernel (C, SIMD where the CPU has it); no GIL while "
             "counting.",
    .m_size = sizeof(module_state),
    .m_methods = native_methods,
    .m_slots = native_slots,
    .m_traverse = native_traverse,
    .m_clear = native_clear,
};

PyMODINIT_FUNC PyInit__native(void)
{
    return PyModuleDef_Init(&native_module);
}
