"""workbench.toml parsing: every field read, every mistake named by file, line and field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from workbench.core.errors import InvalidInputError
from workbench.core.spec import (
    DriftSpec,
    EvaluationSpec,
    GateRule,
    ParamSpec,
    ProjectSpec,
    RegisterSpec,
    Resources,
    ServingSpec,
    SpecError,
    StepSpec,
    load_spec,
    locate_fields,
    parse_spec,
    resolve_params,
)

PATH = "sample/workbench.toml"

SAMPLE = """\
[project]
name = "fraud_detection"
description = "Card-fraud classifier on generated transactions"
intended_use = "Ranking card transactions for manual review; not for automated blocking."

[params]
n_rows = { type = "int", default = 200_000, min = 1000, help = "transactions to generate" }
fraud_rate = { type = "float", default = 0.01, min = 0.0, max = 0.5 }
model = { type = "str", default = "forest", choices = ["forest", "logistic"] }
balanced = { type = "bool", default = true }
seed = { type = "int", default = 7 }

[resources]
workers = 2
cpus_per_worker = 1
gpus_per_worker = 0

[[steps]]
name = "prepare"
function = "fraud_detection.steps:prepare"
outputs = ["train", "holdout"]
params = ["n_rows", "fraud_rate", "seed"]

[[steps]]
name = "train"
function = "fraud_detection.steps:train"
inputs = ["train"]
outputs = ["model"]
params = ["model", "seed"]
runner = "task"        # or "torch"
distributed = true
cache = true

[[steps]]
name = "evaluate"
function = "fraud_detection.steps:evaluate"
inputs = ["model", "holdout"]

[evaluation]
metrics = ["auc", "average_precision"]
primary = "auc"
higher_is_better = true
gate = ["auc >= 0.90", "average_precision >= 0.3"]
max_regression = 0.01

[register]
model_name = "fraud"
artifact = "model"
flavor = "sklearn"

[serving]
route_prefix = "/fraud"
replicas = 1
max_batch_size = 32
batch_wait_timeout_s = 0.005

[drift]
features = ["amount", "hour"]
psi_threshold = 0.2
window = "1h"
"""

MINIMAL = """\
[project]
name = "tiny"

[[steps]]
name = "only"
function = "tiny.steps:only"
"""


def line_of(text: str, snippet: str, occurrence: int = 0) -> int:
    """1-based line number of the `occurrence`-th line containing `snippet`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if snippet in line]
    assert len(hits) > occurrence, f"{snippet!r} not in the test text"
    return hits[occurrence]


def edit(old: str, new: str, text: str = SAMPLE, count: int = 1) -> str:
    """The sample with `old` replaced by `new` (which must be there)."""
    assert old in text, old
    return text.replace(old, new, count)


def fails(text: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, PATH)
    return caught.value


def assert_error(error: SpecError, line: int | None, field: str, *words: str) -> None:
    assert error.line == line, error.message
    assert error.field_path == field, error.message
    where = f"{PATH}:{line}" if line else PATH
    assert error.message.startswith(f"{where}: {field}: "), error.message
    for word in words:
        assert word in error.message + " " + error.hint, (word, error.message, error.hint)


# -- the happy path ----------------------------------------------------------------------


