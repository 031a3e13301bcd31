"""What Home Assistant is told: discovery configs, the state document, and command parsing.

Pure functions of a vehicle snapshot (the `GET /api/vehicles` object), so the shapes are
tested without a broker. Each vehicle is one HA device with one retained JSON state topic;
every entity picks its value out of it with a template, so a snapshot is one publish and
all entities change together.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from optimizer import __version__
from optimizer.ha_mqtt.settings import MqttSettings
from optimizer.web.facade import VehicleView

ON, OFF = "ON", "OFF"
COMMANDS = ("target_soc", "departure", "smart", "boost")


def slug(name: str) -> str:
    """An MQTT topic level and HA object id: lower case letters, digits and `_`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "vehicle"


def availability_topic(settings: MqttSettings) -> str:
    return f"{settings.topic_prefix}/status"


def state_topic(settings: MqttSettings, vehicle: VehicleView) -> str:
    return f"{settings.topic_prefix}/{slug(vehicle['name'])}/state"


def command_topic(settings: MqttSettings, vehicle: VehicleView, command: str) -> str:
    return f"{settings.topic_prefix}/{slug(vehicle['name'])}/{command}/set"


def _value(key: str) -> str:
    return "{{ value_json." + key + " }}"


def _sensors(currency: str) -> dict[str, dict[str, Any]]:
    """object id → (platform, name, extra config) for every entity except controls."""
    return {
        "soc": {"p": "sensor", "name": "Estimated SoC", "unit_of_measurement": "%",
                "device_class": "battery", "state_class": "measurement",
                "value_template": _value("soc_pct"), "suggested_display_precision": 0},
        "plan_start": {"p": "sensor", "name": "Plan start", "device_class": "timestamp",
                       "value_template": _value("plan_start")},
        "plan_end": {"p": "sensor", "name": "Plan end", "device_class": "timestamp",
                     "value_template": _value("plan_end")},
        "plan_cost": {"p": "sensor", "name": "Plan cost", "device_class": "monetary",
                      "unit_of_measurement": currency, "value_template": _value("plan_cost"),
                      "suggested_display_precision": 2},
        "soc_at_departure": {"p": "sensor", "name": "SoC at departure",
                             "unit_of_measurement": "%",
                             "value_template": _value("soc_at_departure_pct"),
                             "suggested_display_precision": 0},
        "price_now": {"p": "sensor", "name": "Current slot price",
                      "unit_of_measurement": f"{currency}/kWh",
                      "value_template": _value("price_now"),
                      "suggested_display_precision": 3},
        "session_energy": {"p": "sensor", "name": "Session energy", "device_class": "energy",
                           "unit_of_measurement": "kWh", "state_class": "total",
                           "value_template": _value("session_energy_kwh"),
                           "suggested_display_precision": 1},
        "session_saving": {"p": "sensor", "name": "Session saving",
                           "device_class": "monetary", "unit_of_measurement": currency,
                           "value_template": _value("session_saving"),
                           "suggested_display_precision": 2},
        "plugged": {"p": "binary_sensor", "name": "Plugged", "device_class": "plug",
                    "value_template": _value("plugged"), "payload_on": ON,
                    "payload_off": OFF},
        "charging": {"p": "binary_sensor", "name": "Charging",
                     "device_class": "battery_charging", "value_template": _value("charging"),
                     "payload_on": ON, "payload_off": OFF},
    }


