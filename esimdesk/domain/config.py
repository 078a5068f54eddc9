"""A vendor account as the layers below the services see it. Secrets never show in repr/str."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VendorConfig:
    vendor: str
    base_url: str
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # secrets stay out of logs and tracebacks
        return f"VendorConfig(vendor={self.vendor!r}, base_url={self.base_url!r}, secrets=<{len(self.secrets)} hidden>)"

    __str__ = __repr__

    def secret(self, name: str) -> str:
        return self.secrets[name]

    def secret_values(self) -> list[str]:
        return [v for v in self.secrets.values() if v]
