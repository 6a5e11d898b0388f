"""Conformance tests run over every registered name of a family.

A test module sets ``REGISTRY`` (the family's registry); every test in it that takes a ``name``
argument is parametrised over ``REGISTRY.list()`` (plugins included), with the names as test ids.
A family with no registered name still gives one visible test: a skip saying so.  A family whose
discovery fails (a module that does not import) fails at collection with the RegistryError naming it.
"""

import pytest


def pytest_generate_tests(metafunc):
    registry = getattr(metafunc.module, "REGISTRY", None)
    if registry is None or "name" not in metafunc.fixturenames:
        return
    names = registry.list()
    if names:
        metafunc.parametrize("name", names, ids=names, scope="module")  # module scope: fixtures may reuse work
    else:
        metafunc.parametrize("name", [pytest.param(None, marks=pytest.mark.skip(
            reason=f"no {registry.kind}s are registered yet"))], ids=["none-registered"])


@pytest.fixture
def example(request):
    """The registered example of the test's ``name`` as keyword parameters (empty when it has none)."""
    registry, name = request.module.REGISTRY, request.getfixturevalue("name")
    value = registry.example(name)
    return dict(value) if value else {}
