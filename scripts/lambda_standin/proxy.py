"""A stand-in for RDS Proxy's metrics: a TCP forwarder to the database that counts the
connections the functions open through it and publishes them to CloudWatch (moto here),
in the namespace, metrics and dimension RDS Proxy publishes
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy.monitoring.html):

    AWS/RDS  ClientConnections                 client connections open (the most at once in
                                               the period)
    AWS/RDS  ClientConnectionsSetupSucceeded   client connections set up in the period
    dimension ProxyName

It forwards bytes and nothing else: no pooling, no TLS termination, no IAM check. RDS
Proxy publishes every minute; the period here is a parameter so that a test need not wait
for minutes.
"""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import boto3


class CountingProxy:
    def __init__(self, name: str, upstream: tuple[str, int], cloudwatch_endpoint: str,
                 region: str, period_s: int):
        self.name = name
        self.upstream = upstream
        self.period_s = period_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._open = 0
        self._peak = 0  # the most open at once in the current period
        self._accepted = 0
        self._stop = threading.Event()
        self._cloudwatch = boto3.client("cloudwatch", endpoint_url=cloudwatch_endpoint,
                                        region_name=region, aws_access_key_id="stand-in",
                                        aws_secret_access_key="stand-in")
        for target in (self._accept, self._publish):
            threading.Thread(target=target, daemon=True, name=f"proxy-{target.__name__}").start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
                # A forwarder must not add Nagle's wait to MySQL's small round trips.
                for end in (client, server):
                    end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += 1
                self._accepted += 1
                self._peak = max(self._peak, self._open)
            closed = threading.Barrier(2, action=self._closed)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink, closed), daemon=True).start()

    def _closed(self) -> None:
        with self._lock:
            self._open -= 1

    def _publish(self) -> None:
        # One datapoint per metric and period, stamped at the period's start.
        while not self._stop.wait(self.period_s - time.time() % self.period_s):
            stamp = datetime.fromtimestamp(time.time() // self.period_s * self.period_s - self.period_s,
                                           tz=timezone.utc)
            with self._lock:
                peak, accepted = self._peak, self._accepted
                self._peak, self._accepted = self._open, 0
            dimensions = [{"Name": "ProxyName", "Value": self.name}]
            try:
                self._cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[
                    {"MetricName": "ClientConnections", "Dimensions": dimensions,
                     "Timestamp": stamp, "Value": peak, "Unit": "Count"},
                    {"MetricName": "ClientConnectionsSetupSucceeded", "Dimensions": dimensions,
                     "Timestamp": stamp, "Value": accepted, "Unit": "Count"},
                ])
            except Exception as error:  # a metric lost is reported, the proxy keeps going
                print(f"stand-in proxy: put_metric_data failed: {error}", flush=True)

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()


def _pump(source: socket.socket, sink: socket.socket, closed: threading.Barrier) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            closed.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        source.close()
