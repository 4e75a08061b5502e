"""STIX 2.1 open vocabularies (section 10) and the relationships of Appendix B that the
authoring forms offer. Open vocabularies are suggestions: the spec allows other values."""

INDICATOR_TYPES = [
    "anomalous-activity",
    "anonymization",
    "benign",
    "compromised",
    "malicious-activity",
    "attribution",
    "unknown",
]
MALWARE_TYPES = [
    "adware",
    "backdoor",
    "bot",
    "bootkit",
    "ddos",
    "downloader",
    "dropper",
    "exploit-kit",
    "keylogger",
    "ransomware",
    "remote-access-trojan",
    "resource-exploitation",
    "rogue-security-software",
    "rootkit",
    "screen-capture",
    "spyware",
    "trojan",
    "virus",
    "webshell",
    "wiper",
    "worm",
    "unknown",
]
MALWARE_CAPABILITIES = [
    "accesses-remote-machines",
    "anti-debugging",
    "anti-disassembly",
    "anti-emulation",
    "anti-memory-forensics",
    "anti-sandbox",
    "anti-vm",
    "captures-input-peripherals",
    "captures-output-peripherals",
    "captures-system-state-data",
    "cleans-traces-of-infection",
    "commits-fraud",
    "communicates-with-c2",
    "compromises-data-availability",
    "compromises-data-integrity",
    "compromises-system-availability",
    "controls-local-machine",
    "degrades-security-software",
    "degrades-system-updates",
    "determines-c2-server",
    "emails-spam",
    "escalates-privileges",
    "evades-av",
    "exfiltrates-data",
    "fingerprints-host",
    "hides-artifacts",
    "hides-executing-code",
    "infects-files",
    "infects-remote-machines",
    "installs-other-components",
    "persists-after-system-reboot",
    "prevents-artifact-access",
    "prevents-artifact-deletion",
    "probes-network-environment",
    "self-modifies",
    "steals-authentication-credentials",
    "violates-system-operational-integrity",
]
THREAT_ACTOR_TYPES = [
    "activist",
    "competitor",
    "crime-syndicate",
    "criminal",
    "hacker",
    "insider-accidental",
    "insider-disgruntled",
    "nation-state",
    "sensationalist",
    "spy",
    "terrorist",
    "unknown",
]
THREAT_ACTOR_ROLES = [
    "agent",
    "director",
    "independent",
    "infrastructure-architect",
    "infrastructure-operator",
    "malware-author",
    "sponsor",
]
SOPHISTICATION = [
    "none",
    "minimal",
    "intermediate",
    "advanced",
    "expert",
    "innovator",
    "strategic",
]
RESOURCE_LEVELS = ["individual", "club", "contest", "team", "organization", "government"]
MOTIVATIONS = [
    "accidental",
    "coercion",
    "dominance",
    "ideology",
    "notoriety",
    "organizational-gain",
    "personal-gain",
    "personal-satisfaction",
    "revenge",
    "unpredictable",
]
INFRASTRUCTURE_TYPES = [
    "amplification",
    "anonymization",
    "botnet",
    "command-and-control",
    "control-system",
    "exfiltration",
    "firewall",
    "hosting-malware",
    "hosting-target-lists",
    "phishing",
    "reconnaissance",
    "routers-switches",
    "staging",
    "workstation",
    "unknown",
]
TOOL_TYPES = [
    "denial-of-service",
    "exploitation",
    "information-gathering",
    "network-capture",
    "credential-exploitation",
    "remote-access",
    "vulnerability-scanning",
    "unknown",
]
INDUSTRY_SECTORS = [
    "agriculture",
    "aerospace",
    "automotive",
    "chemical",
    "commercial",
    "communications",
    "construction",
    "defense",
    "education",
    "energy",
    "entertainment",
    "financial-services",
    "government",
    "government-emergency-services",
    "government-local",
    "government-national",
    "government-public-services",
    "government-regional",
    "healthcare",
    "hospitality-leisure",
    "infrastructure",
    "infrastructure-dams",
    "infrastructure-nuclear",
    "infrastructure-water",
    "insurance",
    "manufacturing",
    "mining",
    "non-profit",
    "pharmaceuticals",
    "retail",
    "technology",
    "telecommunications",
    "transportation",
    "utilities",
]
IDENTITY_CLASSES = ["individual", "group", "system", "organization", "class", "unknown"]
PATTERN_TYPES = ["stix", "pcre", "sigma", "snort", "suricata", "yara"]
REPORT_TYPES = [
    "attack-pattern",
    "campaign",
    "identity",
    "indicator",
    "intrusion-set",
    "malware",
    "observed-data",
    "threat-actor",
    "threat-report",
    "tool",
    "vulnerability",
]
REGIONS = [
    "africa",
    "americas",
    "asia",
    "europe",
    "eastern-europe",
    "northern-europe",
    "southern-europe",
    "western-europe",
    "middle-east",
    "northern-america",
    "oceania",
]
KILL_CHAINS = ["mitre-attack", "mitre-ics-attack", "lockheed-martin-cyber-kill-chain"]

