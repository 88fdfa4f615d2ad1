"""Every service key the model holds, as the container configuration the engine receives:
the create arguments are sent to the real engine (containers are created, and started
where that is the point) and read back with `inspect`.

The expected values are those `docker compose create` (2.27) gave for the same keys on
this engine (measured by hand on a file with every key; the parity tests in
test_parity.py compare with Compose itself where the loader reads the keys)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Network
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from devkit import dockerkit
from vpmigrate.compose.model import (
    BindOptions,
    BlkioConfig,
    Deploy,
    DeviceRequest,
    FileObjectDef,
    FileReference,
    Ipam,
    IpamPool,
    Location,
    Logging,
    NetworkDef,
    PortMapping,
    Project,
    Resource,
    RestartPolicy,
    Service,
    ServiceNetwork,
    ThrottleDevice,
    TmpfsOptions,
    Ulimit,
    VolumeDef,
    VolumeMount,
    VolumeOptions,
)
from vpmigrate.engine import hostconfig, resources, spec
from vpmigrate.engine.backend import DockerEngine
from vpmigrate.engine.events import silent
from vpmigrate.engine.up import up
from vpmigrate.errors import UserError


class Engine:
    """A project name, and the containers, networks and volumes made under it."""

    def __init__(self, client: Any, image: str, folder: Path) -> None:
        self.client = client
        self.image = image
        self.folder = folder
        self.name = dockerkit.unique_name()

    def project(self, *services: Service, **parts: Any) -> Project:
        return Project(
            name=self.name,
            working_dir=self.folder,
            config_files=(self.folder / "compose.yml",),
            services=MappingProxyType({s.name: s for s in services}),
            networks=MappingProxyType(parts.get("networks", {})),
            volumes=MappingProxyType(parts.get("volumes", {})),
            environment=MappingProxyType(parts.get("environment", {})),
            secrets=MappingProxyType(parts.get("secrets", {})),
            configs=MappingProxyType(parts.get("configs", {})),
        )

    def service(self, name: str, **fields: Any) -> Service:
        fields.setdefault("networks", (ServiceNetwork("default"),))
        return Service(
            name=name,
            image=self.image,
            location=Location(self.folder / "compose.yml", 1),
            **{"command": ("sleep", "300"), **fields},
        )

    def create(self, project: Project, service: Service) -> dict[str, Any]:
        """Create (not start) the service's container as `up` would; its inspect data."""
        for network in resources.networks_used(project, [service]):
            resources.ensure_network(self.client, project, network, silent)
        for volume in resources.volumes_used(project, [service]):
            resources.ensure_volume(self.client, project, volume, silent)
        container = spec.create_container(self.client.api, project, service, self.image)
        files = hostconfig.files_to_copy(project, service)
        if files:
            hostconfig.copy_files(self.client.api, service, container, files)
        return dict(self.client.api.inspect_container(container))


@pytest.fixture
def engine(docker_client: Any, busybox_image: str, tmp_path: Path) -> Iterator[Engine]:
    made = Engine(docker_client, busybox_image, tmp_path)
    yield made
    dockerkit.remove_project(docker_client, made.name)


def networks(project_name: str, **defs: NetworkDef) -> dict[str, NetworkDef]:
    return {"default": NetworkDef("default", f"{project_name}_default"), **defs}


