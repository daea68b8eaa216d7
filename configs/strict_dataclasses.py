"""Strict parsing of nested dataclasses from JSON values and `dotted.key=value` overrides.

Nothing here is about BERT: it turns plain values into a tree of typed dataclasses and back, failing with
the dotted key of the first thing that does not fit (an unknown key, a missing one, a value of the wrong
type, a key that was renamed). `configs.run_config` is its one user.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from typing import Any


def check(condition: bool, message: str) -> None:
    """Raises ValueError(message) unless `condition` holds: the validations' one way of failing."""
    if not condition:
        raise ValueError(message)


def field_types(cls: type) -> dict[str, Any]:
    """A dataclass's field names and their (resolved) type hints."""
    return typing.get_type_hints(cls)


def _unknown_key(key: str, renamed: Mapping[str, str] | None) -> ValueError:
    if renamed and key in renamed:
        return ValueError(f"config key {key!r} was renamed to {renamed[key]!r}")
    return ValueError(f"unknown config key {key!r}")


def typed(key: str, value: Any, hint: Any) -> Any:
    """`value` as the type `hint` asks (an int where a float is asked becomes a float, an object where a dataclass
    is asked becomes one: its keys known, those it leaves out at their defaults); ValueError naming `key`
    (`key[1].field` inside a list)."""
    try:
        return _coerce(value, hint, key)
    except TypeError:
        expected = hint.__name__ if isinstance(hint, type) else str(hint)
        raise ValueError(f"config key {key!r} expects {expected}, got {value!r}") from None


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        for arg in args:
            try:
                return _coerce(value, arg, key)
            except TypeError:
                continue
        raise TypeError(hint)
    if hint is type(None):
        if value is None:
            return None
        raise TypeError(hint)
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        # An object inside a list (`trainer.later_phases`) may leave out keys: their defaults apply.
        return from_dict(hint, {**dataclasses.asdict(hint()), **value}, prefix=key + ".")
    if origin is list and isinstance(value, list):
        return [typed(f"{key}[{index}]", item, args[0]) for index, item in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {_coerce(k, args[0], key): typed(f"{key}.{k}", v, args[1]) for k, v in value.items()}
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise TypeError(hint)


def from_dict(cls: type, values: Mapping[str, Any], prefix: str = "", renamed: Mapping[str, str] | None = None) -> Any:
    """A `cls` built from `dataclasses.asdict`-shaped values, every key present and known.

    Args:
        cls: the dataclass to build; fields that are dataclasses are built from nested objects.
        values: the plain values.
        prefix: the dotted key of `values` in the whole tree (`"trainer."`), for error messages.
        renamed: old dotted keys -> new ones, so a renamed key's error names its new name.

    Raises ValueError naming the first unknown, renamed or missing key, or a value of the wrong type.
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"config key {prefix.rstrip('.')!r} is a section; expected an object, got {values!r}")
    hints = field_types(cls)
    unknown = sorted(set(values) - set(hints))
    if unknown:
        error = _unknown_key(prefix + unknown[0], renamed)
        raise ValueError(str(error) + (f" (and {unknown[1:]})" if unknown[1:] else ""))
    missing = sorted(set(hints) - set(values))
    if missing:
        raise ValueError(
            f"missing config key {prefix + missing[0]!r}" + (f" (and {missing[1:]})" if missing[1:] else "")
        )
    kwargs = {}
    for name, hint in hints.items():
        if dataclasses.is_dataclass(hint):
            kwargs[name] = from_dict(hint, values[name], prefix + name + ".", renamed)
        else:
            kwargs[name] = typed(prefix + name, values[name], hint)
    return cls(**kwargs)


def apply_overrides(root: Any, overrides: list[str], renamed: Mapping[str, str] | None = None) -> None:
    """Sets `section.key=value` overrides on the dataclass tree `root`, in place.

    Values are parsed as JSON where they parse (numbers, booleans, null, lists, objects) and kept as strings
    otherwise, then checked against the field's type. Raises ValueError for a malformed override, an unknown or
    renamed key, a section where a field is expected, or a value of the wrong type.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} is not of the form section.key=value")
        target: Any = root
        parts = key.split(".")
        for part in parts[:-1]:
            if not dataclasses.is_dataclass(target) or not hasattr(target, part):
                raise _unknown_key(key, renamed)
            target = getattr(target, part)
        leaf = parts[-1]
        if not dataclasses.is_dataclass(target) or leaf not in field_types(type(target)):
            raise _unknown_key(key, renamed)
        if dataclasses.is_dataclass(getattr(target, leaf)):
            raise ValueError(f"config key {key!r} is a section; set one of its fields")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        setattr(target, leaf, typed(key, value, field_types(type(target))[leaf]))