def test_full_sample_parses_into_every_field() -> None:
    spec = parse_spec(SAMPLE, PATH)
    assert spec == ProjectSpec(
        name="fraud_detection",
        path="sample",
        description="Card-fraud classifier on generated transactions",
        intended_use="Ranking card transactions for manual review; not for automated blocking.",
        params={
            "n_rows": ParamSpec("n_rows", "int", 200_000, "transactions to generate", 1000),
            "fraud_rate": ParamSpec("fraud_rate", "float", 0.01, "", 0.0, 0.5),
            "model": ParamSpec("model", "str", "forest", choices=("forest", "logistic")),
            "balanced": ParamSpec("balanced", "bool", True),
            "seed": ParamSpec("seed", "int", 7),
        },
        steps=(
            StepSpec(
                "prepare",
                "fraud_detection.steps:prepare",
                outputs=("train", "holdout"),
                params=("n_rows", "fraud_rate", "seed"),
            ),
            StepSpec(
                "train",
                "fraud_detection.steps:train",
                inputs=("train",),
                outputs=("model",),
                params=("model", "seed"),
                runner="task",
                distributed=True,
                cache=True,
            ),
            StepSpec("evaluate", "fraud_detection.steps:evaluate", inputs=("model", "holdout")),
        ),
        resources=Resources(workers=2, cpus_per_worker=1.0, gpus_per_worker=0.0),
        evaluation=EvaluationSpec(
            metrics=("auc", "average_precision"),
            primary="auc",
            higher_is_better=True,
            gate=(GateRule("auc", ">=", 0.90), GateRule("average_precision", ">=", 0.3)),
            max_regression=0.01,
        ),
        register=RegisterSpec("fraud", "model", "sklearn"),
        serving=ServingSpec("/fraud", 1, 32, 0.005),
        drift=DriftSpec(("amount", "hour"), 0.2, "1h"),
    )
    assert list(spec.params) == ["n_rows", "fraud_rate", "model", "balanced", "seed"]
    assert isinstance(spec.resources.cpus_per_worker, float)
    assert isinstance(spec.params["n_rows"].default, int)
    assert spec.step("train").distributed is True


def test_minimal_spec_takes_the_defaults() -> None:
    spec = parse_spec(MINIMAL, "tiny/workbench.toml")
    assert spec.name == "tiny"
    assert spec.path == "tiny"
    assert spec.steps == (StepSpec("only", "tiny.steps:only"),)
    assert spec.params == {}
    assert spec.resources == Resources()
    assert spec.evaluation == EvaluationSpec()
    assert spec.register is None
    assert spec.serving == ServingSpec()
    assert spec.drift == DriftSpec()


def test_int_default_for_float_param_is_converted() -> None:
    spec = parse_spec(edit("default = 0.01,", "default = 0,"), PATH)
    assert spec.params["fraud_rate"].default == 0.0
    assert isinstance(spec.params["fraud_rate"].default, float)


def test_params_as_sub_tables_and_torch_runner() -> None:
    text = (
        MINIMAL + 'runner = "torch"\nparams = ["lr"]\n\n[params.lr]\ntype = "float"\ndefault = 1\n'
    )
    spec = parse_spec(text, PATH)
    assert spec.params["lr"] == ParamSpec("lr", "float", 1.0)
    assert spec.steps[0].runner == "torch"


# -- TOML syntax and files ----------------------------------------------------------------


def test_toml_syntax_error_names_its_line() -> None:
    error = fails(edit("workers = 2", "workers = two"))
    assert_error(
        error,
        line_of(SAMPLE, "workers = 2"),
        "syntax",
        "invalid value (column 11)",
        "workers = two",
        "quotes",
    )


def test_duplicate_key_is_a_syntax_error_on_its_line() -> None:
    text = edit("replicas = 1\n", "replicas = 1\nreplicas = 2\n")
    assert_error(fails(text), line_of(text, "replicas = 2"), "syntax", "overwrite")


def test_load_spec_reads_the_project_directory(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text(SAMPLE, encoding="utf-8")
    spec = load_spec(tmp_path)
    assert spec.name == "fraud_detection"
    assert spec.path == str(tmp_path)
    assert load_spec(tmp_path / "workbench.toml") == spec


def test_load_spec_missing_directory_or_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "nope")
    assert "nope" in caught.value.message
    assert caught.value.hint == "create workbench.toml; see sample_projects/fraud_detection"
    with pytest.raises(SpecError) as caught:
        load_spec(str(tmp_path))
    assert str(tmp_path / "workbench.toml") in caught.value.message
    assert caught.value.hint == "create workbench.toml; see sample_projects/fraud_detection"


def test_load_spec_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "workbench.toml").write_text(edit('"int", default = 7', '"int", default = 7.5'))
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path)
    line = line_of(SAMPLE, "seed = {")
    assert caught.value.message.startswith(f"{tmp_path / 'workbench.toml'}:{line}: ")