def test_resources_security_and_kernel_settings(engine: Engine) -> None:
    service = engine.service(
        "sink",
        cap_add=("NET_ADMIN",),
        cap_drop=("MKNOD",),
        cgroup="private",
        cgroup_parent="vpmtest.slice",
        cpu_shares=512,
        cpus=0.5,
        cpuset="0",
        devices=("/dev/null:/dev/mynull:rw", "/dev/zero"),
        device_cgroup_rules=("c 1:3 mr",),
        dns=("1.1.1.1",),
        dns_opt=("ndots:2",),
        dns_search=("example.com",),
        domainname="example.org",
        expose=("8080", "9000-9001/udp"),
        ports=(PortMapping(80, 18000, "127.0.0.1", published_end=18002),),
        group_add=("100",),
        ipc="shareable",
        logging=Logging("json-file", MappingProxyType({"max-size": "1m"})),
        mem_limit=64 << 20,
        mem_reservation=32 << 20,
        mem_swappiness=10,
        memswap_limit=128 << 20,
        oom_score_adj=100,
        pid="host",
        pids_limit=50,
        read_only=True,
        security_opt=("no-new-privileges:true",),
        shm_size=32 << 20,
        sysctls=MappingProxyType({"net.core.somaxconn": "1024"}),
        tmpfs=("/run:size=1m", "/tmp2"),
        ulimits=MappingProxyType({"nofile": Ulimit(1024, 2048), "nproc": Ulimit(512, 512, True)}),
        blkio_config=BlkioConfig(device_read_bps=(ThrottleDevice("/dev/null", 1 << 20),)),
        init=True,
    )
    host = engine.create(engine.project(service, networks=networks(engine.name)), service)
    hc, config = host["HostConfig"], host["Config"]
    assert hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["MKNOD"]
    assert hc["CgroupnsMode"] == "private" and hc["CgroupParent"] == "vpmtest.slice"
    assert hc["CpuShares"] == 512 and hc["NanoCpus"] == 500_000_000 and hc["CpusetCpus"] == "0"
    assert hc["Devices"] == [
        {"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull", "CgroupPermissions": "rw"},
        {"PathOnHost": "/dev/zero", "PathInContainer": "/dev/zero", "CgroupPermissions": "rwm"},
    ]
    assert hc["DeviceCgroupRules"] == ["c 1:3 mr"]
    assert (hc["Dns"], hc["DnsOptions"], hc["DnsSearch"]) == (
        ["1.1.1.1"],
        ["ndots:2"],
        ["example.com"],
    )
    assert config["Domainname"] == "example.org"
    assert set(config["ExposedPorts"]) == {"80/tcp", "8080", "9000-9001/udp"}
    assert hc["PortBindings"]["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": "18000-18002"}]
    assert hc["GroupAdd"] == ["100"] and hc["IpcMode"] == "shareable" and hc["PidMode"] == "host"
    assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert (hc["Memory"], hc["MemoryReservation"], hc["MemorySwap"]) == (
        64 << 20,
        32 << 20,
        128 << 20,
    )
    assert hc["MemorySwappiness"] == 10 and hc["OomScoreAdj"] == 100 and hc["PidsLimit"] == 50
    assert hc["ReadonlyRootfs"] is True and "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["ShmSize"] == 32 << 20 and hc["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert hc["Tmpfs"] == {"/run": "size=1m", "/tmp2": ""}
    assert sorted(hc["Ulimits"], key=lambda u: u["Name"]) == [
        {"Name": "nofile", "Soft": 1024, "Hard": 2048},
        {"Name": "nproc", "Soft": 512, "Hard": 512},
    ]
    assert hc["BlkioDeviceReadBps"] == [{"Path": "/dev/null", "Rate": 1 << 20}]
    assert hc["Init"] is True


def test_deploy_resources_and_restart_policy(engine: Engine) -> None:
    service = engine.service(
        "deployed",
        restart="unless-stopped",
        deploy=Deploy(
            limits=Resource(cpus=0.25, memory=48 << 20, pids=40),
            reservations=Resource(memory=16 << 20),
            restart_policy=RestartPolicy(condition="on-failure", max_attempts=3),
        ),
    )
    hc = engine.create(engine.project(service, networks=networks(engine.name)), service)[
        "HostConfig"
    ]
    assert (hc["Memory"], hc["MemoryReservation"], hc["NanoCpus"], hc["PidsLimit"]) == (
        48 << 20,
        16 << 20,
        250_000_000,
        40,
    )
    # deploy.restart_policy wins over `restart:`, as in Compose.
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hostconfig.effective_restart(service) == "on-failure:3"
    any_condition = engine.service("any", deploy=Deploy(restart_policy=RestartPolicy("any")))
    assert hostconfig.restart_policy(any_condition) == {"Name": "always"}


def test_gpu_reservations_become_device_requests(engine: Engine) -> None:
    gpus = engine.service("gpus", gpus=(DeviceRequest(count=-1),))
    reserved = engine.service(
        "reserved",
        deploy=Deploy(
            reservations=Resource(
                devices=(
                    DeviceRequest(capabilities=("gpu", "utility"), driver="nvidia", count=2),
                    DeviceRequest(capabilities=("gpu",), driver="nvidia", device_ids=("3",)),
                )
            )
        ),
    )
    project = engine.project(gpus, reserved, networks=networks(engine.name))
    assert engine.create(project, gpus)["HostConfig"]["DeviceRequests"] == [
        {"Driver": "", "Count": -1, "DeviceIDs": None, "Capabilities": [["gpu"]], "Options": None}
    ]
    assert engine.create(project, reserved)["HostConfig"]["DeviceRequests"] == [
        {
            "Driver": "nvidia",
            "Count": 2,
            "DeviceIDs": None,
            "Capabilities": [["gpu", "utility"]],
            "Options": None,
        },
        {
            "Driver": "nvidia",
            "Count": 0,
            "DeviceIDs": ["3"],
            "Capabilities": [["gpu"]],
            "Options": None,
        },
    ]


