"""Every signal of every compose service, in lookup tables, plus the text matchers.

Built once per run from the compose project, the signature table and the user's
overrides. Extractors ask it what a string literal, comment or config line points
at; the prefilter asks it for literals that any matching file must contain.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from vpmigrate.codescan.composefacts import ServiceFacts, compose_facts
from vpmigrate.codescan.evidence import Found, Kind
from vpmigrate.codescan.identity import Identity, identify
from vpmigrate.codescan.settings import UsageSettings
from vpmigrate.codescan.signatures import (
    Role,
    Signature,
    all_families,
    family_for_image,
    image_repository,
)
from vpmigrate.compose.model import Project
from vpmigrate.errors import UserError

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "host.docker.internal", "[::1]"})
# Frameworks expose env variables to browser code under a prefix.
ENV_PREFIXES = ("NEXT_PUBLIC_", "VITE_", "REACT_APP_", "NUXT_PUBLIC_", "PUBLIC_")

# Anchored on the rare part (`://`, `:<digits>`) and completed around it: a pattern that
# starts with a scheme or host name is tried at every letter of a file, this is not.
_SCHEME_SEP = re.compile(r"://")
_SCHEME_BEFORE = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,30}\Z")
_AUTHORITY_AFTER = re.compile(r"(?:[^\s/@'\"`<>]*@)?(\[[^\]\s]*\]|[A-Za-z0-9_.-]*)(?::(\d{1,5}))?")
_PORT = re.compile(r":(\d{2,5})(?!\d)")
_HOST_BEFORE = re.compile(r"(?<![\w.@/:-])(?:[A-Za-z0-9][A-Za-z0-9_.-]*|\[::1\])\Z")
_ENV_NAME = re.compile(r"(?<!\w)[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+(?!\w)")
_DEFAULT_PORTS = {"http": "80", "ws": "80", "https": "443", "wss": "443"}
_LOOKBEHIND = 256  # longest host name or scheme looked for before an anchor


@dataclass(frozen=True)
class Match:
    offset: int  # in the text handed to the matcher
    signal: str
    category: str
    services: frozenset[str]
    key: str = ""  # env names: the name as the index knows it


@dataclass
class ServiceSignals:
    name: str
    role: Role
    family: str | None
    signature: Signature
    hosts: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)  # container and published ports
    published: set[int] = field(default_factory=set)
    env: set[str] = field(default_factory=set)  # names whose value points at it
    # well-known names of its family (DATABASE_URL, REDIS_HOST, EMAIL_HOST): use only
    # where some value of them (compose, env file, settings code) points at it
    generic_env: set[str] = field(default_factory=set)
    # its family is known (table, Dockerfile, command, ...), it is the application, or
    # a user signature describes it; else only its host names and ports are known
    known: bool = True
    identity: Identity | None = None
    # its image's repository, when the code may be what builds it: a prebuilt image
    # (no `build:`) that the table does not know and that no command identifies
    image: str = ""


class SignalIndex:
    """Lookup tables from signal to the services it points at."""

    def __init__(self, services: dict[str, ServiceSignals]) -> None:
        self.services = services
        self.facts: dict[str, ServiceFacts] = {}
        self.modules: dict[str, set[str]] = defaultdict(set)
        self.js_packages: dict[str, set[str]] = defaultdict(set)
        self.js_scopes: dict[str, set[str]] = defaultdict(set)
        self.packages: dict[str, set[str]] = defaultdict(set)
        self.schemes: dict[str, set[str]] = defaultdict(set)
        self.env: dict[str, set[str]] = defaultdict(set)
        self.generic: dict[str, set[str]] = defaultdict(set)
        self.hosts: dict[str, set[str]] = defaultdict(set)
        self.host_ports: dict[str, set[int]] = defaultdict(set)
        self.local_ports: dict[int, set[str]] = defaultdict(set)
        self.words: dict[str, set[str]] = defaultdict(set)
        self.drivers: dict[str, set[str]] = defaultdict(set)
        self.images: dict[str, set[str]] = defaultdict(set)
        # Words as the signatures spell them: the prefilter is case-sensitive, so a brand's
        # own casing (MLflow, MinIO, pgAdmin) must be one of its literals.
        self.spellings: set[str] = set()
        for name, s in services.items():
            sig = s.signature
            for module in sig.modules:
                self.modules[module].add(name)
            for package in sig.js_packages:
                (self.js_scopes if package.endswith("/") else self.js_packages)[package].add(name)
            for package in sig.packages:
                self.packages[normalise_package(package)].add(name)
            for scheme in sig.schemes:
                self.schemes[scheme.lower()].add(name)
            for env in s.env:
                self.env[env].add(name)
            for env in s.generic_env - s.env:
                self.generic[env].add(name)
            for host in s.hosts:
                self.hosts[host.lower()].add(name)
                self.host_ports[host.lower()] |= s.ports
            for port in s.published:
                self.local_ports[port].add(name)
            for word in sig.words:
                self.words[word.lower()].add(name)
                self.spellings.add(word)
            for driver in sig.drivers:
                self.drivers[driver.lower()].add(name)
            if s.image:
                self.images[s.image].add(name)

    # --- matching -----------------------------------------------------------------

    def targets(self, text: str) -> list[Match]:
        """URLs, host:port pairs and localhost ports in `text` that point at a service."""
        found: list[Match] = []
        in_urls: set[int] = set()  # where URL authorities start: not host:port again
        for sep in _SCHEME_SEP.finditer(text):
            start = sep.start()
            scheme_match = _SCHEME_BEFORE.search(text, max(0, start - 32), start)
            if scheme_match is None:
                continue
            authority = _AUTHORITY_AFTER.match(text, sep.end())
            assert authority is not None  # every part of it is optional
            scheme = scheme_match.group().lower()
            for candidate in (scheme, scheme.split("+", 1)[0]):
                if candidate in self.schemes:
                    services = frozenset(self.schemes[candidate])
                    found.append(
                        Match(scheme_match.start(), f"{candidate}:// URL", "url", services)
                    )
                    break
            host, port = authority.group(1).lower(), authority.group(2)
            if port is None and host in LOCAL_HOSTS:
                # `http://localhost` is port 80: what a proxy publishes
                port = _DEFAULT_PORTS.get(scheme)
            in_urls.add(authority.start(1))
            found.extend(self._host(authority.start(1), host, port, in_url=True))
        for port_match in _PORT.finditer(text):
            start = port_match.start()
            host_match = _HOST_BEFORE.search(text, max(0, start - _LOOKBEHIND), start)
            if host_match is None or host_match.start() in in_urls:
                continue
            host = host_match.group().lower()
            found.extend(self._host(host_match.start(), host, port_match.group(1), in_url=False))
        return found

    def _host(self, offset: int, host: str, port: str | None, *, in_url: bool) -> list[Match]:
        if host in LOCAL_HOSTS:
            if port and int(port) in self.local_ports:
                services = frozenset(self.local_ports[int(port)])
                return [Match(offset, f"localhost:{port} (published port)", "port", services)]
            return []
        if host not in self.hosts:
            return []
        if not in_url and (not port or int(port) not in self.host_ports[host]):
            return []  # `db:1234` outside a URL is too weak to mean the service
        shown = f"{host}:{port}" if port else host
        return [Match(offset, f"host {shown}", "host", frozenset(self.hosts[host]))]

    def env_names(self, text: str) -> list[Match]:
        """Environment variable names (upper case, with `_`) that belong to a service."""
        found = []
        for m in _ENV_NAME.finditer(text):
            name = m.group(0)
            key = self.env_key(name)
            if key is None:
                continue
            if key in self.env:
                found.append(Match(m.start(), f"env {name}", "env", frozenset(self.env[key]), key))
            else:
                services = frozenset(self.generic[key])
                found.append(Match(m.start(), f"env {name}", "env-generic", services, key))
        return found

    def exact_host(self, text: str) -> frozenset[str]:
        """Services whose host name `text` is, whole (`"mailpit"`, `=postgres`)."""
        return frozenset(self.hosts.get(text.strip().lower(), ()))

    def driver(self, text: str) -> frozenset[str]:
        """Services of the engine a whole string names (`"mariadb"`, `"mysql2"`)."""
        return frozenset(self.drivers.get(text.strip().lower(), ()))

    def image(self, text: str) -> tuple[str, frozenset[str]] | None:
        """The image a whole string names (`"shop-model:3"`, an f-string
        `f"shop-model:{version}"`): the code builds or runs that service's image."""
        if len(text) > 200 or any(c.isspace() for c in text.strip()):
            return None
        repository = image_repository(text.strip())
        services = self.images.get(repository)
        return (repository, frozenset(services)) if services else None

    def env_key(self, name: str) -> str | None:
        """The name as the index knows it (without a `NEXT_PUBLIC_`-style prefix), if
        it belongs to some service directly or as a family's well-known name."""
        if name in self.env or name in self.generic:
            return name
        for prefix in ENV_PREFIXES:
            bare = name[len(prefix) :]
            if name.startswith(prefix) and (bare in self.env or bare in self.generic):
                return bare
        return None

    def env_found(self, name: str, line: int, kind: Kind) -> Found | None:
        """A finding for an env name read in code or set in configuration: direct when
        a compose value or a user signature ties it to a service, else "generic" (its
        services are decided once the whole scan has seen where its values point)."""
        key = self.env_key(name)
        if key is None:
            return None
        if key in self.env:
            return Found(line, f"env {name}", "env", kind, frozenset(self.env[key]))
        return Found(line, f"env {name}", "env-generic", kind, frozenset(self.generic[key]), key)

    def word_matches(self, text: str) -> list[Match]:
        """Product names as whole words: `temporal_smoothing` and `redistribute` are not."""
        if not self.words:
            return []
        lowered = text.lower()
        present = frozenset(w for w in self.words if w in lowered)
        if not present:
            return []  # the usual case, found with a few substring tests
        pattern = _word_pattern(present)
        return [
            Match(
                m.start(),
                f'word "{m.group(1).lower()}"',
                "word",
                frozenset(self.words[m.group(1).lower()]),
            )
            for m in pattern.finditer(text)
        ]

    def signals(self, text: str) -> list[Match]:
        """Everything but words: what a string literal or config value can use."""
        return self.targets(text) + self.env_names(text)

    def everything(self, text: str) -> list[Match]:
        """Signals, or product names where there is none (a URL says more than its
        scheme's name next to it)."""
        return self.signals(text) or self.word_matches(text)

    def module(self, dotted: str) -> frozenset[str]:
        return frozenset(self.modules.get(dotted.split(".", 1)[0], ()))

    def js_package(self, spec: str) -> tuple[str, frozenset[str]] | None:
        """The npm package of an import specifier and its services, if it has any."""
        if spec.startswith((".", "/", "node:")) or not spec:
            return None
        parts = spec.split("/")
        name = "/".join(parts[:2]) if spec.startswith("@") else parts[0]
        services = set(self.js_packages.get(name, ()))
        if spec.startswith("@"):
            services |= self.js_scopes.get(parts[0] + "/", set())
        return (name, frozenset(services)) if services else None

    def package(self, name: str) -> frozenset[str]:
        return frozenset(self.packages.get(normalise_package(name), ()))

    # --- prefilter ----------------------------------------------------------------

    def literals(self) -> list[bytes]:
        """Byte strings one of which every file with a signal must contain."""
        found: set[str] = set()
        for word in self.spellings:
            found.update(case_variants(word))
        for module in self.modules:
            found.update(_quoted_if_short(module) if len(module) < 4 else [module])
        for package in (*self.js_packages, *self.js_scopes, *self.packages):
            found.update(_quoted_if_short(package) if len(package) < 4 else {package})
        for scheme in self.schemes:
            found.update(f"{v}://" for v in case_variants(scheme))
        found.update(self.env)
        found.update(self.generic)
        for host in self.host_ports:
            # never the bare name: a service called `django` or `backend` would pull in
            # every file that says the word. A host is only ever used in a URL, as
            # `host:port`, as a whole string or as a whole configuration value.
            found.update({f"//{host}", f"@{host}", f"{host}:", f"={host}"})
            found.update(f"{q}{host}{q}" for q in "'\"`")
        for driver in self.drivers:
            found.update(_quoted_if_short(driver) if len(driver) < 6 else [driver])
        for image in self.images:
            found.update(f"{q}{image}{end}" for q in "'\"`" for end in (":", q))
        if self.local_ports.keys() & {80, 443}:
            # `http://localhost` is port 80 without saying so
            found.update(f"//{h}" for h in LOCAL_HOSTS)
        for port in self.local_ports:
            # `:9000` is rare enough in code and covers every spelling of localhost
            found.update({f":{port}"} if port >= 1000 else {f"{h}:{port}" for h in LOCAL_HOSTS})
        # a literal that contains another is redundant for an any-match prefilter
        ordered = sorted(found, key=len)
        kept: list[str] = []
        for literal in ordered:
            if not any(k in literal for k in kept):
                kept.append(literal)
        return [k.encode() for k in kept]


