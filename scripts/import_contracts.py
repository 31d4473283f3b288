"""An import-linter contract built from the module list: every module's hexagon holds.

`lint-imports` reads it from pyproject.toml (`contract_types`). For each module the app's list
declares (`service.app.modules:MODULES`), in the package its container lives in:

- layers: `adapter -> application -> domain` (a layer a module lacks is optional);
- its `domain` imports none of the frameworks listed (`domain_forbidden`).

So a new module is held to the same contracts the moment it is in the list.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from grimp import ImportGraph
from importlinter.application import output
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck


def _module_packages(reference: str) -> list[tuple[str, str]]:
    """(name, package) of every module in the list `reference` ("pkg.mod:NAME") names."""
    where, _, attribute = reference.partition(":")
    modules = getattr(importlib.import_module(where), attribute)
    return [(m.name, m.container.__module__.rpartition(".")[0]) for m in modules]


class ModuleHexagonsContract(Contract):
    type_name = "module_hexagons"

    modules = fields.StringField()
    domain_forbidden = fields.ListField(subfield=fields.StringField())

    def _parts(self) -> list[Contract]:
        parts: list[Contract] = []
        options: dict[str, Any] = self.session_options
        for name, package in _module_packages(str(self.modules)):
            parts.append(
                LayersContract(
                    name=f"{name}: adapter -> application -> domain",
                    session_options=options,
                    contract_options={
                        "layers": [f"({package}.{layer})" for layer in _LAYERS],
                    },
                )
            )
            if importlib.util.find_spec(f"{package}.domain") is not None:
                parts.append(
                    ForbiddenContract(
                        name=f"{name}: domain is framework-free",
                        session_options=options,
                        contract_options={
                            "source_modules": [f"{package}.domain"],
                            "forbidden_modules": list(self.domain_forbidden),  # type: ignore[call-overload]
                        },
                    )
                )
        return parts

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        results = [(part, part.check(graph, verbose)) for part in self._parts()]
        kept = all(result.kept for _, result in results)
        names = ", ".join(part.name for part, _ in results)
        return ContractCheck(
            kept=kept,
            metadata={"results": results},
            warnings=[f"checked: {names}"] if verbose else [],
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for part, result in check.metadata["results"]:
            if not result.kept:
                output.print_heading(part.name, output.HEADING_LEVEL_THREE)
                part.render_broken_contract(result)


_LAYERS = ("adapter", "application", "domain")
