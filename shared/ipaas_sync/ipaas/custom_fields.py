"""iPaaS.com custom fields: the one reader (every shape the references name) and the one writer of an item."""

from __future__ import annotations

from typing import Any

# -- custom fields: the one reader and the one item writer -------------------------------------------------
# iPaaS.com's published read shape is a list of {id, custom_field_name, value} (reference: to-ipaas-and-more.md,
# section 5, GenericCustomFieldResponse); the nested write shape is {custom_field_name, value} (id optional).
# Older samples of this project use {name, value} (or Name/Value) and a plain {name: value} object: read as well.
_NAME_KEYS = ("custom_field_name", "name", "Name")
_VALUE_KEYS = ("value", "Value")


def custom_field_name(item: Any) -> str | None:
    """The name of one custom field item (any accepted shape), stripped; None when it names none."""
    if not isinstance(item, dict):
        return None
    for k in _NAME_KEYS:
        if item.get(k) not in (None, ""):
            return str(item[k]).strip()
    return None


def custom_field_values(fields: Any) -> dict[str, Any]:
    """A record's custom fields as {name: value}, whatever shape it came in (see above). The first item of a
    name wins; items without a name are ignored."""
    if isinstance(fields, dict):
        return {str(k).strip(): v for k, v in fields.items()}
    out: dict[str, Any] = {}
    for item in fields if isinstance(fields, list) else []:
        name = custom_field_name(item)
        if name is not None and name not in out:
            out[name] = next((item[k] for k in _VALUE_KEYS if k in item), None)
    return out


def custom_field(fields: Any, name: str) -> Any:
    """One custom field's value (any accepted shape), else None."""
    return custom_field_values(fields).get(name)


def custom_field_item(name: str, value: str) -> dict[str, str]:
    """One custom field as iPaaS.com's nested write takes it: {custom_field_name, value} (both required)."""
    return {"custom_field_name": name, "value": value}
