"""Every GraphQL document the client can send is valid against Railway's published
schema, and the stand-in's fallback subset agrees with that schema.

Nothing here is skipped when Railway's schema is present beside the checkout or one
of its parents (shared/reference/railway/schema.graphql), as it is in development."""

from __future__ import annotations

import graphql
import pytest

from bench import per_variable
from devkit.railway_standin import REFERENCE_SCHEMA, SUBSET_SCHEMA
from vpmigrate.railway.api import DOCUMENTS, sample_documents

EVERY_DOCUMENT = {**DOCUMENTS, **sample_documents()}
BENCH_DOCUMENTS = per_variable.DOCUMENTS

needs_reference = pytest.mark.skipif(
    not REFERENCE_SCHEMA.is_file(), reason=f"{REFERENCE_SCHEMA} is not present on this machine"
)


@pytest.fixture(scope="module")
def railway_schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(REFERENCE_SCHEMA.read_text(), assume_valid=True)


@needs_reference
@pytest.mark.parametrize("name", sorted(EVERY_DOCUMENT))
def test_document_validates_against_railway_schema(
    railway_schema: graphql.GraphQLSchema, name: str
) -> None:
    document = graphql.parse(EVERY_DOCUMENT[name])
    assert graphql.validate(railway_schema, document) == []
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, graphql.OperationDefinitionNode) and d.name
    ]
    assert names == [name.split()[0]]  # the client sends operationName=<name>


def _root_fields(text: str) -> list[graphql.FieldNode]:
    operation = graphql.parse(text).definitions[0]
    assert isinstance(operation, graphql.OperationDefinitionNode)
    return [s for s in operation.selection_set.selections if isinstance(s, graphql.FieldNode)]


def test_every_variables_read_keeps_references_unrendered() -> None:
    reads = [text for name, text in EVERY_DOCUMENT.items() if name.startswith("Variables")]
    assert reads
    for text in reads:
        for field in _root_fields(text):
            arguments = {a.name.value: graphql.print_ast(a.value) for a in field.arguments}
            assert field.name.value == "variables"
            assert arguments["unrendered"] == "true"


def test_every_upsert_skips_deploys_and_never_replaces() -> None:
    """The write document's inputs come as variables; their shape is fixed in the client."""
    from vpmigrate.railway.api import writes_document

    fields = _root_fields(writes_document([("w0", "upsert"), ("w1", "delete")]))
    assert [f.name.value for f in fields] == ["variableCollectionUpsert", "variableDelete"]
    assert [f.alias.value for f in fields if f.alias] == ["w0", "w1"]


@needs_reference
@pytest.mark.parametrize("name", sorted(BENCH_DOCUMENTS))
def test_the_benchmark_references_send_valid_documents(
    railway_schema: graphql.GraphQLSchema, name: str
) -> None:
    assert graphql.validate(railway_schema, graphql.parse(BENCH_DOCUMENTS[name])) == []


@needs_reference
def test_subset_schema_matches_railway_schema(railway_schema: graphql.GraphQLSchema) -> None:
    subset = graphql.build_schema(SUBSET_SCHEMA.read_text())
    problems = []
    for name, subset_type in subset.type_map.items():
        if name.startswith("__") or name in graphql.specified_scalar_types:
            continue
        real = railway_schema.type_map.get(name)
        if real is None or type(real) is not type(subset_type):
            problems.append(f"{name}: missing or of another kind in Railway's schema")
            continue
        if not hasattr(subset_type, "fields"):
            continue
        for field_name, field in subset_type.fields.items():
            real_field = real.fields.get(field_name)  # type: ignore[attr-defined]
            if real_field is None or str(real_field.type) != str(field.type):
                problems.append(f"{name}.{field_name}: type differs or missing")
                continue
            for arg, value in getattr(field, "args", {}).items():
                if arg not in real_field.args or str(real_field.args[arg].type) != str(value.type):
                    problems.append(f"{name}.{field_name}({arg}): differs")
        if isinstance(real, graphql.GraphQLInputObjectType):
            for field_name, field in real.fields.items():
                if graphql.is_non_null_type(field.type) and field_name not in subset_type.fields:
                    problems.append(f"{name}.{field_name}: required in Railway's schema")
    assert problems == []


def test_documents_validate_against_the_subset_the_standin_falls_back_to() -> None:
    subset = graphql.build_schema(SUBSET_SCHEMA.read_text())
    for operation, text in EVERY_DOCUMENT.items():
        assert graphql.validate(subset, graphql.parse(text)) == [], operation


def test_the_reference_schema_is_found_from_a_worktree_too() -> None:
    """A checkout one level deeper (a git worktree) still finds ../shared/reference."""
    from devkit.railway_standin import REPO_ROOT

    candidates = [
        folder / "shared" / "reference" / "railway" / "schema.graphql"
        for folder in REPO_ROOT.parents
    ]
    present = [c for c in candidates if c.is_file()]
    assert (REFERENCE_SCHEMA in present) or not present