def test_a_gpu_service_on_an_engine_without_gpus_gets_a_clear_error(engine: Engine) -> None:
    info = engine.client.info()
    if "nvidia" in (info.get("Runtimes") or {}):  # pragma: no cover - a GPU host
        pytest.skip("this engine has the NVIDIA runtime; the error cannot happen here")
    service = engine.service("train", gpus=(DeviceRequest(count=-1),))
    project = engine.project(service, networks=networks(engine.name))
    with pytest.raises(UserError) as caught:
        up(DockerEngine(engine.client), project, [service], allow_pull=False, timeout_s=60)
    assert "reserves GPUs" in caught.value.message
    assert "NVIDIA Container Toolkit" in caught.value.message
    assert "could not select device driver" in caught.value.message


def test_mounts_split_as_compose_splits_them(engine: Engine) -> None:
    data = engine.folder / "data"
    data.mkdir()
    volumes = {"vol": VolumeDef("vol", f"{engine.name}_vol")}
    service = engine.service(
        "mounts",
        volumes=(
            VolumeMount("bind", "/short", str(data), True, bind=BindOptions(create_host_path=True)),
            VolumeMount(
                "bind",
                "/created",
                str(data / "new"),
                bind=BindOptions(create_host_path=True, propagation="rslave", selinux="z"),
            ),
            VolumeMount("bind", "/long", str(data), bind=BindOptions(propagation="rshared")),
            VolumeMount("volume", "/vol", "vol", volume=VolumeOptions(nocopy=True)),
            VolumeMount("volume", "/anon"),
            VolumeMount("tmpfs", "/scratch", tmpfs=TmpfsOptions(size=1 << 20, mode=0o1777)),
        ),
    )
    project = engine.project(service, networks=networks(engine.name), volumes=volumes)
    hc = engine.create(project, service)["HostConfig"]
    assert sorted(hc["Binds"]) == [
        f"{data}/new:/created:rw,z,rslave",
        f"{data}:/short:ro",
    ]
    by_target = {m["Target"]: m for m in hc["Mounts"]}
    assert by_target["/long"]["BindOptions"] == {"Propagation": "rshared"}
    assert by_target["/vol"]["Source"] == f"{engine.name}_vol"
    assert by_target["/vol"]["VolumeOptions"] == {"NoCopy": True}
    assert by_target["/anon"]["Type"] == "volume" and not by_target["/anon"].get("Source")
    assert by_target["/scratch"]["TmpfsOptions"] == {"SizeBytes": 1 << 20, "Mode": 0o1777}


