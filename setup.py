"""terminal-gateway: decides club-credit card transactions for a clinic chain's loyalty club."""

from setuptools import setup

setup(
    name="terminal-gateway",
    version="0.1.0",
    description="Club card transaction gateway for clinics: Club-8583 terminals, caps, durable decisions",
    python_requires=">=3.11",
    packages=[
        "terminal_gateway",
        "terminal_gateway.daemon",
        "terminal_gateway.drivers",
        "terminal_gateway.protocols",
        "terminal_gateway.protocols.club8583",
        "terminal_gateway.rules",
        "terminal_gateway.store",
        "terminal_gateway.store.migrations",
        "terminal_gateway.store.migrations.versions",
        "terminal_gateway.firmware_profiles",
        "terminal_gateway.simulators",
    ],
    package_dir={
        "terminal_gateway.firmware_profiles": "firmware_profiles",
        "terminal_gateway.simulators": "simulators",
    },
    package_data={
        "terminal_gateway.firmware_profiles": ["*.toml"],
        "terminal_gateway.store.migrations": ["script.py.mako"],
    },
    install_requires=[
        "twisted>=24.3,<27",
        "pyiso8583>=4.0,<5",
        "sqlalchemy>=2.0,<2.2",
        "alembic>=1.13,<2",
        "cryptography>=42,<49",
        "tzdata>=2024.1",
        "openpyxl>=3.1,<4",
    ],
    extras_require={
        "postgresql": ["psycopg[binary]>=3.1,<4"],
        "test": [
            "pytest>=8,<10",
            "pytest-twisted>=1.14,<2",
            "hypothesis>=6.100,<7",
            "psycopg[binary]>=3.1,<4",
            "ruff>=0.6",
        ],
    },
    entry_points={"console_scripts": ["terminal-gateway = terminal_gateway.cli:main"]},
)