# Relationships any two objects may have (STIX 2.1 section 5.1.1 "common relationships").
COMMON_RELATIONSHIPS = ["derived-from", "duplicate-of", "related-to"]

# STIX 2.1 Appendix B: (source type, relationship type) -> target types.
_RELATIONSHIPS: dict[tuple[str, str], list[str]] = {
    ("attack-pattern", "delivers"): ["malware"],
    ("attack-pattern", "targets"): ["identity", "location", "vulnerability"],
    ("attack-pattern", "uses"): ["malware", "tool"],
    ("campaign", "attributed-to"): ["intrusion-set", "threat-actor"],
    ("campaign", "compromises"): ["infrastructure"],
    ("campaign", "originates-from"): ["location"],
    ("campaign", "targets"): ["identity", "location", "vulnerability"],
    ("campaign", "uses"): ["attack-pattern", "infrastructure", "malware", "tool"],
    ("course-of-action", "investigates"): ["indicator"],
    ("course-of-action", "mitigates"): [
        "attack-pattern",
        "indicator",
        "malware",
        "tool",
        "vulnerability",
    ],
    ("identity", "located-at"): ["location"],
    ("indicator", "indicates"): [
        "attack-pattern",
        "campaign",
        "infrastructure",
        "intrusion-set",
        "malware",
        "threat-actor",
        "tool",
    ],
    ("infrastructure", "communicates-with"): ["infrastructure"],
    ("infrastructure", "consists-of"): ["infrastructure"],
    ("infrastructure", "controls"): ["infrastructure", "malware"],
    ("infrastructure", "delivers"): ["malware"],
    ("infrastructure", "has"): ["vulnerability"],
    ("infrastructure", "hosts"): ["tool", "malware"],
    ("infrastructure", "located-at"): ["location"],
    ("infrastructure", "uses"): ["infrastructure"],
    ("intrusion-set", "attributed-to"): ["threat-actor"],
    ("intrusion-set", "compromises"): ["infrastructure"],
    ("intrusion-set", "hosts"): ["infrastructure"],
    ("intrusion-set", "owns"): ["infrastructure"],
    ("intrusion-set", "originates-from"): ["location"],
    ("intrusion-set", "targets"): ["identity", "location", "vulnerability"],
    ("intrusion-set", "uses"): ["attack-pattern", "infrastructure", "malware", "tool"],
    ("malware", "authored-by"): ["threat-actor", "intrusion-set"],
    ("malware", "beacons-to"): ["infrastructure"],
    ("malware", "exfiltrates-to"): ["infrastructure"],
    ("malware", "communicates-with"): ["infrastructure"],
    ("malware", "controls"): ["malware"],
    ("malware", "downloads"): ["malware", "tool"],
    ("malware", "drops"): ["malware", "tool"],
    ("malware", "exploits"): ["vulnerability"],
    ("malware", "originates-from"): ["location"],
    ("malware", "targets"): ["identity", "infrastructure", "location", "vulnerability"],
    ("malware", "uses"): ["attack-pattern", "infrastructure", "malware", "tool"],
    ("malware", "variant-of"): ["malware"],
    ("threat-actor", "attributed-to"): ["identity"],
    ("threat-actor", "compromises"): ["infrastructure"],
    ("threat-actor", "hosts"): ["infrastructure"],
    ("threat-actor", "impersonates"): ["identity"],
    ("threat-actor", "located-at"): ["location"],
    ("threat-actor", "owns"): ["infrastructure"],
    ("threat-actor", "targets"): ["identity", "location", "vulnerability"],
    ("threat-actor", "uses"): ["attack-pattern", "infrastructure", "malware", "tool"],
    ("tool", "delivers"): ["malware"],
    ("tool", "drops"): ["malware"],
    ("tool", "has"): ["vulnerability"],
    ("tool", "targets"): ["identity", "infrastructure", "location", "vulnerability"],
    ("tool", "uses"): ["infrastructure"],
}


def relationship_types(source_type: str, target_type: str) -> list[str]:
    """Relationship types the spec defines from `source_type` to `target_type`, then the
    common ones."""
    specific = [
        relationship
        for (source, relationship), targets in _RELATIONSHIPS.items()
        if source == source_type and target_type in targets
    ]
    return [*specific, *COMMON_RELATIONSHIPS]


def relationship_table() -> dict[str, dict[str, list[str]]]:
    """{source type: {target type: [relationship types]}} for the form's script."""
    table: dict[str, dict[str, list[str]]] = {}
    for (source, relationship), targets in _RELATIONSHIPS.items():
        for target in targets:
            table.setdefault(source, {}).setdefault(target, []).append(relationship)
    return table


def all_relationship_types() -> list[str]:
    return sorted({relationship for _, relationship in _RELATIONSHIPS} | set(COMMON_RELATIONSHIPS))
