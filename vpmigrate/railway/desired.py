"""The desired-state file (env/railway.yml): what each Railway environment's shared
variables and each service should have.

Parsing keeps line numbers so every error names ``file:line``. Values are
resolved here (``${NAME}`` from the environment, ``${s3.*}``/``${mlflow.*}``
settings); Railway references ``${{...}}`` are left exactly as written.
docs/railway.md describes the format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from vpmigrate.errors import UserError
from vpmigrate.masking import mask_url_passwords
from vpmigrate.railway.secrets import is_secret_name, looks_secret, printable
from vpmigrate.railway.template import Resolved, TemplateError, render
from vpmigrate.userfiles import Location, compose_yaml, read_user_file

S3_PROVIDERS = ("aws", "r2", "minio")
# The name of an environment's shared variables, in the file and in Railway's own
# references (${{shared.NAME}}): no service may take it.
SHARED = "shared"
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHARED_REFERENCE = re.compile(r"\$\{\{\s*shared\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ONLY_REFERENCE = re.compile(r"^\$\{\{[^{}]*\}\}$")
_TOP_LEVEL = {"version", "s3", "mlflow", "environments"}


def shared_references(value: str) -> set[str]:
    """The shared variables ``value`` references (``${{shared.NAME}}``)."""
    return set(_SHARED_REFERENCE.findall(value))


def _quote(text: str) -> str:
    """A value for an error message: never one that carries a password."""
    return (
        "(a value with a password, not shown)" if looks_secret(text) else f"'{printable(text, 60)}'"
    )


@dataclass(frozen=True)
class DesiredVariable:
    """One variable as the file wants it on one service (value already resolved)."""

    service: str
    name: str
    value: str = field(repr=False)
    secret: bool
    location: Location


@dataclass(frozen=True)
class MlflowSettings:
    """How `railway.provision` creates mlflow-service and how others reach it."""

    service: str
    port: int
    public_domain: bool
    image: str | None
    repo: str | None
    dockerfile: str | None
    location: Location
    # Why the source could not be resolved (e.g. an unset ${NAME}); only provision needs it.
    source_problem: str | None = None


@dataclass(frozen=True)
class DesiredState:
    """The desired variables of one Railway environment: its shared variables (None when
    the file has no ``shared:`` block for it, so they are not managed) and each service's."""

    path: Path
    environment: str
    s3_provider: str
    mlflow: MlflowSettings
    services: Mapping[str, tuple[DesiredVariable, ...]]
    shared: tuple[DesiredVariable, ...] | None = None

    def scopes(self) -> dict[str, tuple[DesiredVariable, ...]]:
        """Shared variables first (services reference them), then every service."""
        head = {SHARED: self.shared} if self.shared is not None else {}
        return {**head, **self.services}

    def only(self, names: Iterable[str]) -> DesiredState:
        """The same state restricted to the services ``names`` (each must be declared in
        the file; ``shared`` selects the shared variables). No names: everything."""
        names = list(names)
        if not names:
            return self
        if any(not n.strip() for n in names):
            raise UserError(
                "--service was given an empty value; name a service (or leave --service "
                "out to cover every service in the file)."
            )
        declared = list(self.services) + ([SHARED] if self.shared is not None else [])
        unknown = [n for n in names if n not in declared]
        if unknown:
            raise UserError(
                f"{self.path}: service '{printable(unknown[0], 80)}' is not declared under "
                f"environment {self.environment!r}; declared: {', '.join(sorted(declared))}. "
                "Add it to the file or drop --service."
            )
        picked = {n: self.services[n] for n in self.services if n in names}
        return DesiredState(
            self.path,
            self.environment,
            self.s3_provider,
            self.mlflow,
            MappingProxyType(picked),
            self.shared if SHARED in names else None,
        )