# -- unknown keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field", "suggestion"),
    [
        ("[drift]", "[drfit]", "drfit", "drift"),
        ('name = "fraud_detection"', 'nmae = "fraud_detection"', "project.nmae", "name"),
        ("workers = 2", "worker = 2", "resources.worker", "workers"),
        (
            'function = "fraud_detection.steps:train"',
            'fucntion = "x:y"',
            "steps[1].fucntion",
            "function",
        ),
        ("cache = true", "cahce = true", "steps[1].cahce", "cache"),
        ("default = 7 }", "defualt = 7 }", "params.seed.defualt", "default"),
        ("primary =", "primray =", "evaluation.primray", "primary"),
        ('flavor = "sklearn"', 'flavour = "sklearn"', "register.flavour", "flavor"),
        ("replicas = 1", "replica = 1", "serving.replica", "replicas"),
        ("window =", "windwo =", "drift.windwo", "window"),
    ],
)
def test_unknown_keys_name_line_field_and_suggest(
    old: str, new: str, field: str, suggestion: str
) -> None:
    text = edit(old, new)
    error = fails(text)
    assert_error(error, line_of(text, new), field, "unknown", f"did you mean {suggestion!r}")


def test_unknown_key_far_from_any_lists_allowed_keys() -> None:
    text = edit("cache = true", "colour = 3")
    error = fails(text)
    assert_error(error, line_of(text, "colour"), "steps[1].colour", "allowed keys", "runner")
    assert "did you mean" not in error.hint


# -- project and steps --------------------------------------------------------------------


def test_missing_project_table() -> None:
    text = edit('[project]\nname = "tiny"\n', "", MINIMAL)
    assert_error(fails(text), None, "project", "missing [project] table")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ('name = "fraud_detection"', 'name = ""', "project.name", ("invalid project name",)),
        ('name = "fraud_detection"', 'name = "fraud detection"', "project.name", ("invalid",)),
        (
            'name = "fraud_detection"',
            "name = 3",
            "project.name",
            ("expected string, got integer 3",),
        ),
        (
            'description = "Card-fraud classifier on generated transactions"',
            'description = ["Card"]',
            "project.description",
            ("expected string, got array ['Card']",),
        ),
    ],
)
def test_project_fields(old: str, new: str, field: str, words: tuple[str, ...]) -> None:
    text = edit(old, new)
    assert_error(fails(text), line_of(text, new), field, *words)


def test_project_name_is_required_and_error_points_at_the_table() -> None:
    text = edit('name = "fraud_detection"\n', "")
    assert_error(fails(text), 1, "project.name", "missing")


def test_no_steps_is_an_error() -> None:
    error = fails('[project]\nname = "x"\n')
    assert_error(error, None, "steps", "at least one step")


def test_step_without_function_points_at_its_header() -> None:
    text = edit('function = "fraud_detection.steps:evaluate"\n', "")
    assert_error(fails(text), line_of(text, "[[steps]]", 2), "steps[2].function", "missing")


@pytest.mark.parametrize(
    "function",
    [
        "fraud_detection.steps.prepare",
        "fraud_detection.steps:",
        ":prepare",
        "1mod:fn",
        "a..b:c",
        "a:b:c",
        "a.b:c d",
    ],
)
def test_function_must_be_module_colon_function(function: str) -> None:
    text = edit('"fraud_detection.steps:prepare"', f'"{function}"')
    error = fails(text)
    assert_error(
        error,
        line_of(SAMPLE, "steps:prepare"),
        "steps[0].function",
        "module.path:function",
        repr(function),
    )


def test_step_names_are_identifiers_and_unique() -> None:
    text = edit('name = "train"', 'name = "prepare"')
    assert_error(
        fails(text), line_of(SAMPLE, 'name = "train"'), "steps[1].name", "already used by steps[0]"
    )
    text = edit('name = "train"', 'name = "the train"')
    assert_error(
        fails(text), line_of(SAMPLE, 'name = "train"'), "steps[1].name", "invalid step name"
    )


def test_step_params_must_be_declared() -> None:
    text = edit('params = ["model", "seed"]', 'params = ["model", "sead"]')
    error = fails(text)
    assert_error(
        error,
        line_of(text, "sead"),
        "steps[1].params[1]",
        "unknown parameter 'sead'",
        "did you mean 'seed'",
    )


