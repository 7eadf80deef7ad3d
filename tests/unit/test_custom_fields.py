"""The one custom field reader (mapping.common.custom_field_values) and every mapping that reads a custom field."""

from __future__ import annotations

import pytest

from ipaas_sync.ipaas import custom_fields as common

PUBLISHED = [
    {"id": 11, "custom_field_name": "LoyaltyPointsClaimed", "value": "150"},
    {"id": 12, "custom_field_name": "Gift Wrap", "value": "yes"},
]


@pytest.mark.parametrize(
    "fields",
    [
        PUBLISHED,  # iPaaS.com's published read shape (reference section 5, GenericCustomFieldResponse)
        [{"name": "LoyaltyPointsClaimed", "value": "150"}, {"name": "Gift Wrap", "value": "yes"}],
        [{"Name": "LoyaltyPointsClaimed", "Value": "150"}, {"Name": "Gift Wrap", "Value": "yes"}],
        {"LoyaltyPointsClaimed": "150", "Gift Wrap": "yes"},
    ],
)
def test_every_shape_the_references_name_reads_the_same(fields):
    assert common.custom_field_values(fields) == {"LoyaltyPointsClaimed": "150", "Gift Wrap": "yes"}
    assert common.custom_field(fields, "LoyaltyPointsClaimed") == "150"
    assert common.custom_field(fields, "Other") is None


@pytest.mark.parametrize("fields", [None, [], {}, "text", [None, 3, {"value": "no name"}]])
def test_absent_or_unnamed_custom_fields_read_as_none(fields):
    assert common.custom_field_values(fields) == {}


def test_the_first_item_of_a_name_wins_and_names_are_stripped():
    fields = [{"custom_field_name": " Points ", "value": "1"}, {"custom_field_name": "Points", "value": "2"}]
    assert common.custom_field_values(fields) == {"Points": "1"}
