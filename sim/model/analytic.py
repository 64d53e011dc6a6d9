"""Closed-form queueing results used by tests and lessons."""

from __future__ import annotations

import math


def erlang_c(servers: int, offered_load: float) -> float:
    """Return the probability that an arrival waits in an M/M/c queue (Erlang C).

    Args:
        servers: The number of servers c.
        offered_load: The offered load a = lambda / mu in Erlangs; must be below c.
    """
    if offered_load >= servers:
        raise ValueError("the queue is unstable: offered load must be below the server count")
    # Erlang B by its stable recursion, then C from B.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    rho = offered_load / servers
    return blocking / (1.0 - rho + rho * blocking)


def mmc_mean_wait(arrival_rate: float, service_mean: float, servers: int) -> float:
    """Return the mean time in queue Wq of an M/M/c queue, in the units of service_mean."""
    load = arrival_rate * service_mean
    waiting = erlang_c(servers, load)
    return waiting * service_mean / (servers - load)


def mmc_wait_quantile(arrival_rate: float, service_mean: float, servers: int, q: float) -> float:
    """Return the q-quantile of the M/M/c waiting time (zero where P(wait) <= 1 - q)."""
    load = arrival_rate * service_mean
    waiting = erlang_c(servers, load)
    if waiting <= 1.0 - q:
        return 0.0
    decay = (servers - load) / service_mean
    return math.log(waiting / (1.0 - q)) / decay


def mmc_utilisation(arrival_rate: float, service_mean: float, servers: int) -> float:
    """Return the server utilisation rho = lambda * E[S] / c."""
    return arrival_rate * service_mean / servers
