"""A server's state and how it is built from a configuration: the engine and its tasks, the
journal, the faults, the vendor APIs with their settings. Routing is `emulator.app`'s; the
control API and the OpenAPI builder read this state, never the application."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from .apis import API_CLASSES, VendorApi
from .clock import make_clock
from .config import EmulatorConfig, shipped_scenarios
from .engine import Engine
from .errors import ConfigError, SettingsError
from .fault_http import Claim, end_delays
from .faults import MAX_RUN_TIME_FAULTS, Fault, FaultSet, too_many_faults
from .faultspec import parse_fault
from .journal import Journal
from .keyring import Keyring, Keyrings
from .openapi_table import TABLE, referenced_schemas
from .options import ValidationMode
from .resources import builtin_schemas
from .scenario import EMPTY, Catalog
from .scenario_loader import explain_schema_error, load_catalog
from .schemas import SCHEMA_SUFFIX, SchemaSet
from .store import RESYNC, MemoryStore, TaskStore
from .yamlsource import format_path

log = logging.getLogger("task_emulator")


@dataclass
class Runtime:
    """One server's state: what handlers reach through `request.app[RUNTIME]`."""

    config: EmulatorConfig
    schemas: SchemaSet
    engine: Engine
    journal: Journal
    # Where tasks, read counts and the clock live (see emulator.store): `engine`'s own
    # (MemoryStore), or a store shared with other replicas.
    store: TaskStore
    apis: dict[str, VendorApi] = field(default_factory=dict)
    # Injected faults: the scenarios' and those added at run time (empty: no cost per request).
    faults: FaultSet = field(default_factory=FaultSet)
    # What every credential is judged by (token and cookie lifetimes, a signature's date):
    # the wall clock, as the real systems do, never the emulator clock. A jump of a virtual
    # clock stands for time in which a real client would have kept its session alive, so it
    # must not expire a credential by itself (`expire_credentials` does that on purpose).
    wall_clock: Callable[[], float] = time.time
    # The keys every API signs its credentials with (the same on every replica of a shared
    # store, so that a login on one is good on all).
    keys: Keyrings = field(default_factory=Keyrings)
    # How a rule with `times` is granted where every replica counts it (None: this server's
    # FaultSet counts them itself).
    fault_claim: Claim | None = field(init=False, default=None)

    @property
    def validate(self) -> ValidationMode:
        return self.config.validate

    @property
    def time_scale(self) -> float:
        return self.config.clock_scale

    def __post_init__(self) -> None:
        self.store.listen(self._on_event)
        shared_faults = self.store.shared_faults
        if shared_faults is not None:

            async def claim(fault: Fault) -> bool:
                return await shared_faults.claim(fault.id, fault.times or 0)

            self.fault_claim = claim
        if self.store.shared_journal is not None:
            self.store.shared_journal.follow(self.journal)

    def keyring(self, api: str) -> Keyring:
        return self.keys.ring(api)

    async def tell(self, api: str, detail: str) -> None:
        await self.store.broadcast("vendor", f"{api}:{detail}")

    async def reset(self) -> None:
        """Back to the start: the tasks and clock (in the store), and on every replica the
        journal, the faults and the vendors' sessions."""
        await self._move_keys(sorted(self.apis), forget=True)
        await self.store.reset()
        if self.store.shared_faults is not None:
            await self.store.shared_faults.reset()
        if self.store.shared_journal is not None:
            await self.store.shared_journal.clear()
        await self.store.broadcast("reset")

    # ---- the journal: this server's, or every replica's -----------------------------------

    async def journal_entries(
        self, api: str | None = None, task: str | None = None, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The requests answered (of `api`, of `task`) with a seq above `after`, oldest
        first, the newest `limit` of them when given; on a shared store, every replica's."""
        shared = self.store.shared_journal
        if shared is None:
            entries = self.journal.latest(limit or len(self.journal) or 1, after=after, api=api, task=task)
            return [entry.to_json() for entry in entries]
        await self.store.broadcast("send-journal")
        return await shared.entries(api, task, after, limit)

    async def clear_journal(self) -> None:
        if self.store.shared_journal is not None:
            await self.store.shared_journal.clear()
        await self.store.broadcast("clear-journal")

    # ---- fault rules: this server's, or those every replica shares ------------------------

    async def add_fault(self, rule: dict[str, Any], fault: Fault) -> Fault:
        """Add `fault` (parsed from `rule`, its JSON) after the run-time rules; Conflict at
        the limit. On a shared store every replica has it when this returns."""
        shared = self.store.shared_faults
        if shared is None:
            return self.faults.add(fault)
        fault_id = await shared.add(rule, MAX_RUN_TIME_FAULTS)
        if fault_id is None:
            raise too_many_faults()
        await self.store.broadcast("faults")
        added = self.faults.get(fault_id)
        return added if added is not None else dataclasses.replace(fault, id=fault_id)

    async def remove_fault(self, fault_id: str) -> None:
        shared = self.store.shared_faults
        if shared is None:
            self.faults.remove(fault_id)
            return
        await shared.remove(fault_id, [f.id for f in self.faults.declared])
        await self.store.broadcast("faults")

    async def clear_faults(self) -> None:
        shared = self.store.shared_faults
        if shared is None:
            self.faults.clear()
            return
        await shared.clear()
        await self.store.broadcast("faults")

    async def describe_faults(self, faults: list[Fault]) -> list[dict[str, Any]]:
        """The rules as the control API lists them, with how often each applied (across every
        replica on a shared store)."""
        shared = self.store.shared_faults
        if shared is None:
            return [self.faults.describe(f) for f in faults]
        applied = await shared.applied()
        return [self.faults.describe(f, applied.get(f.id, 0)) for f in faults]

    async def fault_applied(self, fault_id: str) -> int:
        """How many requests the rule `fault_id` hit (one removed since too), across every
        replica on a shared store."""
        shared = self.store.shared_faults
        return self.faults.applied(fault_id) if shared is None else (await shared.applied()).get(fault_id, 0)

    def _clear_journal_here(self) -> None:
        self.journal.clear()
        if self.store.shared_journal is not None:
            self.store.shared_journal.forget_local()

    async def _reload_faults(self) -> None:
        shared = self.store.shared_faults
        if shared is None:
            return
        rules, declared = await shared.rules()
        run_time = [
            parse_fault(rule, id=fault_id, apis=self.apis, catalog=self.engine.catalog) for fault_id, rule in rules
        ]
        self.faults.restore(run_time, declared)

    async def expire_credentials(self, api: str | None = None) -> list[str]:
        """Expire every credential issued so far by `api` (None: by every API), on every
        replica, so that its next use gets the vendor's own "expired" answer and a client's
        re-login path runs. Credentials issued afterwards are valid as usual. Returns the
        APIs it was done for."""
        names = sorted(self.apis) if api is None else [api]
        await self._move_keys(names, forget=False)
        await self.store.broadcast("expire", ",".join(names))
        return names

    async def _move_keys(self, apis: list[str], *, forget: bool) -> None:
        """The keyrings of `apis` moved on: here, or where every replica reads them (each
        reads them again on the event that follows)."""
        shared = self.store.shared_keys
        if shared is not None:
            now = self.wall_clock()
            await shared.move(apis, forget=forget, now=now, root=self.keys.root, states=self.keys.states())
        elif forget:
            self.keys.forget(apis)
        else:
            self.keys.expire(apis, self.wall_clock())

    async def _load_keys(self) -> None:
        shared = self.store.shared_keys
        if shared is not None:
            root, states = await shared.load(self.keys.root, self.keys.states())
            self.keys.update(root, states)

    async def _on_event(self, event: str, detail: str) -> None:
        """What this server does when any replica (this one too) broadcasts `event`."""
        if event in ("reset", "expire", RESYNC):
            await self._load_keys()
        if event == "reset":
            self._clear_journal_here()
            self.faults.reset()
            end_delays(self.faults)
            for api in self.apis.values():
                api.reset()
        elif event in ("faults", RESYNC):
            await self._reload_faults()
        elif event == "send-journal" and self.store.shared_journal is not None:
            await self.store.shared_journal.send()
        elif event == "clear-journal":
            self._clear_journal_here()
        elif event == "expire":
            for name in detail.split(","):
                if name in self.apis:
                    self.apis[name].expire_credentials()
        elif event == "vendor":
            name, _, said = detail.partition(":")
            if name in self.apis:
                self.apis[name].hear(said)


RUNTIME = web.AppKey("task_emulator_runtime", Runtime)


def load_schemas() -> SchemaSet:
    """Every schema: the built-in ones, and those of each API installed as a plugin, after
    checking that every API has the files it names (ConfigError names a missing one)."""
    schemas = SchemaSet(builtin_schemas(), plugin_schema_folders())
    for api in API_CLASSES.values():
        check_api_files(api, schemas)
    return schemas


def plugin_schema_folders() -> dict[str, Path]:
    """The schema folder of each API installed as a plugin (one outside the built-in ones)."""
    builtin = builtin_schemas()
    return {
        name: api.schemas_dir() for name, api in API_CLASSES.items()
        if not api.schemas_dir().is_relative_to(builtin)
    }


def check_api_files(api: type[VendorApi], schemas: SchemaSet) -> None:
    """ConfigError, naming the file, when `api` lacks its route table, its scenario schema,
    or a schema its route table names: found at start-up, not at the first request."""
    folder = api.schemas_dir()
    table_path = folder / TABLE
    try:
        table = json.loads(table_path.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(f"API {api.name}: its route table {table_path} is missing") from None
    except ValueError as error:
        raise ConfigError(f"API {api.name}: {table_path} is not JSON: {error}") from None
    needed = {"scenario"} | referenced_schemas(table)
    for name in sorted(needed):
        if f"{api.name}/{name}{SCHEMA_SUFFIX}" not in schemas:
            raise ConfigError(f"API {api.name}: the schema {folder / (name + SCHEMA_SUFFIX)} is missing")


def load_scenarios(config: EmulatorConfig, schemas: SchemaSet) -> Catalog:
    """The scenarios `config` names; raises ScenarioError listing every mistake."""
    return load_catalog(config.scenario_sources(), API_CLASSES, schemas, shipped=shipped_scenarios())


def build_runtime(
    config: EmulatorConfig, *, schemas: SchemaSet | None = None, catalog: Catalog | None = None
) -> Runtime:
    """A server's state. `schemas` and `catalog`, when given, are used as they are (both are
    immutable, so servers of one test session can share what was loaded once)."""
    if schemas is None:
        schemas = load_schemas()
    if catalog is None:
        catalog = load_scenarios(config, schemas)
    engine = Engine(
        catalog,
        API_CLASSES,
        lambda: make_clock(config.clock, time_scale=config.time_scale, start=config.clock_start),
        seed=config.seed,
        task_limit=config.task_limit,
    )
    for yours, builtin in catalog.replaced:
        log.info(
            "scenario %s/%s from %s replaces the built-in scenario %s/%s (%s)",
            yours.api, yours.name, yours.source, builtin.api, builtin.name, builtin.source.file,
        )
    declared = [fault for scenario in catalog.scenarios.values() for fault in scenario.faults]
    runtime = Runtime(
        config, schemas, engine, Journal(config.journal_limit), faults=FaultSet(declared, config.seed),
        store=make_store(config, engine),
    )
    for name, api_class in API_CLASSES.items():
        settings = api_settings(api_class, config.api_settings.get(name, EMPTY), schemas)
        runtime.apis[name] = api_class(runtime, settings)
    return runtime


def make_store(config: EmulatorConfig, engine: Engine) -> TaskStore:
    """The store `config.store` names: this process's memory, or Redis."""
    if config.store is None:
        return MemoryStore(engine)
    from .redis_store import RedisStore

    try:
        # Imports redis-py, the 'redis' extra, only now.
        return RedisStore(config.store, engine, time_scale=config.clock_scale)
    except ImportError:
        raise ConfigError("store: a Redis store needs redis-py: pip install 'task-emulator[redis]'") from None


def api_settings(
    api_class: type[VendorApi], overrides: Mapping[str, Any], schemas: SchemaSet
) -> Mapping[str, Any]:
    """`api_class`'s built-in settings with `overrides` in their place, checked against the
    API's settings schema and its own rules. SettingsError says where and what is wrong."""
    settings = {**api_class.default_settings, **overrides}
    if not overrides:  # the built-in settings are checked by a test
        return settings
    schema = f"{api_class.name}/settings.schema.json"
    if schema in schemas:
        for error in sorted(schemas.errors(schema, settings), key=lambda e: list(map(str, e.absolute_path))):
            path, message = explain_schema_error(error)
            key_path = (api_class.name, *path)
            raise SettingsError(key_path, f"settings {format_path(key_path)}: {message}")
    for path, message in api_class.settings_problems(settings):
        key_path = (api_class.name, *path)
        raise SettingsError(key_path, f"settings {format_path(key_path)}: {message}")
    return settings