def test_input_produced_by_a_later_step_says_which() -> None:
    text = edit('inputs = ["train"]', 'inputs = ["train", "metrics"]')
    text = edit(
        'inputs = ["model", "holdout"]',
        'inputs = ["model", "holdout"]\noutputs = ["metrics"]',
        text,
    )
    error = fails(text)
    assert_error(
        error,
        line_of(text, '"metrics"]'),
        "steps[1].inputs[1]",
        "later step",
        "'evaluate'",
        "steps[2]",
    )


def test_input_nobody_produces_lists_earlier_outputs() -> None:
    text = edit('inputs = ["model", "holdout"]', 'inputs = ["model", "holdot"]')
    error = fails(text)
    assert_error(
        error,
        line_of(text, "holdot"),
        "steps[2].inputs[1]",
        "not an output of any earlier step",
        "did you mean 'holdout'",
        "train, holdout, model",
    )


def test_input_of_the_first_step_and_own_output() -> None:
    text = edit(
        'outputs = ["train", "holdout"]', 'inputs = ["raw"]\noutputs = ["train", "holdout"]'
    )
    assert_error(fails(text), line_of(text, '["raw"]'), "steps[0].inputs[0]", "'raw'", "none")
    text = edit('inputs = ["train"]', 'inputs = ["model"]')
    assert_error(
        fails(text), line_of(text, 'inputs = ["model"]'), "steps[1].inputs[0]", "same step"
    )


def test_outputs_are_unique_across_steps() -> None:
    text = edit('outputs = ["model"]', 'outputs = ["holdout"]')
    assert_error(
        fails(text),
        line_of(text, 'outputs = ["holdout"]'),
        "steps[1].outputs[0]",
        "already produced by step 'prepare'",
    )
    text = edit('outputs = ["model"]', 'outputs = ["model", "model"]')
    assert_error(fails(text), line_of(text, '["model", "model"]'), "steps[1].outputs[1]", "twice")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            'runner = "task"',
            'runner = "torhc"',
            "steps[1].runner",
            ("unknown runner 'torhc'", "did you mean 'torch'"),
        ),
        (
            "distributed = true",
            'distributed = "yes"',
            "steps[1].distributed",
            ("expected boolean", "string 'yes'"),
        ),
        ("cache = true", "cache = 1", "steps[1].cache", ("expected boolean", "integer 1")),
        (
            'inputs = ["train"]',
            'inputs = "train"',
            "steps[1].inputs",
            ("expected list of strings", "string 'train'"),
        ),
        (
            'outputs = ["model"]',
            "outputs = [1]",
            "steps[1].outputs[0]",
            ("expected string, got integer 1",),
        ),
    ],
)
def test_step_field_types(old: str, new: str, field: str, words: tuple[str, ...]) -> None:
    text = edit(old, new)
    assert_error(fails(text), line_of(text, new), field, *words)


def test_steps_must_be_tables() -> None:
    error = fails('steps = "prepare"\n[project]\nname = "x"\n')
    assert_error(error, 1, "steps", "expected [[steps]]")


