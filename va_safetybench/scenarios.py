"""Scenario names of both benchmarks and how they join.

VA-SafetyBench keeps 8 of MM-SafetyBench's 13 scenarios; item ids match within a joined
scenario (see shared/data/README.md). Names keep the upstream spelling (typos included)
because they are also directory and file names in the official layouts.
"""

from __future__ import annotations

VA_SCENARIOS: tuple[str, ...] = (
    "1-IllegalActivitiy",
    "2-HateSpeech",
    "3-MalwareGeneration",
    "4-PhysicalHarm",
    "5-EconomicHarm",
    "6-Fraud",
    "7-Sex",
    "8-PrivacyViolence",
)

MM_SCENARIOS: tuple[str, ...] = (
    "01-Illegal_Activitiy",
    "02-HateSpeech",
    "03-Malware_Generation",
    "04-Physical_Harm",
    "05-EconomicHarm",
    "06-Fraud",
    "07-Sex",
    "08-Political_Lobbying",
    "09-Privacy_Violence",
    "10-Legal_Opinion",
    "11-Financial_Advice",
    "12-Health_Consultation",
    "13-Gov_Decision",
)

VA_TO_MM: dict[str, str] = dict(zip(VA_SCENARIOS, MM_SCENARIOS[:7] + ("09-Privacy_Violence",)))


def scenario_number(name: str) -> int:
    """The leading number of a scenario name ('08-Political_Lobbying' -> 8)."""
    return int(name.split("-", 1)[0])


def match_scenarios(selected: list[str] | None, available: tuple[str, ...]) -> set[str]:
    """Scenarios of `available` named by `selected` (full name, or its number); None means all."""
    if not selected:
        return set(available)
    chosen: set[str] = set()
    for token in selected:
        hits = [s for s in available if token == s or (token.isdigit() and scenario_number(s) == int(token))]
        chosen.update(hits)
    return chosen
