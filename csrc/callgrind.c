/* wcbench.ab._callgrind: callgrind's client requests around one Python call.
 *
 * `wcbench ab --measure instructions` runs each side's worker under
 * `valgrind --tool=callgrind --instr-atstart=no`: nothing is counted (or even instrumented) while
 * the interpreter starts, imports and warms up. count_call(label, func, *args, **kwargs) zeroes
 * callgrind's counters, switches instrumentation on, calls func, switches it off and dumps the
 * counters (file <out>.<n>, its "totals:" line the instructions of that call alone, every thread
 * of the process included), then returns func's result.
 *
 * A client request is a short sequence of instructions that does nothing on a real CPU (valgrind
 * recognises it on its simulated one): outside valgrind count_call is a plain call of func, with
 * no output and a few instructions of overhead, and running_on_valgrind() is 0.
 *
 * The A/B worker loads this file by its path (a BASE revision may predate it, so it cannot come
 * with the side's own package); it imports nothing and keeps no state. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <valgrind/callgrind.h>

static PyObject *running_on_valgrind(PyObject *module, PyObject *unused)
{
    return PyLong_FromLong((long)RUNNING_ON_VALGRIND);
}

static PyObject *count_call(PyObject *module, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 2) {
        PyErr_SetString(PyExc_TypeError, "count_call(label, func, /, *args, **kwargs)");
        return NULL;
    }
    PyObject *label_obj = PyTuple_GET_ITEM(args, 0);
    if (!PyUnicode_Check(label_obj)) {
        PyErr_Format(PyExc_TypeError, "label must be str, not %.100s",
                     Py_TYPE(label_obj)->tp_name);
        return NULL;
    }
    const char *label = PyUnicode_AsUTF8(label_obj);
    if (label == NULL)
        return NULL;
    PyObject *func = PyTuple_GET_ITEM(args, 1);
    PyObject *rest = PyTuple_GetSlice(args, 2, n);
    if (rest == NULL)
        return NULL;
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
    PyObject *result = PyObject_Call(func, rest, kwargs);
    CALLGRIND_STOP_INSTRUMENTATION;
    CALLGRIND_DUMP_STATS_AT(label);
    Py_DECREF(rest);
    return result;
}

PyDoc_STRVAR(running_doc,
"running_on_valgrind()\n--\n\n"
"0 on a real CPU; under valgrind, how many valgrinds deep (1).");

PyDoc_STRVAR(count_call_doc,
"count_call(label, func, /, *args, **kwargs)\n--\n\n"
"func(*args, **kwargs), counted alone under callgrind --instr-atstart=no: counters zeroed,\n"
"instrumentation on, the call, instrumentation off, the counters dumped with label. Outside\n"
"valgrind: just the call.");

static PyMethodDef callgrind_methods[] = {
    {"running_on_valgrind", running_on_valgrind, METH_NOARGS, running_doc},
    {"count_call", (PyCFunction)(void (*)(void))count_call, METH_VARARGS | METH_KEYWORDS,
     count_call_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot callgrind_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef callgrind_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "wcbench.ab._callgrind",
    .m_doc = "callgrind's client requests around one call (no-ops outside valgrind).",
    .m_size = 0,
    .m_methods = callgrind_methods,
    .m_slots = callgrind_slots,
};

PyMODINIT_FUNC PyInit__callgrind(void)
{
    return PyModuleDef_Init(&callgrind_module);
}