# -- params -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "default = 0.01,",
            'default = "fast",',
            "params.fraud_rate.default",
            ("expected float, got string 'fast'",),
        ),
        (
            "default = 7 }",
            "default = false }",
            "params.seed.default",
            ("expected int, got boolean false",),
        ),
        (
            "default = 7 }",
            "default = 7.0 }",
            "params.seed.default",
            ("expected int, got float 7.0",),
        ),
        (
            "default = true }",
            "default = 1 }",
            "params.balanced.default",
            ("expected bool, got integer 1",),
        ),
        (
            'default = "forest"',
            "default = 3",
            "params.model.default",
            ("expected str, got integer 3",),
        ),
        (
            '{ type = "int", default = 7 }',
            '{ type = "integer", default = 7 }',
            "params.seed.type",
            ("unknown type 'integer'", "int, float, str, bool"),
        ),
        ('{ type = "int", default = 7 }', '{ type = "int" }', "params.seed.default", ("missing",)),
        ('{ type = "int", default = 7 }', "{ default = 7 }", "params.seed.type", ("missing",)),
        (
            "default = 200_000, min = 1000",
            "default = 200_000, min = true",
            "params.n_rows.min",
            ("expected number",),
        ),
        (
            "default = 200_000, min = 1000",
            "default = 500, min = 1000",
            "params.n_rows.default",
            ("500 is below min 1000",),
        ),
        (
            "min = 0.0, max = 0.5",
            "min = 0.0, max = 0.001",
            "params.fraud_rate.default",
            ("above max",),
        ),
        ("min = 0.0, max = 0.5", "min = 0.6, max = 0.5", "params.fraud_rate.max", ("below min",)),
        (
            'default = "forest",',
            'default = "forest", min = 1,',
            "params.model.min",
            ("applies only to int and float",),
        ),
        (
            "default = true }",
            "default = true, max = 1 }",
            "params.balanced.max",
            ("applies only to int and float",),
        ),
        (
            'default = "forest"',
            'default = "tree"',
            "params.model.default",
            ("'tree' is not one of 'forest', 'logistic'",),
        ),
        (
            'choices = ["forest", "logistic"]',
            'choices = ["forest", 2]',
            "params.model.choices[1]",
            ("expected str, got integer 2",),
        ),
        (
            'choices = ["forest", "logistic"]',
            "choices = []",
            "params.model.choices",
            ("non-empty list",),
        ),
        (
            'choices = ["forest", "logistic"]',
            'choices = "forest"',
            "params.model.choices",
            ("non-empty list",),
        ),
        (
            "seed = { type",
            "seed = 7\nx = { type",
            "params.seed",
            ("expected a table, got integer 7",),
        ),
        (
            'help = "transactions to generate"',
            "help = 5",
            "params.n_rows.help",
            ("expected string",),
        ),
    ],
)
def test_param_validation(old: str, new: str, field: str, words: tuple[str, ...]) -> None:
    text = edit(old, new)
    assert_error(fails(text), line_of(text, new.split("\n")[0]), field, *words)


def test_param_error_in_sub_table_points_at_its_own_line() -> None:
    text = MINIMAL + '\n[params.lr]\ntype = "float"\nhelp = "rate"\ndefault = "fast"\n'
    assert_error(
        fails(text),
        line_of(text, 'default = "fast"'),
        "params.lr.default",
        "expected float, got string 'fast'",
    )
    assert (
        fails(text).message
        == f"{PATH}:{line_of(text, 'fast')}: params.lr.default: expected float, got string 'fast'"
    )


def test_param_bounds_must_be_finite() -> None:
    text = MINIMAL + '[params]\nlr = { type = "float", default = 0.1, max = inf }\n'
    assert_error(fails(text), line_of(text, "lr ="), "params.lr.max", "finite")


def test_param_names_are_identifiers() -> None:
    text = MINIMAL + '[params]\n"my lr" = { type = "float", default = 0.1 }\n'
    assert_error(fails(text), line_of(text, "my lr"), 'params."my lr"', "invalid parameter name")


def test_float_choices_accept_ints() -> None:
    text = MINIMAL + '[params]\nlr = { type = "float", default = 1, choices = [1, 0.5] }\n'
    assert parse_spec(text, PATH).params["lr"].choices == (1.0, 0.5)


