#!/usr/bin/env python3
"""Runs a Foresight federation on Flower (flwr 1.39.0): a SuperLink and this folder's ServerApp.

    python3 -m pip install flwr==1.39.0
    python3 Sources/ForesightFleet/FlowerApp/serve.py --fleet 0.0.0.0:9092 --clients 2 --rounds 10

starts `flower-superlink` (robots connect to its Fleet API at --fleet with `foresight learn
--fleet HOST:9092`), submits this Flower App to it with `flwr run`, prints the run's log until
the last round, and stops the SuperLink. Plain gRPC (flower-superlink --insecure) unless
--ssl-certfile, --ssl-keyfile and --ssl-ca-certfile are given: then the SuperLink speaks TLS
and robots join with `--fleet-root-certificates CA.pem`. Flower's own state stays in a
temporary FLWR_HOME.
"""

import argparse
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

APP = pathlib.Path(__file__).resolve().parent
PINNED = "1.39.0"


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_port(host: str, port: int, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"flower-superlink exited with status {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    sys.exit(f"flower-superlink did not listen on {host}:{port} within {seconds:.0f} s")


def watchers_of(pid: int) -> list[int]:
    """Processes started with `--parent-pid PID`: the SuperExec and apps a SuperLink starts in
    sessions of their own, which stopping the SuperLink's session does not reach."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                arguments = file.read().split(b"\0")
        except OSError:
            continue
        for index, argument in enumerate(arguments[:-1]):
            if argument == b"--parent-pid" and arguments[index + 1] == str(pid).encode():
                found.append(int(entry))
    return found


def stop_group(pid: int, seconds: float) -> None:
    """SIGTERM to the process group led by `pid` (or the process alone), SIGKILL after `seconds`."""
    def send(signal_number: int) -> None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal_number)
            else:
                os.kill(pid, signal_number)
        except (ProcessLookupError, PermissionError):
            pass
    send(signal.SIGTERM)
    deadline = time.time() + seconds
    while time.time() < deadline and os.path.exists(f"/proc/{pid}"):
        try:
            if open(f"/proc/{pid}/stat").read().split(") ")[-1].startswith("Z"):
                return
        except OSError:
            return
        time.sleep(0.1)
    send(signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fleet", default="0.0.0.0:9092", help="HOST:PORT of the Fleet API the robots connect to (port 0: a free one, printed)")
    parser.add_argument("--clients", type=int, default=2, help="robots the first round waits for")
    parser.add_argument("--min-clients", type=int, default=0, help="robots a later round needs connected (default: --clients); fewer, and it waits for more to join")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--local-steps", type=int, default=20, help="training steps each robot takes on the global model before it replies")
    parser.add_argument("--round-timeout", type=float, default=120.0, help="seconds a round waits for replies before it goes on with those it has")
    parser.add_argument("--strategy", choices=["fedavg", "fedavgm"], default="fedavg",
                        help="fedavg: the weighted mean of the robots' arrays; fedavgm: a server step along a momentum of those means' moves")
    parser.add_argument("--server-momentum", type=float, default=0.9, help="FedAvgM's momentum, in [0, 1)")
    parser.add_argument("--result", default="", help="write the rounds' metrics and the final arrays here (JSON)")
    parser.add_argument("--ssl-certfile", default="", help="TLS: the SuperLink's certificate (PEM; it must name the host robots dial); with --ssl-keyfile and --ssl-ca-certfile")
    parser.add_argument("--ssl-keyfile", default="", help="TLS: the certificate's private key (PEM)")
    parser.add_argument("--ssl-ca-certfile", default="", help="TLS: the certificate authority that signed it (PEM), which robots trust with --fleet-root-certificates")
    parser.add_argument("--control-port", type=int, default=0, help="the SuperLink's control and runtime HTTP port on 127.0.0.1 (0: a free one)")
    arguments = parser.parse_args()
    if not 0 <= arguments.server_momentum < 1:
        parser.error(f"--server-momentum must be in [0, 1), got {arguments.server_momentum}")
    tls = [arguments.ssl_certfile, arguments.ssl_keyfile, arguments.ssl_ca_certfile]
    if any(tls) and not all(tls):
        parser.error("TLS needs all three of --ssl-certfile, --ssl-keyfile and --ssl-ca-certfile")
    for path in filter(None, tls):
        if not os.path.isfile(path):
            parser.error(f"{path}: no such file")
    tls = [os.path.abspath(path) for path in tls] if all(tls) else []

    try:
        from importlib.metadata import version
        installed = version("flwr")
    except Exception:  # noqa: BLE001
        sys.exit(f"flwr is not installed: python3 -m pip install flwr=={PINNED}")
    if installed != PINNED:
        print(f"warning: flwr {installed} is installed; this app is made for flwr {PINNED} (its SuperLink serves the Fleet API over gRPC)", file=sys.stderr)

    fleet_host, _, fleet_port = arguments.fleet.rpartition(":")
    fleet_host = fleet_host.strip("[]") or "0.0.0.0"
    fleet_port = int(fleet_port) or free_port(fleet_host)
    control_port = arguments.control_port or free_port("127.0.0.1")
    home = pathlib.Path(tempfile.mkdtemp(prefix="foresight-flwr-"))
    # `flwr run` reaches the SuperLink's control API, which speaks TLS when the Fleet API does.
    security = f'root-certificates = "{tls[2]}"' if tls else "insecure = true"
    (home / "config.toml").write_text(f'[superlink]\ndefault = "fleet"\n\n[superlink.fleet]\naddress = "127.0.0.1:{control_port}"\n{security}\n')
    environment = dict(os.environ, FLWR_HOME=str(home))
    fleet_address = f"[{fleet_host}]:{fleet_port}" if ":" in fleet_host else f"{fleet_host}:{fleet_port}"
    # SIGTERM (a supervisor, `timeout`) stops the SuperLink too, through the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    superlink = subprocess.Popen(
        ["flower-superlink", *(["--ssl-certfile", tls[0], "--ssl-keyfile", tls[1], "--ssl-ca-certfile", tls[2]] if tls else ["--insecure"]),
         "--fleet-api-address", fleet_address, "--host", "127.0.0.1", "--port", str(control_port), "--disable-runtime-dependency-installation"],
        env=environment, stdin=subprocess.DEVNULL, stdout=open(home / "superlink.log", "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait_for_port("127.0.0.1", control_port, superlink, 60)
        wait_for_port("127.0.0.1" if fleet_host in ("0.0.0.0", "::") else fleet_host, fleet_port, superlink, 30)
        print(f"SuperLink pid {superlink.pid}", flush=True)
        print(f"Fleet API at {fleet_address}{' (TLS)' if tls else ''}; waiting for {arguments.clients} robot(s); {arguments.rounds} round(s) of {arguments.strategy}", flush=True)
        settings = [
            f"num-server-rounds={arguments.rounds}", f"clients={arguments.clients}", f"min-clients={arguments.min_clients}", f"local-steps={arguments.local_steps}",
            f"round-timeout={float(arguments.round_timeout)}", f'strategy="{arguments.strategy}"', f"server-momentum={float(arguments.server_momentum)}",
            f'result-file="{os.path.abspath(arguments.result) if arguments.result else ""}"',
        ]
        run = subprocess.run(["flwr", "run", str(APP), "fleet", "--stream", "--run-config", " ".join(settings)], env=environment,
                             stdin=subprocess.DEVNULL)
        if arguments.result and not os.path.exists(arguments.result):
            print(f"the run ended without writing {arguments.result}; the SuperLink's log:\n{(home / 'superlink.log').read_text()[-4000:]}", file=sys.stderr)
            return 1
        return run.returncode
    finally:
        # The SuperLink starts its SuperExec in a session of its own, watching the SuperLink's
        # pid; it does not always leave when the SuperLink does, so it is stopped here too.
        watchers = watchers_of(superlink.pid)
        os.killpg(superlink.pid, signal.SIGTERM)
        try:
            superlink.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(superlink.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        watchers = set(watchers + watchers_of(superlink.pid))
        for watcher in list(watchers):
            watchers.update(watchers_of(watcher))  # the ServerApps a SuperExec started
        for watcher in watchers:
            stop_group(watcher, 5)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
