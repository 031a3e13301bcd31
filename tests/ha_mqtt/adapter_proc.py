"""`python -m tests.ha_mqtt.adapter_proc SETTINGS_JSON`: the HA entities over a planning
facade in a process of their own, so a test can kill -9 it and see the Last Will."""

from __future__ import annotations

import asyncio
import sys

from bench.planning_facade import Car, PlanningFacade
from optimizer.ha_mqtt.entities import run_ha_entities
from optimizer.ha_mqtt.settings import MqttSettings

if __name__ == "__main__":
    settings = MqttSettings.model_validate_json(sys.argv[1])
    facade = PlanningFacade([Car("iX1", "WBA00000000000001")])
    asyncio.run(run_ha_entities(facade, settings))
