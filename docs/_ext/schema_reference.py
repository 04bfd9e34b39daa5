"""Sphinx extension: the configuration reference, generated from the JSON schema.

``.. config-reference:: PATH`` (PATH relative to the page) reads the config schema
(JSON Schema draft 2020-12 written in YAML) on every build and inserts one section per
top-level key with a table of every key below it (type and allowed values, required,
default, description), then one section per ``$defs`` entry. A ``$defs`` entry whose
``type`` selects one of several definitions with ``if``/``then`` (synapse, biophysics,
probe) gets one table per type, with the keys of the shared base merged in. The page
is re-read whenever the schema changes (``env.note_dependency``), so it cannot drift
from the schema.

:func:`schema_to_rst` does the work and is plain Python (the docs test calls it too);
:func:`property_names` lists every property name of a schema.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList
from sphinx.util.nodes import nested_parse_with_titles

LABEL = "config-def-"


# ------------------------------------------------------------------ schema walking
def property_names(schema):
    """Every key of every ``properties`` mapping in ``schema`` (a set of str)."""
    names = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                names.update(value)
            names |= property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= property_names(value)
    return names


def _ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def _branches(definition):
    """[(type value, $defs name)] of a definition whose ``type`` selects a sub-schema
    with ``if: {properties: {type: {const: ...}}} then: {$ref: ...}``."""
    out = []
    for part in definition.get("allOf", []):
        condition = part.get("if", {}).get("properties", {}).get("type", {})
        then = part.get("then", {})
        if "const" in condition and "$ref" in then:
            out.append((condition["const"], _ref_name(then["$ref"])))
    return out


# ------------------------------------------------------------------ text helpers
def _inline(text):
    """Schema prose as reST: `code` becomes a literal, markup characters are escaped."""
    text = " ".join(str(text).split())
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(f"``{part[1:-1]}``")
        else:
            part = part.replace("\\", "\\\\")
            for char in "*|_`[":
                part = part.replace(char, "\\" + char)
            out.append(part)
    return "".join(out)


def _literal(value):
    """A JSON value as a reST literal (YAML spelling of booleans and null)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return f"``{text}``"


def _ref(name):
    return f":ref:`{name} <{LABEL}{name.lower()}>`"


def _number(value):
    return json.dumps(value)


def type_text(schema):
    """Type, allowed values and constraints of a sub-schema, as one line of reST."""
    if schema is True or schema == {}:
        return "any"
    if not isinstance(schema, dict):
        return _inline(schema)
    parts = []
    if "$ref" in schema:
        parts.append(_ref(_ref_name(schema["$ref"])))
    if "const" in schema:
        parts.append(_literal(schema["const"]))
    if "enum" in schema:
        parts.append("one of " + ", ".join(_literal(v) for v in schema["enum"]))
    for key, joiner in (("oneOf", " or "), ("anyOf", " or ")):
        if key in schema:
            parts.append(joiner.join(type_text(s) for s in schema[key]))
    if "allOf" in schema and not _branches(schema):
        parts.append(" with ".join(type_text(s) for s in schema["allOf"]))
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if "array" in kinds:
            parts.append(_array_text(schema))
        elif "object" in kinds:
            parts.append(_object_text(schema))
        else:
            parts.append(" or ".join(kinds))
    bounds = [
        (">", "exclusiveMinimum"),
        (">=", "minimum"),
        ("<", "exclusiveMaximum"),
        ("<=", "maximum"),
    ]
    constraints = [f"{op} {_number(schema[key])}" for op, key in bounds if key in schema]
    if "pattern" in schema:
        constraints.append(f"matching ``{schema['pattern']}``")
    if constraints:
        parts.append(", ".join(constraints))
    return ", ".join(p for p in parts if p) or "any"


def _array_text(schema):
    low, high = schema.get("minItems"), schema.get("maxItems")
    if low is not None and low == high:
        size = f"{low} "
    elif low is not None and high is not None:
        size = f"{low} to {high} "
    elif low is not None:
        size = f">= {low} "
    else:
        size = ""
    items = schema.get("items")
    of = f" of {type_text(items)}" if items not in (None, True) else ""
    if isinstance(items, dict) and "properties" in items and "$ref" not in items:
        of = " of objects (keys below)"
    return f"array{' (' + size.strip() + ' items)' if size else ''}{of}"


