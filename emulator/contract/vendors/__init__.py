"""The contract of each emulated API, one module per API (see `base.VendorContract`)."""

from __future__ import annotations

from .base import Answer, Http, Route, Session, VendorContract
from .dataarts import DataArtsContract
from .ops_center import OpsCenterContract
from .spectrum_discover import SpectrumDiscoverContract
from .traffic_ops import TrafficOpsContract

CONTRACTS: dict[str, type[VendorContract]] = {
    contract.api: contract
    for contract in (
        SpectrumDiscoverContract,
        OpsCenterContract,
        DataArtsContract,
        TrafficOpsContract,
    )
}


def contract_for(api: str) -> VendorContract:
    """The contract of `api`; ValueError names the APIs there are."""
    if api not in CONTRACTS:
        raise ValueError(f"unknown api {api!r}: use one of {', '.join(CONTRACTS)}")
    return CONTRACTS[api]()


__all__ = ["CONTRACTS", "Answer", "Http", "Route", "Session", "VendorContract", "contract_for"]
