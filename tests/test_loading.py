import pytest

from nesbench.loading import ObjectLoadError, load_object


def test_loads_the_named_attribute():
    from nesbench.methods.spec import MethodSpec

    assert load_object("nesbench.methods.spec:MethodSpec") is MethodSpec


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("nesbench.methods.spec", "not of the form"),
        ("nesbench.no_such_module:x", "ModuleNotFoundError"),
        ("nesbench.methods.spec:NoSuchThing", "AttributeError"),
    ],
)
def test_a_bad_reference_is_one_line(ref, why):
    with pytest.raises(ObjectLoadError, match=why) as info:
        load_object(ref)
    assert "\n" not in str(info.value)