def _object_text(schema):
    extra = schema.get("additionalProperties")
    names = schema.get("propertyNames")
    key = type_text(names) if names else "string"
    if isinstance(extra, dict):
        if "properties" in extra and "$ref" not in extra:
            return f"mapping: {key} -> object (keys below)"
        return f"mapping: {key} -> {type_text(extra)}"
    if "properties" in schema:
        return "object (keys below)"
    return "object"


def _description(schema, defs):
    if not isinstance(schema, dict):
        return ""
    if "description" in schema:
        return _inline(schema["description"])
    if "$ref" in schema:
        target = defs.get(_ref_name(schema["$ref"]), {})
        if "description" in target:
            return _inline(target["description"])
    if "const" in schema:
        return "selects this type"
    return ""


# ------------------------------------------------------------------ key rows
def key_rows(schema, defs, prefix="", required=()):
    """Rows (key, type, required, default, description) of every key under ``schema``,
    depth first; nested objects are flattened into dotted keys (``<name>`` for
    mapping keys, ``[]`` for list items)."""
    rows = []
    if not isinstance(schema, dict):
        return rows
    required = set(required) | set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        sub_schema = sub if isinstance(sub, dict) else {}
        rows.append(
            (
                key,
                type_text(sub),
                "yes" if name in required else "",
                _literal(sub_schema["default"]) if "default" in sub_schema else "",
                _description(sub_schema, defs),
            )
        )
        rows.extend(nested_rows(sub_schema, defs, key))
    return rows


def nested_rows(schema, defs, key):
    """Rows of the keys inside the value of ``key`` (objects, mappings, list items,
    and inline alternatives of oneOf/anyOf/allOf)."""
    rows = []
    if "$ref" in schema:
        return rows
    if "properties" in schema:
        rows.extend(key_rows(schema, defs, f"{key}."))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        if "properties" in extra:
            rows.extend(key_rows(extra, defs, f"{key}.<name>."))
        else:
            rows.extend(nested_rows(extra, defs, f"{key}.<name>"))
    items = schema.get("items")
    if isinstance(items, dict):
        if "properties" in items:
            rows.extend(key_rows(items, defs, f"{key}[]."))
        else:
            rows.extend(nested_rows(items, defs, f"{key}[]"))
    for combinator in ("oneOf", "anyOf", "allOf"):
        for alternative in schema.get(combinator, []):
            if isinstance(alternative, dict) and "$ref" not in alternative:
                if "properties" in alternative:
                    rows.extend(key_rows(alternative, defs, f"{key}."))
                else:
                    rows.extend(nested_rows(alternative, defs, key))
    return rows


def _table(rows, key_title="Key"):
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 26 8 10 34",
        "",
        f"   * - {key_title}",
        "     - Type and allowed values",
        "     - Required",
        "     - Default",
        "     - Description",
    ]
    for key, kind, required, default, description in rows:
        lines += [
            f"   * - ``{key}``",
            f"     - {kind}",
            f"     - {required}",
            f"     - {default}",
            f"     - {description}",
        ]
    return lines + [""]


def _heading(text, char):
    return [text, char * max(len(text), 4), ""]


# ------------------------------------------------------------------ the page
def _merged(definition, defs):
    """A definition with the properties and required keys of its ``allOf`` $refs."""
    merged = {
        "properties": {},
        "required": list(definition.get("required", [])),
    }
    for part in definition.get("allOf", []):
        if isinstance(part, dict) and "$ref" in part:
            base = defs[_ref_name(part["$ref"])]
            merged["properties"].update(base.get("properties", {}))
            merged["required"] += base.get("required", [])
    for name, sub in definition.get("properties", {}).items():
        if sub is True and name in merged["properties"]:
            continue  # declared here only to be allowed; described by the base
        merged["properties"][name] = sub
    return merged


