"""Prometheus metrics, read from the live objects at scrape time (no hot-path cost)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from callagent.monitor import Monitor
from callagent.routing.agi import FastAgiServer
from callagent.routing.operators import OperatorBook
from callagent.routing.router import Router


class MonitorCollector(Collector):
    """Exposes the monitor's counters as Prometheus metrics."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        monitor = self.monitor
        received = CounterMetricFamily(
            "callagent_ami_events_received", "AMI events received", labels=["node"]
        )
        malformed = CounterMetricFamily(
            "callagent_ami_events_malformed", "AMI frames dropped as malformed", labels=["node"]
        )
        reconnects = CounterMetricFamily(
            "callagent_ami_reconnects", "AMI reconnect attempts", labels=["node"]
        )
        connected = GaugeMetricFamily(
            "callagent_ami_connected", "1 when the AMI node is connected", labels=["node"]
        )
        for client in monitor.clients:
            name = client.node.name
            received.add_metric([name], client.events_received)
            malformed.add_metric([name], client.events_malformed)
            reconnects.add_metric([name], client.reconnects)
            connected.add_metric([name], 1.0 if client.connected else 0.0)
        yield received
        yield malformed
        yield reconnects
        yield connected
        ownership = monitor.ownership
        if ownership is not None:  # several instances on one PostgreSQL (node leases)
            owned = GaugeMetricFamily(
                "callagent_node_owned",
                "1 when this instance holds the node's lease and follows it",
                labels=["node"],
            )
            held = set(ownership.owned())
            for client in monitor.clients:
                owned.add_metric([client.node.name], 1.0 if client.node.name in held else 0.0)
            yield owned
            yield CounterMetricFamily(
                "callagent_node_takeovers",
                "node leases this instance took (at start, or from an instance that stopped "
                "renewing)",
                value=ownership.takeovers,
            )
            yield CounterMetricFamily(
                "callagent_node_losses",
                "node leases another instance took from this one",
                value=ownership.losses,
            )
            yield CounterMetricFamily(
                "callagent_node_fenced_writes",
                "write batches refused because this instance's node token was stale",
                value=ownership.fence.refused_writes,
            )
        yield GaugeMetricFamily(
            "callagent_calls_active", "calls in progress", value=len(monitor.tracker.calls)
        )
        yield GaugeMetricFamily(
            "callagent_writer_pending", "changes not yet stored", value=monitor.writer.pending
        )
        yield CounterMetricFamily(
            "callagent_writer_records", "call records stored", value=monitor.writer.records_written
        )
        yield CounterMetricFamily(
            "callagent_writer_failures", "failed store batches", value=monitor.writer.failures
        )


class RoutingCollector(Collector):
    """Route decisions, waits, no-operator answers, claim conflicts, FastAGI dialogues."""

    def __init__(self, router: Router, book: OperatorBook, agi: FastAgiServer) -> None:
        self.router = router
        self.book = book
        self.agi = agi

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "callagent_route_decisions", "route requests answered", value=self.router.decisions
        )
        yield CounterMetricFamily(
            "callagent_route_no_operator",
            "route answers with nobody free (wait or overflow)",
            value=self.router.no_operator,
        )
        yield GaugeMetricFamily(
            "callagent_calls_waiting",
            "calls waiting for an operator",
            value=len(self.router.waiting),
        )
        yield CounterMetricFamily(
            "callagent_claim_conflicts",
            "operators lost to a concurrent claim (the next one was taken)",
            value=self.book.claim_conflicts,
        )
        yield CounterMetricFamily(
            "callagent_claim_transactions",
            "database transactions that claimed operators (route requests go in batches)",
            value=self.router.claims.batches,
        )
        yield CounterMetricFamily(
            "callagent_claim_requests",
            "route requests that asked the database for an operator",
            value=self.router.claims.done,
        )
        yield CounterMetricFamily(
            "callagent_agi_dialogues", "FastAGI dialogues served", value=self.agi.dialogues
        )
        yield CounterMetricFamily(
            "callagent_agi_rejected", "FastAGI connections refused as bad", value=self.agi.rejected
        )
        yield CounterMetricFamily(
            "callagent_agi_hangups", "FastAGI dialogues cut by a hang-up", value=self.agi.hangups
        )


def make_registry(monitor: Monitor) -> CollectorRegistry:
    """A registry of its own per app, so tests can run several apps."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(MonitorCollector(monitor))
    return registry
