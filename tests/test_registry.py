from typing import Literal

import pytest

from kgzsl.errors import ConfigError
from kgzsl.registry import CLASSIFIERS, DATASETS, KNOWLEDGE, METHODS, SEMANTICS, Registry, check_type, get_registry


def make_registry():
    reg = Registry("widgets")

    @reg.register("box")
    class Box:
        """A box."""

        def __init__(
            self, size: int = 3, ratio: float = 1.0, mode: Literal["a", "b"] = "a", tags: list[str] | None = None
        ):
            self.size, self.ratio, self.mode, self.tags = size, ratio, mode, tags

    @reg.register("needs")
    class Needs:
        def __init__(self, path: str, k: int = 1):
            self.path, self.k = path, k

    return reg, Box


def test_register_and_build_with_defaults_and_params():
    reg, box_cls = make_registry()
    assert reg.names() == ["box", "needs"]
    box = reg.build("box", size=5, ratio=2)  # an int is a valid float
    assert isinstance(box, box_cls) and box.size == 5 and box.ratio == 2 and box.mode == "a"
    assert reg.defaults("box") == {"size": 3, "ratio": 1.0, "mode": "a", "tags": None}
    assert box_cls.registry_name == "box"
    assert reg.describe("box") == "A box."


def test_unknown_name_lists_valid_names_and_suggests():
    reg, _ = make_registry()
    with pytest.raises(ConfigError, match=r"unknown widgets 'bx' \(did you mean 'box'\?\); valid: box, needs"):
        reg.build("bx")


def test_unknown_parameter_names_key_path_and_valid_parameters():
    reg, _ = make_registry()
    with pytest.raises(
        ConfigError, match=r"method\.sise: unknown parameter .*did you mean 'size'.*valid: size, ratio, mode, tags"
    ):
        reg.build("box", where="method", sise=4)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"size": "big"}, r"widgets\.size: expected int, got str 'big'"),
        ({"size": True}, r"expected int, got bool"),
        ({"ratio": "x"}, r"expected float"),
        ({"mode": "c"}, r"widgets\.mode: expected Literal"),
        ({"tags": [1, 2]}, r"widgets\.tags: expected"),
    ],
)
def test_wrong_types_are_one_clear_error(params, message):
    reg, _ = make_registry()
    with pytest.raises(ConfigError, match=message):
        reg.build("box", **params)


def test_missing_required_parameter():
    reg, _ = make_registry()
    with pytest.raises(ConfigError, match=r"needs parameter\(s\) path"):
        reg.build("needs")
    assert reg.build("needs", path="x").path == "x"


def test_duplicate_registration_is_refused():
    reg, _ = make_registry()
    with pytest.raises(ValueError, match="already has"):

        @reg.register("box")
        class Other:
            pass


def test_check_type_cases():
    assert check_type(None, int | None)
    assert check_type([1, 2], list[int]) and not check_type([1, "a"], list[int])
    assert check_type((1, 2.5), tuple[int, float]) and not check_type((1,), tuple[int, float])
    assert check_type({"a": 1}, dict[str, int]) and not check_type({"a": "b"}, dict[str, int])
    assert not check_type(1.5, int)


def test_builtin_registries_are_filled_and_family_lookup():
    for registry in (DATASETS, KNOWLEDGE, SEMANTICS, METHODS, CLASSIFIERS):
        assert len(registry) >= 1
    assert get_registry("method") is METHODS and get_registry("methods") is METHODS
    with pytest.raises(ConfigError, match="unknown component family 'gizmos'"):
        get_registry("gizmos")