@lru_cache(maxsize=256)
def _word_pattern(words: frozenset[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])({alternatives})(?!\w)", re.IGNORECASE)


def case_variants(word: str) -> set[str]:
    return {word, word.lower(), word.upper(), word.capitalize()}


def _quoted_if_short(name: str) -> list[str]:
    return [f"{q}{name}{end}" for q in "'\"`" for end in (q, "/")]


def normalise_package(name: str) -> str:
    """PEP 503 normalisation (npm names are lower case already)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def build_index(
    project: Project, settings: UsageSettings, roots: tuple[Path, ...] = ()
) -> SignalIndex:
    """Signals of every service: its family's, the user's, and what the compose file
    says about it (host names, ports, env variables other services point at it with)."""
    families = {f.name: f for f in all_families()}
    service_extras: dict[str, list[tuple[Signature, bool]]] = defaultdict(list)
    for override in settings.signatures:
        if override.name in families:
            families[override.name] = families[override.name].merged(
                override.signature, replace_lists=override.replace
            )
        elif override.name in project.services:
            service_extras[override.name].append((override.signature, override.replace))
        elif override.signature.images:
            families[override.name] = Signature(name=override.name).merged(override.signature)
        else:
            raise UserError(
                f"cleanup.signatures.{override.name}: no built-in family and no compose service "
                f"has that name; name a service ({', '.join(sorted(project.services))}), a "
                f"family ({', '.join(sorted(families))}), or give `images` for a new family."
            )
    # user-defined families first: they are what the user says an image is
    user = [f for n, f in families.items() if n not in {b.name for b in all_families()}]
    table = tuple(user + [f for f in families.values() if f not in user])
    user_env = {e for o in settings.signatures for e in o.signature.env}
    facts = compose_facts(project)
    resolved_roots = tuple(r.resolve() for r in roots)
    services: dict[str, ServiceSignals] = {}
    for name, service in project.services.items():
        identity = identify(project, name, table, facts, resolved_roots)
        signature = identity.family or Signature(name=name)
        role: Role = identity.role
        for extra, replace_lists in service_extras.get(name, []):
            signature = signature.merged(extra, replace_lists=replace_lists)
            if "role" in extra.fields_set:
                role = extra.role
        if identity.family is not None and identity.family.role != signature.role:
            role = signature.role  # a family override changed the role
        hosts = {name, *signature.hosts}
        hosts.update(a for n in service.networks for a in n.aliases)
        if service.container_name:
            hosts.add(service.container_name)
        if service.hostname:
            hosts.add(service.hostname)
        ports = {p.target for p in service.ports} | facts[name].expose
        published = {p.published for p in service.ports if p.published is not None}
        direct = {e for e in signature.env if e in user_env}
        prebuilt = (
            service.build is None
            and service.image
            and role != "app"
            and family_for_image(service.image, table) is None
            and not identity.how.startswith("command")
        )
        services[name] = ServiceSignals(
            name=name,
            role=role,
            family=identity.family.name if identity.family else None,
            signature=signature,
            hosts=hosts,
            ports=ports | published,
            published=published,
            env=direct,
            generic_env=set(signature.env) - direct,
            known=identity.known or name in service_extras,
            identity=identity,
            image=image_repository(service.image) if prebuilt else "",
        )
    index = SignalIndex(services)
    # Variables whose value points at a service (in .env, env files or other services'
    # environment) become that service's signals: code reading them talks to it.
    for key, value, owner in _environment_values(project):
        for target in pointed_at(index, value, key):
            if target != owner and key not in services[target].env:
                services[target].env.add(key)
    result = SignalIndex(services)
    result.facts = facts
    return result


def _environment_values(project: Project) -> Iterable[tuple[str, str, str | None]]:
    for key, value in project.environment.items():
        yield key, value, None
    for name, service in project.services.items():
        for key, value in service.environment.items():
            yield key, value, name


_HOST_KEY = re.compile(r"HOST|SERVER|ADDR|SEEDS|ENDPOINT|BROKER|NODES|URL|URI|DSN")


def host_key(key: str) -> bool:
    """Whether a variable's name says its value is a host (`POSTGRES_HOST=db`), so that
    a bare service name as its value points at that service (`POSTGRES_DB=app` does
    not, even when a service is called `app`)."""
    return _HOST_KEY.search(key.upper()) is not None


def pointed_at(index: SignalIndex, value: str, key: str = "") -> set[str]:
    """Services a configuration value names: a URL or host:port, or exactly a host name
    when the variable's name says it holds a host."""
    targets = {
        s for m in index.targets(value) if m.category in ("host", "port") for s in m.services
    }
    stripped = value.strip().lower()
    if stripped in index.hosts and host_key(key):
        targets |= index.hosts[stripped]
    return targets