# -- resources, evaluation, register, serving, drift ---------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("workers = 2", "workers = 0", "resources.workers", ("must be >= 1, got 0",)),
        ("workers = 2", "workers = 2.5", "resources.workers", ("expected integer, got float 2.5",)),
        (
            "workers = 2",
            "workers = true",
            "resources.workers",
            ("expected integer, got boolean true",),
        ),
        (
            "cpus_per_worker = 1",
            "cpus_per_worker = 0",
            "resources.cpus_per_worker",
            ("must be > 0",),
        ),
        (
            "cpus_per_worker = 1",
            'cpus_per_worker = "1"',
            "resources.cpus_per_worker",
            ("expected number, got string '1'",),
        ),
        (
            "gpus_per_worker = 0",
            "gpus_per_worker = -1",
            "resources.gpus_per_worker",
            ("must be >= 0",),
        ),
        (
            'primary = "auc"',
            'primary = "acu"',
            "evaluation.primary",
            ("not in metrics", "did you mean 'auc'"),
        ),
        (
            '"average_precision >= 0.3"]',
            '"average_precision => 0.3"]',
            "evaluation.gate[1]",
            ("malformed gate rule 'average_precision => 0.3'", "example"),
        ),
        (
            "max_regression = 0.01",
            "max_regression = -0.01",
            "evaluation.max_regression",
            ("must be >= 0",),
        ),
        (
            "higher_is_better = true",
            'higher_is_better = "yes"',
            "evaluation.higher_is_better",
            ("expected boolean",),
        ),
        (
            'metrics = ["auc", "average_precision"]',
            'metrics = "auc"',
            "evaluation.metrics",
            ("expected list of strings",),
        ),
        (
            'artifact = "model"',
            'artifact = "modle"',
            "register.artifact",
            ("not an output of any step", "did you mean 'model'"),
        ),
        (
            'flavor = "sklearn"',
            'flavor = "keras"',
            "register.flavor",
            ("unknown flavor 'keras'", "sklearn, pytorch, pyfunc"),
        ),
        (
            'model_name = "fraud"',
            'model_name = "fraud model"',
            "register.model_name",
            ("invalid model name",),
        ),
        (
            'route_prefix = "/fraud"',
            'route_prefix = "fraud"',
            "serving.route_prefix",
            ("must start with '/'",),
        ),
        ("replicas = 1", "replicas = 0", "serving.replicas", ("must be >= 1",)),
        (
            "max_batch_size = 32",
            "max_batch_size = 3.2",
            "serving.max_batch_size",
            ("expected integer",),
        ),
        (
            "batch_wait_timeout_s = 0.005",
            "batch_wait_timeout_s = -1",
            "serving.batch_wait_timeout_s",
            ("must be >= 0",),
        ),
        (
            'features = ["amount", "hour"]',
            'features = ["amount", 3]',
            "drift.features[1]",
            ("expected string, got integer 3",),
        ),
        ("psi_threshold = 0.2", "psi_threshold = 0", "drift.psi_threshold", ("must be > 0",)),
        ('window = "1h"', 'window = "an hour"', "drift.window", ("expected a duration",)),
    ],
)
def test_section_validation(old: str, new: str, field: str, words: tuple[str, ...]) -> None:
    text = edit(old, new)
    assert_error(fails(text), line_of(text, new), field, *words)


def test_register_requires_model_name_and_artifact() -> None:
    text = edit('model_name = "fraud"\n', "")
    assert_error(fails(text), line_of(text, "[register]"), "register.model_name", "missing")
    text = edit('artifact = "model"\n', "")
    assert_error(fails(text), line_of(text, "[register]"), "register.artifact", "missing")


def test_max_regression_needs_a_primary_metric() -> None:
    text = edit('primary = "auc"\n', "")
    assert_error(
        fails(text), line_of(text, "max_regression"), "evaluation.max_regression", "primary"
    )


def test_section_of_wrong_type() -> None:
    assert parse_spec(MINIMAL + "[resources]\n", PATH).resources == Resources()
    error = fails("resources = 3\n" + MINIMAL)
    assert_error(error, 1, "resources", "expected table, got integer 3")


# -- line locator -------------------------------------------------------------------------


def test_locate_fields_handles_multiline_values_strings_and_nesting() -> None:
    text = '''\
# a comment with [brackets] and key = value
[project]
name = "p"  # trailing [comment]
description = """
a = [not, a, key]
[not.a.table]
"""
"quoted.key" = "it\\"s" 
dotted.inner = 1

[evaluation]
gate = [
    "auc >= 0.9",  # first
    # between
    "ap > 0.2",
]
table = { a = 1, b = { c = [1, 2] } }

[[steps]]
name = "a"
[[steps.sub]]
x = 1
[[steps]]
name = "b"
[[steps.sub]]
x = 2
[[steps.sub]]
x = 3
'''
    assert tomllib.loads(text)["project"]["quoted.key"] == 'it"s'
    lines = locate_fields(text)
    assert lines[("project",)] == 2
    assert lines[("project", "name")] == 3
    assert lines[("project", "description")] == 4
    assert lines[("project", "quoted.key")] == 8
    assert lines[("project", "dotted", "inner")] == 9
    assert lines[("evaluation", "gate", 0)] == 13
    assert lines[("evaluation", "gate", 1)] == 15
    assert lines[("evaluation", "table", "b", "c", 1)] == 17
    assert lines[("steps", 0, "name")] == 20
    assert lines[("steps", 0, "sub", 0, "x")] == 22
    assert lines[("steps", 1, "name")] == 24
    assert lines[("steps", 1, "sub", 0, "x")] == 26
    assert lines[("steps", 1, "sub", 1, "x")] == 28
    assert ("not", "a", "table") not in lines