def test_networks_and_volumes_in_full(engine: Engine) -> None:
    def create(subnet: IPv4Network) -> tuple[dict[str, Any], str]:
        prefix = str(subnet.network_address).rsplit(".", 1)[0]
        front = NetworkDef(
            "front",
            f"{engine.name}_front",
            driver_opts=MappingProxyType({"com.docker.network.bridge.enable_icc": "true"}),
            ipam=Ipam(config=(IpamPool(subnet=str(subnet), gateway=f"{prefix}.1"),)),
            attachable=True,
            internal=True,
            labels=MappingProxyType({"team": "vision"}),
        )
        back = NetworkDef("back", f"{engine.name}_back")
        volume = VolumeDef(
            "cache",
            f"{engine.name}_cache",
            driver_opts=MappingProxyType({"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}),
        )
        service = engine.service(
            "net",
            networks=(
                ServiceNetwork("back", priority=0),
                ServiceNetwork("front", aliases=("web",), ipv4_address=f"{prefix}.10", priority=5),
            ),
            mac_address="02:42:ac:11:00:99",
            volumes=(VolumeMount("volume", "/cache", "cache"),),
        )
        project = engine.project(
            service, networks={"front": front, "back": back}, volumes={"cache": volume}
        )
        return engine.create(project, service), prefix

    # A subnet of its own, free on the engine (other test runs may share it).
    container, prefix = dockerkit.on_free_subnet(engine.client, create)
    # The highest priority network is the one the container is created on.
    assert container["HostConfig"]["NetworkMode"] == f"{engine.name}_front"
    endpoint = container["NetworkSettings"]["Networks"][f"{engine.name}_front"]
    assert endpoint["IPAMConfig"]["IPv4Address"] == f"{prefix}.10"
    assert "web" in endpoint["Aliases"]
    if spec._mac_in_config(engine.client.api):
        assert container["Config"]["MacAddress"] == "02:42:ac:11:00:99"
    made = engine.client.api.inspect_network(f"{engine.name}_front")
    assert made["Options"] == {"com.docker.network.bridge.enable_icc": "true"}
    assert made["IPAM"]["Config"] == [{"Subnet": f"{prefix}.0/24", "Gateway": f"{prefix}.1"}]
    assert made["Attachable"] is True and made["Internal"] is True
    assert made["Labels"]["team"] == "vision"
    assert made["Labels"]["com.docker.compose.network"] == "front"
    cache = engine.client.api.inspect_volume(f"{engine.name}_cache")
    assert cache["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}


def test_secrets_and_configs_where_compose_puts_them(engine: Engine, capsys: Any) -> None:
    secret_file = engine.folder / "db_password.txt"
    secret_file.write_text("from-a-file\n")
    config_file = engine.folder / "app.conf"
    config_file.write_text("setting=1\n")
    value = "s3cr3t-value-never-printed"
    secrets = {
        "db_password": FileObjectDef("db_password", "p_db", file=str(secret_file)),
        "api_token": FileObjectDef("api_token", "p_tok", environment="API_TOKEN"),
    }
    configs = {
        "app": FileObjectDef("app", "p_app", file=str(config_file)),
        "inline": FileObjectDef("inline", "p_inline", content="hello ${X}\n"),
    }
    service = engine.service(
        "files",
        command=("sh", "-c", dockerkit.IDLE_COMMAND.replace("$$", "$")),
        secrets=(
            FileReference("db_password"),
            FileReference("api_token", target="token", mode=0o400),
        ),
        configs=(FileReference("app"), FileReference("inline", target="/etc/inline.conf")),
    )
    project = engine.project(
        service,
        networks=networks(engine.name),
        environment={"API_TOKEN": value},
        secrets=secrets,
        configs=configs,
    )
    up(DockerEngine(engine.client), project, [service], allow_pull=False, timeout_s=60)
    container = engine.client.api.containers(
        filters={"label": f"com.docker.compose.project={engine.name}"}
    )[0]["Id"]

    def run(*command: str) -> str:
        exec_id = engine.client.api.exec_create(container, list(command))
        return engine.client.api.exec_start(exec_id).decode()

    assert run("cat", "/run/secrets/db_password") == "from-a-file\n"
    assert run("cat", "/run/secrets/token") == value
    assert run("stat", "-c", "%a %u", "/run/secrets/token").split() == ["400", "0"]
    assert run("cat", "/app") == "setting=1\n"
    assert run("cat", "/etc/inline.conf") == "hello ${X}\n"
    assert run("stat", "-c", "%a", "/etc/inline.conf").strip() == "444"
    mounts = engine.client.api.inspect_container(container)["Mounts"]
    assert {(m["Destination"], m["RW"]) for m in mounts} == {
        ("/run/secrets/db_password", False),
        ("/app", False),
    }
    assert value not in repr(hostconfig.files_to_copy(project, service))
    assert value not in capsys.readouterr().err


def test_keys_the_engine_cannot_honour_are_named(engine: Engine) -> None:
    service = engine.service(
        "old",
        annotations=MappingProxyType({"com.example": "x"}),
        deploy=Deploy(reservations=Resource(cpus=0.5)),
    )
    notes = hostconfig.warnings(engine.client.api, service)
    assert any("reservations.cpus" in n for n in notes)
    if hostconfig._api_older_than(engine.client.api, "1.43"):
        assert any("annotations" in n and "ignores them" in n for n in notes)
    external = engine.service("ext", secrets=(FileReference("token"),))
    project = engine.project(
        external,
        networks=networks(engine.name),
        secrets={"token": FileObjectDef("token", "token", external=True)},
    )
    with pytest.raises(UserError, match="external secrets exist only in Swarm"):
        hostconfig.mounts(engine.client.api, project, external)


def test_a_network_the_engine_refuses_is_named(engine: Engine) -> None:
    def make_first(subnet: IPv4Network) -> tuple[Project, NetworkDef]:
        pool = Ipam(config=(IpamPool(subnet=str(subnet)),))
        first = NetworkDef("one", f"{engine.name}_one", ipam=pool)
        second = NetworkDef("two", f"{engine.name}_two", ipam=pool)
        project = engine.project(networks={"one": first, "two": second})
        resources.ensure_network(engine.client, project, first, silent)
        return project, second

    # The first network on a subnet free on the engine; the second on the same one.
    project, second = dockerkit.on_free_subnet(engine.client, make_first)
    with pytest.raises(UserError) as caught:
        resources.ensure_network(engine.client, project, second, silent)
    assert f"{engine.name}_two" in caught.value.message
    assert "ipam.config.subnet" in caught.value.message
