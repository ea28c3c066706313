"""The dispatch process's ServiceHost: its services serve only while it leads."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.dispatch.service_layer.leadership import Campaign
from services.dispatch.service_layer.ports import ServingStatus
from services.runtime.server import ServiceHost


@dataclass
class MatcherHost(ServiceHost):
    """Once the port is open, dispatch's services report NOT_SERVING and the replica
    campaigns for leadership; they turn SERVING when it leads."""

    campaign: Campaign | None = field(default=None)
    serving_status: ServingStatus | None = field(default=None)

    async def start(self) -> int:
        port = await super().start()
        if self.serving_status is not None:
            await self.serving_status.set_serving(False)
        if self.campaign is not None:
            self.campaign.start()
        return port