def _definition_lines(name, definition, defs):
    lines = [f".. _{LABEL}{name.lower()}:", ""]
    lines += _heading(f"{name}", "~")
    if "description" in definition:
        lines += [_inline(definition["description"]), ""]
    branches = _branches(definition)
    if branches:
        lines += [
            f"The key ``type`` selects one of {len(branches)} types: "
            + ", ".join(_ref(target) for _, target in branches)
            + ".",
            "",
        ]
        for value, target in branches:
            sub = defs[target]
            merged = _merged(sub, defs)
            for key, base in definition.get("properties", {}).items():
                merged["properties"].setdefault(key, base)
            merged["required"] += definition.get("required", [])
            # the discriminator keeps the base's description
            merged["properties"]["type"] = {
                "const": value,
                "description": definition.get("properties", {})
                .get("type", {})
                .get("description", "selects this type"),
            }
            lines += [f".. _{LABEL}{target.lower()}:", ""]
            lines += _heading(f"{name} type ``{value}``", "^")
            if "description" in sub:
                lines += [_inline(sub["description"]), ""]
            rows = key_rows(merged, defs)
            lines += _table(rows) if rows else ["Only ``type``.", ""]
        return lines
    if "properties" in definition or any(
        isinstance(p, dict) and "$ref" in p for p in definition.get("allOf", [])
    ):
        rows = key_rows(_merged(definition, defs), defs)
        extra = definition.get("additionalProperties")
        if isinstance(extra, dict):
            lines += [f"Other keys: {type_text(extra)}.", ""]
        elif extra is not False and "properties" in definition:
            lines += ["Other keys are passed on as they are (the probe's parameters).", ""]
        lines += _table(rows) if rows else []
    else:
        lines += [f"Type: {type_text(definition)}.", ""]
        if "default" in definition:
            lines += [f"Default: {_literal(definition['default'])}.", ""]
    for combinator in ("oneOf", "anyOf"):
        rows = []
        for alternative in definition.get(combinator, []):
            if isinstance(alternative, dict) and "properties" in alternative:
                rows += key_rows(alternative, defs)
        if rows:
            lines += _table(rows)
    return lines


def schema_to_rst(schema):
    """The configuration reference of ``schema`` (a dict) as reST lines."""
    defs = schema.get("$defs", {})
    top = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = []
    if "description" in schema:
        lines += [_inline(schema["description"]), ""]
    lines += _heading("Sections", "-")
    lines += [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 20 10 70",
        "",
        "   * - Section",
        "     - Required",
        "     - Description",
    ]
    for name, sub in top.items():
        lines += [
            f"   * - :ref:`{name} <config-section-{name}>`",
            f"     - {'yes' if name in required else ''}",
            f"     - {_description(sub, defs)}",
        ]
    lines.append("")
    for name, sub in top.items():
        lines += [f".. _config-section-{name}:", ""]
        lines += _heading(f"``{name}``", "~")
        facts = ["required" if name in required else "optional", type_text(sub)]
        lines += [f"*{facts[0]}*; {facts[1]}.", ""]
        if isinstance(sub, dict) and "description" in sub:
            lines += [_inline(sub["description"]), ""]
        rows = nested_rows(sub, defs, name) if isinstance(sub, dict) else []
        if rows:
            lines += _table(rows)
    lines += _heading("Definitions", "-")
    lines += [
        "Shared parts of the schema (``$defs``), referred to from the tables above.",
        "",
    ]
    shown = {target for d in defs.values() for _, target in _branches(d)}
    for name, definition in defs.items():
        if name not in shown:
            lines += _definition_lines(name, definition, defs)
    return lines


class ConfigReference(Directive):
    """``.. config-reference:: path/to/config.schema.yaml``"""

    required_arguments = 1
    has_content = False

    def run(self):
        env = self.state.document.settings.env
        source = Path(self.state.document.current_source).parent
        path = (source / self.arguments[0]).resolve()
        env.note_dependency(str(path))
        schema = yaml.safe_load(path.read_text())
        container = nodes.section()
        container.document = self.state.document
        lines = StringList(schema_to_rst(schema), source=str(path))
        nested_parse_with_titles(self.state, lines, container)
        return container.children


def setup(app):
    app.add_directive("config-reference", ConfigReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