def test_multiline_gate_error_points_at_the_bad_rule() -> None:
    text = edit(
        'gate = ["auc >= 0.90", "average_precision >= 0.3"]',
        'gate = [\n    "auc >= 0.90",\n    "auc = 0.3",\n]',
    )
    assert_error(fails(text), line_of(text, '"auc = 0.3"'), "evaluation.gate[1]", "malformed")


# -- resolve_params -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> ProjectSpec:
    return parse_spec(SAMPLE, PATH)


def test_resolve_params_defaults(spec: ProjectSpec) -> None:
    assert resolve_params(spec, {}) == {
        "n_rows": 200_000,
        "fraud_rate": 0.01,
        "model": "forest",
        "balanced": True,
        "seed": 7,
    }


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("n_rows", "5000", 5000),
        ("n_rows", "5_000", 5000),
        ("n_rows", " 2000 ", 2000),
        ("fraud_rate", "0.05", 0.05),
        ("fraud_rate", "1e-3", 0.001),
        ("fraud_rate", "0", 0.0),
        ("model", "logistic", "logistic"),
        ("balanced", "false", False),
        ("balanced", "No", False),
        ("balanced", "0", False),
        ("balanced", "TRUE", True),
        ("balanced", "yes", True),
        ("balanced", "1", True),
        ("seed", "-3", -3),
    ],
)
def test_resolve_params_converts(spec: ProjectSpec, name: str, raw: str, value: object) -> None:
    resolved = resolve_params(spec, {name: raw})
    assert resolved[name] == value
    assert type(resolved[name]) is type(value)
    others = {k: v for k, v in resolved.items() if k != name}
    assert others == {k: v for k, v in resolve_params(spec, {}).items() if k != name}


@pytest.mark.parametrize(
    ("name", "raw", "words"),
    [
        ("n_rows", "abc", ("parameter 'n_rows' expects int, got 'abc'",)),
        ("n_rows", "5000.0", ("expects int",)),
        ("fraud_rate", "fast", ("parameter 'fraud_rate' expects float, got 'fast'",)),
        ("fraud_rate", "nan", ("expects float",)),
        ("balanced", "maybe", ("expects bool", "true/false")),
        ("n_rows", "10", ("below min 1000",)),
        ("fraud_rate", "0.9", ("above max 0.5",)),
        ("model", "tree", ("'tree' is not one of 'forest', 'logistic'",)),
    ],
)
def test_resolve_params_rejects(
    spec: ProjectSpec, name: str, raw: str, words: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        resolve_params(spec, {name: raw})
    for word in words:
        assert word in caught.value.message + " " + caught.value.hint


def test_resolve_params_unknown_name(spec: ProjectSpec) -> None:
    with pytest.raises(InvalidInputError) as caught:
        resolve_params(spec, {"n_row": "5"})
    assert caught.value.message == "unknown parameter 'n_row'"
    assert "did you mean 'n_rows'" in caught.value.hint
    assert "n_rows, fraud_rate, model, balanced, seed" in caught.value.hint
    with pytest.raises(InvalidInputError) as caught:
        resolve_params(spec, {"zzz": "5"})
    assert "did you mean" not in caught.value.hint


def test_resolve_params_accepts_typed_values(spec: ProjectSpec) -> None:
    assert resolve_params(spec, {"fraud_rate": 0.1, "n_rows": 2000})["fraud_rate"] == 0.1
    with pytest.raises(InvalidInputError):
        resolve_params(spec, {"n_rows": True})
