"""The emulated vendor APIs, by their ids (also their folder names under scenarios/ and
schemas/)."""

from __future__ import annotations

from .base import VendorApi
from .dataarts import DataArts
from .ops_center import OpsCenter
from .spectrum_discover import SpectrumDiscover
from .traffic_ops import TrafficOps

API_CLASSES: dict[str, type[VendorApi]] = {
    api.name: api for api in (SpectrumDiscover, OpsCenter, DataArts, TrafficOps)
}

__all__ = ["API_CLASSES", "VendorApi"]
