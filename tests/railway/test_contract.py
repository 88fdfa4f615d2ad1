"""Every GraphQL document the client can send is valid against Railway's published
schema, and the stand-in's fallback subset agrees with that schema."""

from __future__ import annotations

import graphql
import pytest

from tests.railway.standin import REFERENCE_SCHEMA, SUBSET_SCHEMA
from vpmigrate.railway.api import DOCUMENTS

needs_reference = pytest.mark.skipif(
    not REFERENCE_SCHEMA.is_file(), reason=f"{REFERENCE_SCHEMA} is not present on this machine"
)


@pytest.fixture(scope="module")
def railway_schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(REFERENCE_SCHEMA.read_text(), assume_valid=True)


@needs_reference
@pytest.mark.parametrize("operation", sorted(DOCUMENTS))
def test_document_validates_against_railway_schema(
    railway_schema: graphql.GraphQLSchema, operation: str
) -> None:
    document = graphql.parse(DOCUMENTS[operation])
    assert graphql.validate(railway_schema, document) == []
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, graphql.OperationDefinitionNode) and d.name
    ]
    assert names == [operation]  # the client sends operationName=<key>


@needs_reference
def test_the_variables_read_keeps_references_unrendered() -> None:
    document = graphql.parse(DOCUMENTS["Variables"])
    field = document.definitions[0].selection_set.selections[0]  # type: ignore[attr-defined]
    arguments = {a.name.value: graphql.print_ast(a.value) for a in field.arguments}
    assert arguments["unrendered"] == "true"


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
    for operation, text in DOCUMENTS.items():
        assert graphql.validate(subset, graphql.parse(text)) == [], operation