def discovery_configs(settings: MqttSettings, vehicle: VehicleView) -> dict[str, dict[str, Any]]:
    """Discovery topic → config for every entity of one vehicle (published retained)."""
    currency = str(vehicle.get("currency") or "EUR")
    object_base = f"ev_optimizer_{slug(vehicle['vin'] or vehicle['name'])}"
    device = {"identifiers": [object_base], "name": vehicle["name"],
              "manufacturer": "BMW Group", "model": "via ev-optimizer",
              "sw_version": __version__, "serial_number": vehicle["vin"]}
    common = {"availability_topic": availability_topic(settings),
              "state_topic": state_topic(settings, vehicle), "device": device,
              "origin": {"name": "ev-optimizer", "sw_version": __version__}}
    entities = _sensors(currency)
    entities["soc"] |= {"json_attributes_topic": state_topic(settings, vehicle),
                        "json_attributes_template":
                            '{{ {"soc_low_pct": value_json.soc_low_pct, '
                            '"soc_high_pct": value_json.soc_high_pct} | tojson }}'}
    entities |= {
        "target_soc": {"p": "number", "name": "Target SoC", "unit_of_measurement": "%",
                       "min": 1, "max": 100, "step": 1, "mode": "box",
                       "value_template": _value("target_soc_pct")},
        "departure": {"p": "text", "name": "Departure", "max": 32,
                      "pattern": r"^(\d{1,2}:\d{2}|\d{4}-\d{2}-\d{2}[T ].+)$",
                      "value_template": _value("departure")},
        "smart": {"p": "switch", "name": "Smart charging", "icon": "mdi:cash-clock",
                  "value_template": _value("smart"), "payload_on": ON, "payload_off": OFF},
        "boost": {"p": "switch", "name": "Boost", "icon": "mdi:rocket-launch",
                  "value_template": _value("boost"), "payload_on": ON, "payload_off": OFF},
    }
    configs = {}
    for object_id, entity in entities.items():
        platform = entity.pop("p")
        config = {**common, **entity, "unique_id": f"{object_base}_{object_id}",
                  "object_id": f"{slug(vehicle['name'])}_{object_id}"}
        if object_id in COMMANDS:
            config["command_topic"] = command_topic(settings, vehicle, object_id)
        topic = f"{settings.discovery_prefix}/{platform}/{object_base}/{object_id}/config"
        configs[topic] = config
    return configs


def state_document(vehicle: VehicleView) -> dict[str, Any]:
    """The retained state of one vehicle, the values the templates above pick out."""
    plan = vehicle.get("plan") or None
    slots = plan["slots"] if plan else []
    session = vehicle.get("session") or None

    def switch(value: Any) -> str:
        return ON if value else OFF

    return {
        "soc_pct": vehicle.get("soc_pct"),
        "soc_low_pct": vehicle.get("soc_low_pct"),
        "soc_high_pct": vehicle.get("soc_high_pct"),
        "plan_start": slots[0]["start"] if slots else None,
        "plan_end": slots[-1]["end"] if slots else None,
        "plan_cost": plan["cost"] if plan else None,
        "soc_at_departure_pct": plan["soc_at_departure_pct"] if plan else None,
        "price_now": vehicle.get("price_now"),
        "session_energy_kwh": session["energy_kwh"] if session else None,
        "session_saving": session.get("saving") if session else None,
        "plugged": switch(vehicle.get("plugged")),
        "charging": switch(vehicle.get("charging")),
        "target_soc_pct": vehicle.get("target_soc_pct"),
        "departure": vehicle.get("departure"),
        "smart": switch(vehicle.get("smart", True)),
        "boost": switch(vehicle.get("boost", False)),
    }


def parse_command_topic(settings: MqttSettings, topic: str,
                        vehicles: list[VehicleView]) -> tuple[str, str] | None:
    """(vehicle name, command) for `<topic_prefix>/<slug>/<command>/set`, else None."""
    prefix = settings.topic_prefix + "/"
    if not topic.startswith(prefix) or not topic.endswith("/set"):
        return None
    parts = topic[len(prefix):-len("/set")].split("/")
    if len(parts) != 2 or parts[1] not in COMMANDS:
        return None
    for vehicle in vehicles:
        if slug(vehicle["name"]) == parts[0]:
            return str(vehicle["name"]), parts[1]
    return None


def parse_switch(payload: str) -> bool:
    value = payload.strip().upper()
    if value in (ON, "TRUE", "1"):
        return True
    if value in (OFF, "FALSE", "0"):
        return False
    raise ValueError(f"switch payload {payload!r} is not ON or OFF")


def parse_departure(payload: str, now: datetime, tz: tzinfo) -> datetime:
    """"07:30" (the next 07:30 in `tz` after `now`) or an ISO 8601 time (local if no offset)."""
    text = payload.strip()
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if match:
        at = time(int(match[1]), int(match[2]))
        local = now.astimezone(tz)
        candidate = datetime.combine(local.date(), at, tzinfo=tz)
        return candidate if candidate > now else datetime.combine(
            local.date() + timedelta(days=1), at, tzinfo=tz)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"departure {payload!r} is neither HH:MM nor an ISO 8601 time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), sort_keys=True)
