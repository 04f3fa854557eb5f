"""An import-linter contract type: apps meet only at each other's public modules.

Used by `lint-imports` (pyproject.toml, [tool.importlinter]), never by the app. Each entry of
`apps` names an app package and the modules other apps may import, for example
"cards.review: models queue sm2". A module belongs to the app with the longest matching
name, so `cards.review.views` is the review app's, and `cards.admin` the content app's.
An import from one app into another must name the other app's package itself, one of its
public modules, or something inside one; anything else is that app's internals (views,
admin, tasks, forms...), and the contract is broken.
"""

from __future__ import annotations

from dataclasses import dataclass

import grimp
from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class App:
    package: str
    public: frozenset[str]

    def owns(self, module: str) -> bool:
        return module == self.package or module.startswith(self.package + ".")

    def exposes(self, module: str) -> bool:
        return module == self.package or any(module == p or module.startswith(p + ".") for p in self.public)


def parse_app(entry: str) -> App:
    package, _, names = entry.partition(":")
    package = package.strip()
    return App(package, frozenset(f"{package}.{name}" for name in names.split()))


class AppBoundariesContract(Contract):
    type_name = "app_boundaries"

    apps = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        apps = sorted((parse_app(entry) for entry in self.apps), key=lambda app: -len(app.package))  # type: ignore

        def app_of(module: str) -> App | None:
            return next((app for app in apps if app.owns(module)), None)

        reaches = []
        for importer in sorted(graph.modules):
            home = app_of(importer)
            if home is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = app_of(imported)
                if target is None or target is home or target.exposes(imported):
                    continue
                for detail in graph.get_import_details(importer=importer, imported=imported):
                    reaches.append((importer, imported, detail["line_number"], target))
        return ContractCheck(kept=not reaches, metadata={"reaches": reaches})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, line, target in check.metadata["reaches"]:
            public = ", ".join(sorted(target.public)) or target.package
            output.print_error(f"{importer} -> {imported} (l.{line}): {target.package}'s public modules are {public}")
            output.new_line()
