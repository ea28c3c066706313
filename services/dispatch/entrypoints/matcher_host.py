"""The dispatch process's ServiceHost: its services serve only while it leads."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.dispatch.service_layer.leadership import Campaign
from services.runtime.server import ServiceHost


@dataclass
class MatcherHost(ServiceHost):
    """dispatch's services start NOT_SERVING (their bindings say so); once the port is
    open the replica campaigns for leadership, and they turn SERVING when it leads."""

    campaign: Campaign | None = field(default=None)

    async def start(self) -> int:
        port = await super().start()
        if self.campaign is not None:
            self.campaign.start()
        return port
