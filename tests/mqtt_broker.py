"""A real mosquitto for tests: own config in a temp dir, 127.0.0.1, free port, TLS with a
throwaway CA (made with the openssl CLI), client certificate and password required.

Import the fixtures into a test module: `from mqtt_broker import broker, tls_material  # noqa: F401`.
"""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
OPENSSL = shutil.which("openssl")
USER, PASSWORD = "unit", "s3cret-for-tests-only"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TlsMaterial:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    passwd: Path
    password_file: Path  # the client's secret file (as LoadCredential would give it)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def make_tls(d: Path) -> TlsMaterial:
    d.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
             "-days", "2", "-subj", "/CN=trailcam-test-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "localhost"), ("client", "trailcam-unit")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    passwd = d / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), USER, PASSWORD], check=True, capture_output=True)
    creds = d / "credentials"
    creds.mkdir(exist_ok=True)
    (creds / "mqtt_password").write_text(PASSWORD + "\n")
    for p in d.glob("*.key"):
        p.chmod(0o600)
    return TlsMaterial(d, d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt",
                       d / "client.key", passwd, creds / "mqtt_password")


class Broker:
    def __init__(self, workdir: Path, tls: TlsMaterial):
        self.dir = workdir
        self.tls = tls
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"user root\n"
            f"persistence true\npersistence_location {self.dir}/\n"
            f"autosave_interval 1\nautosave_on_changes true\n"
            f"log_dest file {self.dir}/mosquitto.log\n"
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {tls.ca}\ncertfile {tls.server_cert}\nkeyfile {tls.server_key}\n"
            f"require_certificate true\n"
            f"allow_anonymous false\npassword_file {tls.passwd}\n"
            f"max_queued_messages 100000\n")

    def start(self, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.dir / 'mosquitto.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None


class Subscriber:
    """A paho client with a persistent session collecting everything below a topic filter."""

    def __init__(self, broker: Broker, topic: str, client_id: str = "test-sub"):
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        c.tls_set(ca_certs=str(broker.tls.ca), certfile=str(broker.tls.client_cert),
                  keyfile=str(broker.tls.client_key))
        c.username_pw_set(USER, PASSWORD)
        c.reconnect_delay_set(1, 2)

        def on_connect(client, userdata, flags, rc, props):
            client.subscribe(topic, qos=1)
            self.connected.set()

        def on_message(client, userdata, msg):
            with self.lock:
                self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

        c.on_connect = on_connect
        c.on_message = on_message
        self.client = c
        c.connect_async("127.0.0.1", broker.port, keepalive=10)
        c.loop_start()
        if not self.connected.wait(10):
            raise RuntimeError("test subscriber could not connect")

    def publish(self, topic: str, payload: bytes | str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def on(self, suffix: str) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if t.endswith(suffix)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(cond, timeout: float, step=None) -> bool:
    """Poll `cond` (calling `step` between polls) until true or `timeout` real seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step is not None:
            step()
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory) -> TlsMaterial:
    if MOSQUITTO is None or OPENSSL is None:
        pytest.skip("mosquitto and openssl are needed (make test installs mosquitto)")
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def broker(tmp_path, tls_material):
    b = Broker(tmp_path / "broker", tls_material)
    b.start()
    try:
        yield b
    finally:
        b.stop()
