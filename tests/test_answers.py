"""The student's work as test cells read it: data across a boundary, never objects.

The whole path (a class graded with its tests in the grader's process) is in
tests/test_hostile_submissions.py; these check the encoding and the grader's side on
their own, with the kernel's side (answers.respond) called directly.
"""

import base64
import io
import json
import pickle

import keras
import numpy as np
import pytest

from autoencoder_lib import answers
from autoencoder_lib.instructor import grader


def _round_trip(value):
    return answers.decode(answers.encode(value))


def test_plain_data_comes_back_equal():
    value = {
        "n": 3,
        "x": 0.5,
        "nan": float("nan"),
        "flag": True,
        "none": None,
        "name": "a",
        "items": [1, (2, 3)],
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float64(2.5),
    }
    back = _round_trip(value)
    assert back["items"] == [1, (2, 3)] and back["scalar"] == 2.5
    assert isinstance(back["scalar"], float) and np.isnan(back["nan"])
    np.testing.assert_array_equal(back["array"], value["array"])
    assert back["array"].dtype == np.float32


def test_objects_that_are_not_data_are_refused():
    for value in (object(), np.array([object()]), {object(): 2}, lambda: 1):
        with pytest.raises(answers.AnswerError):
            answers.encode(value)


def _no_arrays():
    buffer = io.BytesIO()
    np.savez(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _model(layer=None):
    inputs = keras.Input(shape=(4,))
    h = keras.layers.Dense(3, activation="relu")(inputs)
    if layer is not None:
        h = layer(h)
    return keras.Model(inputs, keras.layers.Dense(2)(h), name="m")


def test_a_keras_model_comes_back_with_its_weights():
    model = _model()
    back = _round_trip(model)
    assert isinstance(back, keras.Model) and back is not model and back.name == "m"
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_models_with_code_of_their_own_are_refused():
    lam = _model(keras.layers.Lambda(lambda t: t * 2))

    @keras.saving.register_keras_serializable(package="student")
    class Sneaky(keras.layers.Layer):
        def call(self, t):
            return t

    custom = _model(Sneaky())
    for model, words in ((lam, "Lambda"), (custom, "Keras' own layers only")):
        with pytest.raises(answers.AnswerError, match=words):
            _round_trip(model)
    # The same class claiming to be Keras' is still a registered class of its own.
    message = json.loads(answers.encode(custom))
    spec = message["tree"]["model"]
    spec["config"] = spec["config"].replace(
        '"module": "test_answers"', '"module": "keras.layers"'
    )
    assert '"keras.layers"' in spec["config"]
    with pytest.raises(answers.AnswerError, match="student>Sneaky, a custom class"):
        answers.decode(json.dumps(message))
    # A config that names another module is refused before Keras reads it.
    text = answers.encode(_model())
    message = json.loads(text)
    config = json.loads(message["tree"]["model"]["config"])
    config["module"] = "os"
    message["tree"]["model"]["config"] = json.dumps(config)
    with pytest.raises(answers.AnswerError, match="os.Functional"):
        answers.decode(json.dumps(message))


def test_pickles_and_malformed_replies_are_never_loaded():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    forged = json.dumps(
        {
            "tree": {"array": 0},
            "arrays": base64.b64encode(pickle.dumps(object())).decode(),
        }
    )
    for text in (forged, "not json", json.dumps({"tree": {"eval": "1"}, "arrays": ""})):
        with pytest.raises(answers.AnswerError):
            answers.decode(text)


def test_the_local_student_runs_the_notebooks_functions_on_copies():
    seen = []

    def halve(x):
        seen.append(x)
        x /= 2  # in place: the caller's array must not change
        return x

    student = answers.of({"halve": halve, "model": _model(), "ten": 10})
    a = np.array([2.0, 4.0])
    np.testing.assert_array_equal(student.call("halve", a), [1.0, 2.0])
    np.testing.assert_array_equal(a, [2.0, 4.0])
    assert student.value("ten") == 10 and student.has("ten") and not student.has("x")
    assert isinstance(student.model("model"), keras.Model)
    with pytest.raises(AssertionError, match="must be a keras.Model"):
        student.model("ten")
    with pytest.raises(AssertionError, match="missing is not defined"):
        student.value("missing")


def test_in_the_students_kernel_models_are_checked_and_kept():
    """Rebuilding would draw new initial weights from the notebook's generator."""
    model, lam = _model(), _model(keras.layers.Lambda(lambda t: t * 2))
    student = answers.of({"m": model, "both": {"a": [model]}, "lam": lam})
    assert student.model("m") is model
    assert student.value("both")["a"][0] is model
    with pytest.raises(answers.AnswerError, match="Lambda"):
        student.model("lam")
    keras.utils.set_random_seed(3)
    answers.of({"m": model}).model("m")
    after_check = keras.random.uniform((1,))
    keras.utils.set_random_seed(3)
    untouched = keras.random.uniform((1,))
    np.testing.assert_array_equal(after_check, untouched)


def test_a_model_given_to_a_students_function_is_a_copy_and_draws_no_random_numbers():
    import random

    model = _model()

    def freeze(m):
        m.trainable = False
        return m

    random.seed(5)
    frozen = answers.of({"freeze": freeze}).call("freeze", model)
    drawn = random.random()
    random.seed(5)
    assert drawn == random.random(), "rebuilding a model moved Python's random stream"
    assert model.trainable and not frozen.trainable and frozen is not model
    np.testing.assert_array_equal(frozen.get_weights()[0], model.get_weights()[0])


def test_the_students_error_fails_the_test_with_its_message():
    def broken(x):
        raise ValueError("wrong shape")

    def blank(x):
        raise NotImplementedError()

    # In the student's kernel: the error itself, with its traceback into their code.
    with pytest.raises(ValueError, match="wrong shape"):
        answers.of({"broken": broken}).call("broken", 1)
    with pytest.raises(NotImplementedError, match="not answered yet"):
        answers.of({"blank": blank}).call("blank", 1)
    # In the grader: a failed test that names it.
    with pytest.raises(AssertionError, match=r"broken\(\.\.\.\) raised ValueError"):
        _kernel({"broken": broken}).call("broken", 1)
    with pytest.raises(
        AssertionError, match=r"blank\(\.\.\.\) raised Not.*not answered"
    ):
        _kernel({"blank": blank}).call("blank", 1)


def test_dicts_keep_their_keys():
    value = {2: 0.5, "a": [1], (1, "b"): None, np.int64(7): 1.0}
    back = _round_trip(value)
    assert back == {2: 0.5, "a": [1], (1, "b"): None, 7: 1.0}
    with pytest.raises(answers.AnswerError, match="dict key"):
        answers.encode({object(): 1})


def _kernel(namespace):
    """The grader's student, answered by answers.respond as the kernel would."""
    return grader.KernelStudent(lambda request: answers.respond(request, namespace))


def test_the_grader_reads_the_kernel_as_data_only():
    namespace = {"double": lambda x: 2 * x, "ten": 10, "m": _model()}
    student = _kernel(namespace)
    np.testing.assert_array_equal(student.call("double", np.ones(3)), [2, 2, 2])
    assert student.value("ten") == 10 and student.has("m") and not student.has("nope")
    assert isinstance(student.model("m"), keras.Model)
    with pytest.raises(AssertionError, match="nope is not defined"):
        student.value("nope")
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        _kernel({"f": lambda: 1 / 0}).call("f")


def test_an_arrays_first_rows_and_shape_cross_without_the_rest():
    big = np.arange(5000.0).reshape(1000, 5)
    for student in (
        _kernel({"big": big, "n": 3}),
        answers.Student({"big": big, "n": 3}),
    ):
        np.testing.assert_array_equal(student.value("big", rows=2), big[:2])
        assert student.shape("big") == (1000, 5)
        with pytest.raises(AssertionError, match="n must be an array"):
            student.value("n", rows=2)
        with pytest.raises(AssertionError, match="n must be an array"):
            student.shape("n")


def test_a_library_function_crosses_by_name_and_nothing_else_callable_does():
    from autoencoder_lib import corruptions

    assert _round_trip(corruptions.gaussian_blur) is corruptions.gaussian_blur
    student = _kernel({"apply": lambda f, x: f(x, 1.0)})
    x = np.random.default_rng(0).random((2, 8, 8, 1))
    np.testing.assert_array_equal(
        student.call("apply", corruptions.gaussian_blur, x),
        corruptions.gaussian_blur(x, 1.0),
    )
    for refused in (lambda x: x, np.mean, print, grader.plan):
        with pytest.raises(answers.AnswerError, match="cannot be graded"):
            answers.encode(refused)
    for forged in (
        "os:system",
        "autoencoder_lib.instructor.grader:plan",
        "autoencoder_lib.corruptions:np",
        "autoencoder_lib.data:os.system",
    ):
        text = json.dumps({"tree": {"function": forged}, "arrays": _no_arrays()})
        with pytest.raises(answers.AnswerError, match="malformed"):
            answers.decode(text)


def test_a_models_part_is_read_by_a_dotted_name_but_no_private_attribute():
    class Holder:
        def __init__(self):
            self.encoder = _model()
            self._secret = 1

    namespace = {"ae": Holder()}
    for student in (_kernel(namespace), answers.Student(namespace)):
        assert isinstance(student.model("ae.encoder"), keras.Model)
        assert student.has("ae.encoder") and not student.has("ae.decoder")
        with pytest.raises(AssertionError, match="ae has no decoder"):
            student.model("ae.decoder")
        with pytest.raises(Exception, match="not a name a test may read"):
            student.value("ae._secret")
        with pytest.raises(Exception, match="not a name a test may read"):
            student.value("ae.__class__")


def test_the_kernels_reply_is_read_as_a_string_literal_only():
    ok = {"status": "ok", "data": {"text/plain": repr('{"value": 1}')}}
    assert grader.reply_text(ok) == '{"value": 1}'
    for forged in (
        {"status": "ok", "data": {"text/plain": "__import__('os').system('true')"}},
        {"status": "ok", "data": {"text/plain": "[1, 2]"}},
        {
            "status": "ok",
            "data": {"text/plain": "'" + "x" * (3 * answers.MAX_BYTES) + "'"},
        },
        {"status": "error", "ename": "NameError", "evalue": "respond"},
    ):
        with pytest.raises(answers.AnswerError):
            grader.reply_text(forged)


def test_a_forged_reply_is_data_that_fails_or_an_error():
    student = grader.KernelStudent(lambda request: "__import__('os')")
    with pytest.raises(answers.AnswerError):
        student.value("x")
    student = grader.KernelStudent(lambda request: json.dumps({"value": 12}))
    with pytest.raises(answers.AnswerError):
        student.value("x")


def test_the_grader_namespace_turns_a_test_into_outputs():
    space = grader.GraderNamespace(_kernel({"double": lambda x: 3 * x}))
    space.run("from autoencoder_lib import answers\nstudent = answers.of({})", "setup")
    ok = space.run("print('checked')\nassert student.call('double', 0) == 0", "t1")
    assert [o.output_type for o in ok] == ["stream"] and ok[0].text == "checked\n"
    (failed,) = space.run("assert student.call('double', 2) == 4, 'not doubled'", "t2")
    assert (failed.output_type, failed.ename, failed.evalue) == (
        "error",
        "AssertionError",
        "not doubled",
    )
    # The grader's channel is set only while its cells run.
    assert answers._grader_channel is None


def test_the_plan_comes_from_the_instructors_source(tmp_path):
    source = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {
                    "nbgrader": {"grade_id": "setup", "locked": True},
                    "autoencoder": {"grader": "setup"},
                },
            },
            {
                "cell_type": "code",
                "metadata": {
                    "nbgrader": {"grade_id": "answer", "locked": False},
                    "autoencoder": {"grader": "setup"},
                },
            },
        ],
        "metadata": {"autoencoder": {"grader": "process"}},
    }
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(source))
    assert grader.plan(path) == {"setup"}, "an unlocked cell never runs in the grader"
    source["metadata"] = {}
    path.write_text(json.dumps(source))
    assert grader.plan(path) is None
    assert grader.plan(tmp_path / "missing.ipynb") is None