class _File:
    """A parsed YAML document with helpers that turn shape errors into UserErrors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        text = read_user_file(
            path,
            "desired-state file",
            hint="; pass --file or create it (docs/railway.md describes the format)",
        )
        root = compose_yaml(text, path)
        if root is None:  # an empty document
            raise UserError(f"{path}: the file is empty; docs/railway.md describes the format.")
        self.root: yaml.Node = root

    def at(self, node: yaml.Node) -> Location:
        return Location(self.path, node.start_mark.line + 1)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise UserError(f"{self.at(node)}: {what} must be a mapping (key: value lines).")
        result: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise UserError(f"{self.at(key)}: keys of {what} must be plain names.")
            if key.value in result:
                raise UserError(
                    f"{self.at(key)}: '{printable(key.value, 80)}' appears twice in {what}."
                )
            result[key.value] = (key, value)
        return result

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or (
            node.tag == "tag:yaml.org,2002:null" and node.style is None
        ):
            raise UserError(f"{self.at(node)}: {what} must be a single value (a string).")
        return str(node.value)

    def flag(self, node: yaml.Node, what: str) -> bool:
        text = self.scalar(node, what).lower()
        if text in ("true", "yes", "on"):
            return True
        if text in ("false", "no", "off"):
            return False
        raise UserError(f"{self.at(node)}: {what} must be true or false, not {_quote(text)}.")


class _Settings:
    """The ``${s3.*}`` and ``${mlflow.*}`` names, resolved lazily so a missing
    environment variable only matters where it is actually used."""

    def __init__(self, file: _File, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.templates: dict[str, tuple[str, Location]] = {}
        self.cache: dict[str, Resolved] = {}
        self.resolving: list[str] = []

    def define(self, name: str, template: str, location: Location) -> None:
        self.templates[name] = (template, location)

    def resolve_template(self, template: str, location: Location, what: str) -> Resolved:
        def lookup(name: str, default: str | None) -> Resolved:
            if "." in name:
                return self.setting(name, location, what)
            value = self.env.get(name, "")
            if value:
                return Resolved(value, secret=True)
            if default is not None:
                return Resolved(default)
            raise UserError(
                f"{location}: {what} needs ${{{name}}}, which is not set; add {name}=... to "
                "the untracked .env at the repository root (or export it), then re-run."
            )

        try:
            return render(template, lookup)
        except TemplateError as exc:
            raise UserError(f"{location}: {what}: {mask_url_passwords(str(exc))}.") from None

    def setting(self, name: str, used_at: Location, what: str) -> Resolved:
        if name in self.cache:
            return self.cache[name]
        if name not in self.templates:
            known = ", ".join(f"${{{n}}}" for n in sorted(self.templates))
            raise UserError(
                f"{used_at}: {what} uses ${{{name}}}, which is not a setting; known: {known}."
            )
        if name in self.resolving:
            raise UserError(
                f"{used_at}: ${{{name}}} refers to itself through {' -> '.join(self.resolving)}."
            )
        template, location = self.templates[name]
        self.resolving.append(name)
        try:
            value = self.resolve_template(template, location, name)
        finally:
            self.resolving.pop()
        self.cache[name] = value
        return value


class DesiredFile:
    """The desired-state file, parsed once: its settings and every environment it declares.

    ``env`` is the process environment laid over `.env` (the caller merges them).
    ``s3_provider`` overrides the file's ``s3.provider``.
    """

    def __init__(
        self, path: Path, env: Mapping[str, str], *, s3_provider: str | None = None
    ) -> None:
        self.path = path
        self.file = _File(path)
        top = self.file.mapping(self.file.root, "the file")
        for key, (key_node, _) in top.items():
            if key not in _TOP_LEVEL:
                raise UserError(
                    f"{self.file.at(key_node)}: unknown top-level key '{printable(key, 80)}'; "
                    f"expected one of {', '.join(sorted(_TOP_LEVEL))}."
                )
        if "version" in top and self.file.scalar(top["version"][1], "version") != "1":
            raise UserError(f"{self.file.at(top['version'][1])}: only version 1 is understood.")
        self.settings = _Settings(self.file, env)
        self.s3_provider = _define_s3(self.file, top, self.settings, s3_provider)
        self.mlflow = _define_mlflow(self.file, top, self.settings)
        self.where, self._environments = _section(self.file, top, "environments")

    @property
    def environments(self) -> tuple[str, ...]:
        """The environments the file declares, in file order."""
        return tuple(self._environments)

    def environment(self, name: str) -> DesiredState:
        """The resolved shared and service variables of environment ``name``."""
        if not name.strip():
            raise UserError("--environment was given an empty value; name an environment.")
        if name not in self._environments:
            raise UserError(
                f"{self.where}: environment '{printable(name, 80)}' is not declared; declared: "
                f"{', '.join(sorted(printable(e, 80) for e in self._environments)) or 'none'}. "
                "Pass --environment or add it."
            )
        shared, services = _environment(self.file, self._environments[name], name, self.settings)
        return DesiredState(
            self.path, name, self.s3_provider, self.mlflow, MappingProxyType(services), shared
        )


def load_desired(
    path: Path,
    environment: str,
    env: Mapping[str, str],
    *,
    s3_provider: str | None = None,
) -> DesiredState:
    """Read ``path`` and resolve the variables of ``environment`` (see DesiredFile)."""
    return DesiredFile(path, env, s3_provider=s3_provider).environment(environment)


def _section(
    file: _File, top: dict[str, tuple[yaml.Node, yaml.Node]], name: str
) -> tuple[Location, dict[str, tuple[yaml.Node, yaml.Node]]]:
    if name not in top:
        raise UserError(f"{file.path}: the top-level {name!r} section is missing.")
    key, node = top[name]
    return file.at(key), file.mapping(node, f"the {name!r} section")


def _define_s3(
    file: _File,
    top: dict[str, tuple[yaml.Node, yaml.Node]],
    settings: _Settings,
    override: str | None,
) -> str:
    where, s3 = _section(file, top, "s3")
    if override is not None:
        provider, provider_at = override, where
    elif "provider" in s3:
        provider = file.scalar(s3["provider"][1], "s3.provider")
        provider_at = file.at(s3["provider"][1])
    else:
        provider, provider_at = "aws", where
    if provider not in S3_PROVIDERS:
        raise UserError(
            f"{provider_at}: S3 provider {_quote(provider)} is not supported; choose one of "
            f"{', '.join(S3_PROVIDERS)}."
        )
    if provider not in s3:
        raise UserError(
            f"{where}: s3.provider is {provider!r} but there is no s3.{provider} block."
        )
    block_key, block_node = s3[provider]
    block = file.mapping(block_node, f"s3.{provider}")
    settings.define("s3.provider", provider, provider_at)
    if "bucket" not in s3:
        raise UserError(f"{where}: s3.bucket is missing (the bucket MLflow stores artifacts in).")
    settings.define(
        "s3.bucket", file.scalar(s3["bucket"][1], "s3.bucket"), file.at(s3["bucket"][1])
    )
    for name, (_, node) in block.items():
        settings.define(f"s3.{name}", file.scalar(node, f"s3.{provider}.{name}"), file.at(node))
    for required in ("access_key_id", "secret_access_key"):
        if required not in block:
            raise UserError(f"{file.at(block_key)}: s3.{provider}.{required} is missing.")
    # Each provider fixes how endpoint and region follow from its own fields.
    defaults = {
        "aws": {"region": "ap-northeast-2", "endpoint": "https://s3.${s3.region}.amazonaws.com"},
        "r2": {"region": "auto", "endpoint": "https://${s3.account_id}.r2.cloudflarestorage.com"},
        "minio": {
            "region": "us-east-1",
            "endpoint": "http://${{minio.RAILWAY_PRIVATE_DOMAIN}}:9000",
        },
    }[provider]
    if provider == "r2" and "account_id" not in block and "endpoint" not in block:
        raise UserError(f"{file.at(block_key)}: s3.r2 needs account_id (or an explicit endpoint).")
    for name, template in defaults.items():
        if name not in block:
            settings.define(f"s3.{name}", template, file.at(block_key))
    return provider


def _define_mlflow(
    file: _File, top: dict[str, tuple[yaml.Node, yaml.Node]], settings: _Settings
) -> MlflowSettings:
    where, mlflow = _section(file, top, "mlflow")

    def text(name: str, default: str | None = None) -> str | None:
        if name not in mlflow:
            return default
        return file.scalar(mlflow[name][1], f"mlflow.{name}")

    service = text("service", "mlflow-service") or "mlflow-service"
    port_text = text("port", "5000") or "5000"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UserError(f"{where}: mlflow.port must be a port number, not {_quote(port_text)}.")
    public = "public_domain" in mlflow and file.flag(
        mlflow["public_domain"][1], "mlflow.public_domain"
    )
    source: dict[str, str] = {}
    problem = None
    if "source" in mlflow:
        for name, (_, node) in file.mapping(mlflow["source"][1], "mlflow.source").items():
            if name not in ("image", "repo", "dockerfile"):
                raise UserError(
                    f"{file.at(node)}: mlflow.source.{printable(name, 80)} is unknown; "
                    "use image, or repo and dockerfile."
                )
            template = file.scalar(node, f"mlflow.source.{name}")
            try:
                source[name] = settings.resolve_template(
                    template, file.at(node), f"mlflow.source.{name}"
                ).text
            except UserError as exc:
                problem = exc.message
    settings.define("mlflow.service", service, where)
    settings.define("mlflow.port", port_text, where)
    # MLflow has no authentication: the private network is the default route.
    tracking = (
        f"https://${{{{{service}.RAILWAY_PUBLIC_DOMAIN}}}}"
        if public
        else f"http://${{{{{service}.RAILWAY_PRIVATE_DOMAIN}}}}:{port_text}"
    )
    settings.define("mlflow.tracking_uri", tracking, where)
    return MlflowSettings(
        service=service,
        port=int(port_text),
        public_domain=public,
        image=source.get("image"),
        repo=source.get("repo"),
        dockerfile=source.get("dockerfile"),
        location=where,
        source_problem=problem,
    )


def _environment(
    file: _File,
    entry: tuple[yaml.Node, yaml.Node],
    environment: str,
    settings: _Settings,
) -> tuple[tuple[DesiredVariable, ...] | None, dict[str, tuple[DesiredVariable, ...]]]:
    env_key, env_node = entry
    _plain_name(file, env_key, "an environment name")
    body = file.mapping(env_node, f"environment {environment!r}")
    for key, (key_node, _) in body.items():
        if key not in ("services", SHARED):
            raise UserError(
                f"{file.at(key_node)}: environment {environment!r} has an unknown key "
                f"'{printable(key, 80)}'; expected 'shared' and 'services'."
            )
    if "services" not in body:
        raise UserError(
            f"{file.at(env_key)}: environment {environment!r} has no 'services' mapping."
        )
    shared: tuple[DesiredVariable, ...] | None = None
    if SHARED in body:
        shared = _variables(file, body[SHARED][1], SHARED, f"{environment}.shared", settings)
    services: dict[str, tuple[DesiredVariable, ...]] = {}
    for service, (key_node, vars_node) in file.mapping(body["services"][1], "services").items():
        _plain_name(file, key_node, "a service name")
        if service == SHARED:
            raise UserError(
                f"{file.at(key_node)}: 'shared' is the name of the environment's shared "
                "variables (Railway's ${{shared.NAME}}); put them in a `shared:` block next "
                "to `services:`."
            )
        services[service] = _variables(file, vars_node, service, f"service {service!r}", settings)
    if shared is not None:
        declared = {v.name for v in shared}
        for variables in services.values():
            for variable in variables:
                missing = sorted(shared_references(variable.value) - declared)
                if missing:
                    raise UserError(
                        f"{variable.location}: {variable.service} {variable.name} references "
                        f"${{{{shared.{missing[0]}}}}}, but the shared: block of environment "
                        f"{environment!r} does not declare {missing[0]}; add it there."
                    )
    return shared, services


def _plain_name(file: _File, node: yaml.Node, what: str) -> None:
    """Names end up in tables and messages: no control characters (a quoted YAML key
    may hold escapes such as \\x1b)."""
    name = str(node.value)
    if printable(name) != name or not name.strip():
        raise UserError(
            f"{file.at(node)}: '{printable(name, 80)}' is not usable as {what}: it is empty "
            "or holds control characters."
        )


def _variables(
    file: _File, node: yaml.Node, scope: str, what: str, settings: _Settings
) -> tuple[DesiredVariable, ...]:
    variables = []
    for name, (key_node, value_node) in file.mapping(node, what).items():
        location = file.at(key_node)
        if not _VARIABLE_NAME.match(name):
            raise UserError(
                f"{location}: '{printable(name, 80)}' ({what}) is not a valid variable name; "
                "use letters, digits and underscores."
            )
        template = file.scalar(value_node, f"{scope}.{name}")
        resolved = settings.resolve_template(template, location, f"{scope} {name}")
        variables.append(
            DesiredVariable(
                service=scope,
                name=name,
                value=resolved.text,
                secret=resolved.secret
                or looks_secret(resolved.text)
                # A value that is only a Railway reference holds no secret, whatever its name.
                or (is_secret_name(name) and not _ONLY_REFERENCE.match(resolved.text)),
                location=location,
            )
        )
    return tuple(variables)
